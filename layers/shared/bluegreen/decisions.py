"""Answering a gate: approve / reject an approval, finish / roll back a bake or keep-old hold.

Slack, the CLI and the alarm handler all come here. The gate moves out of PENDING
with a conditional write first, so only one caller ever sends ``SendTaskSuccess``
or ``SendTaskFailure``: a second click, a second user or a replayed request gets
``AlreadyDecided`` and causes no Step Functions call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from . import clock
from .aws import error_code, transient_errors
from .errors import AlreadyDecided, GateExpired, TransientAwsError, UnknownGate
from .store import Store

# action -> (gate kinds it applies to, final gate status, Step Functions outcome)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "approve": (("approval",), "APPROVED", "success"),
    "reject": (("approval",), "REJECTED", "Rejected"),
    "finish": (("keep-old",), "FINISHED", "success"),
    "rollback": (("bake", "keep-old"), "ROLLED_BACK", "ManualRollback"),
    "alarm": (("bake",), "ALARM", "AlarmTriggered"),
}
# Issue 11: Step Functions refuses a SendTaskFailure cause over 32,768 characters (error: 256). A reason is
# recorded with the gate, in the cause and in the approval's output: bounded where it enters (CLI, Slack).
MAX_REASON = 1000
SFN_CAUSE_MAX = 32_768
_ELLIPSIS = "… (truncated)"


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


_GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist")


@dataclass
class Decision:
    gate: dict[str, Any]
    action: str
    actor: str
    reason: str


def describe_decided(gate: dict[str, Any]) -> str:
    status = gate["status"].lower().replace("_", " ")
    return f"already {status} by {gate.get('decidedBy', 'unknown')} at {gate.get('decidedAt', '?')}"


def decide(store: Store, gate_id: str, action: str, actor: str, reason: str = "") -> Decision:
    kinds, status, outcome = ACTIONS[action]
    reason = bounded(reason, MAX_REASON)
    gate = store.get_gate(gate_id)
    if gate is None or gate["kind"] not in kinds:
        raise UnknownGate(f"No {' or '.join(kinds)} gate with id {gate_id}: it is unknown or has expired.")
    if gate["status"] != "PENDING":
        raise AlreadyDecided(f"{gate['kind'].capitalize()} {gate_id} was {describe_decided(gate)}.")
    if clock.now().isoformat(timespec="seconds") > gate["expiresAt"]:
        store.decide(gate_id, "EXPIRED", "timeout", "expired")
        raise GateExpired(f"{gate['kind'].capitalize()} {gate_id} expired at {gate['expiresAt']}.")
    decided = store.decide(gate_id, status, actor, reason)
    if decided is None:
        latest = store.get_gate(gate_id) or gate
        raise AlreadyDecided(f"{gate['kind'].capitalize()} {gate_id} was {describe_decided(latest)}.")
    try:
        with transient_errors():
            if outcome == "success":
                output = {"action": action, "decidedBy": actor, "decidedAt": decided["decidedAt"], "reason": reason}
                created = datetime.fromisoformat(decided["createdAt"])
                output["waitedSeconds"] = int((datetime.fromisoformat(decided["decidedAt"]) - created).total_seconds())
                if decided.get("notificationError"):  # reported in the execution's history
                    output["notificationError"] = decided["notificationError"]
                store.sfn.send_task_success(taskToken=gate["taskToken"], output=json.dumps(output))
            else:
                store.sfn.send_task_failure(
                    taskToken=gate["taskToken"], error=outcome, cause=_cause(action, actor, reason)
                )
    except ClientError as error:
        if error_code(error) in _GONE:
            store.undo_decision(gate_id, status, actor, "EXPIRED")
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
