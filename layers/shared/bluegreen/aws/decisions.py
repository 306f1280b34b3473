"""Answering a gate: approve / reject an approval, finish / roll back a bake or keep-old hold.

Slack, the CLI and the alarm handler all come here. The gate moves out of PENDING
with a conditional write first, so only one caller ever sends ``SendTaskSuccess``
or ``SendTaskFailure``: a second click, a second user or a replayed request gets
``AlreadyDecided`` and causes no Step Functions call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.aws.store import Store, new_gate_id
from bluegreen.domain import clock
from bluegreen.domain.errors import AlreadyDecided, GateExpired, TransientAwsError, UnknownGate
from bluegreen.domain.gates import Gate, GateKind, GateStatus
from bluegreen.domain.limits import MAX_REASON, SFN_CAUSE_MAX

# action -> (gate kinds it applies to, final gate status, Step Functions outcome)
ACTIONS: dict[str, tuple[tuple[GateKind, ...], GateStatus, str]] = {
    "approve": ((GateKind.APPROVAL,), GateStatus.APPROVED, "success"),
    "reject": ((GateKind.APPROVAL,), GateStatus.REJECTED, "Rejected"),
    "finish": ((GateKind.KEEP_OLD,), GateStatus.FINISHED, "success"),
    "rollback": ((GateKind.BAKE, GateKind.KEEP_OLD), GateStatus.ROLLED_BACK, "ManualRollback"),
    "alarm": ((GateKind.BAKE,), GateStatus.ALARM, "AlarmTriggered"),
}
_ELLIPSIS = "… (truncated)"


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist")


@dataclass
class Decision:
    gate: Gate
    action: str
    actor: str
    reason: str


def describe_decided(gate: Gate) -> str:
    return f"already {gate.status.word} by {gate.decidedBy or 'unknown'} at {gate.decidedAt or '?'}"


# --- opening a gate --------------------------------------------------------------------------------
class Supersede(Enum):
    """What opening a gate does with the service's pending gate."""

    NOTHING = "nothing"  # no pending gate of this execution: just open the new one
    REUSE = "reuse"  # the same task retried (same token): it is the same gate
    PASS = "pass"  # the deployment moved on (bake after a traffic step, keep-old after the bake): that one passed


def supersede(pending: Gate | None, execution_arn: str, task_token: str) -> Supersede:
    """The rule for the service's pending gate when an execution opens a gate (pure)."""
    if pending is None or pending.executionArn != execution_arn:
        return Supersede.NOTHING
    return Supersede.REUSE if pending.taskToken == task_token else Supersede.PASS


def open_gate(
    store: Store,
    kind: GateKind,
    service: str,
    execution_arn: str,
    task_token: str,
    timeout_seconds: int,
    details: dict[str, Any],
    alarm_names: list[str] | None = None,
) -> Gate:
    """Open a pending gate for the task ``task_token``, superseding the execution's previous gate."""
    existing = store.open_gate_of(service)
    rule = supersede(existing, execution_arn, task_token)
    if existing is not None and rule is Supersede.REUSE:
        return existing
    if existing is not None and rule is Supersede.PASS:
        store.decide(existing.gateId, GateStatus.PASSED, "step-functions", f"{kind} started")
    now = clock.now()
    gate = Gate.model_validate(
        {
            **details,
            "gateId": new_gate_id(kind),
            "kind": kind,
            "service": service,
            "executionArn": execution_arn,
            "taskToken": task_token,
            "status": GateStatus.PENDING,
            "createdAt": now.isoformat(timespec="seconds"),
            "expiresAt": (now + timedelta(seconds=timeout_seconds)).isoformat(timespec="seconds"),
            "alarmNames": alarm_names or [],
        }
    )
    return store.create_gate(gate)


def decide(store: Store, gate_id: str, action: str, actor: str, reason: str = "") -> Decision:
    kinds, status, outcome = ACTIONS[action]
    reason = bounded(reason, MAX_REASON)
    gate = store.get_gate(gate_id)
    if gate is None or gate.kind not in kinds:
        raise UnknownGate(f"No {' or '.join(kinds)} gate with id {gate_id}: it is unknown or has expired.")
    if not gate.pending:
        raise AlreadyDecided(f"{gate.kind.capitalize()} {gate_id} was {describe_decided(gate)}.")
    if clock.now().isoformat(timespec="seconds") > gate.expiresAt:
        store.decide(gate_id, GateStatus.EXPIRED, "timeout", "expired")
        raise GateExpired(f"{gate.kind.capitalize()} {gate_id} expired at {gate.expiresAt}.")
    decided = store.decide(gate_id, status, actor, reason)
    if decided is None:
        latest = store.get_gate(gate_id) or gate
        raise AlreadyDecided(f"{gate.kind.capitalize()} {gate_id} was {describe_decided(latest)}.")
    try:
        with transient_errors():
            if outcome == "success":
                decided_at = decided.decidedAt or ""
                output: dict[str, Any] = {
                    "action": action,
                    "decidedBy": actor,
                    "decidedAt": decided_at,
                    "reason": reason,
                }
                created = datetime.fromisoformat(decided.createdAt)
                output["waitedSeconds"] = int((datetime.fromisoformat(decided_at) - created).total_seconds())
                if decided.notificationError:  # reported in the execution's history
                    output["notificationError"] = decided.notificationError
                store.sfn.send_task_success(taskToken=gate.taskToken, output=json.dumps(output))
            else:
                store.sfn.send_task_failure(
                    taskToken=gate.taskToken, error=outcome, cause=_cause(action, actor, reason)
                )
    except ClientError as error:
        if error_code(error) in _GONE:
            store.undo_decision(gate_id, status, actor, GateStatus.EXPIRED)
            raise GateExpired(f"The deployment behind {gate_id} is no longer waiting ({error_code(error)}).") from error
        # Step Functions did not take the answer: reopen the gate so the same click can be retried.
        store.undo_decision(gate_id, status, actor)
        raise
    except TransientAwsError:
        store.undo_decision(gate_id, status, actor)
        raise
    return Decision(gate=decided, action=action, actor=actor, reason=reason)


def _cause(action: str, actor: str, reason: str) -> str:
    text = {
        "reject": f"Rejected by {actor}",
        "rollback": f"Rollback requested by {actor}",
        "alarm": f"Alarm {actor.removeprefix('alarm:')} went to ALARM",
    }[action]
    return bounded(f"{text}: {reason}" if reason else text, SFN_CAUSE_MAX)
