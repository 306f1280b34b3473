"""Slack: the interactivity callback that answers the gates.

A click is verified (Slack's request signature), parsed, checked against the
service's approver allowlist and handed to :func:`bluegreen.aws.decisions.decide`,
which sends at most one ``SendTaskSuccess`` / ``SendTaskFailure`` per gate.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from slack_sdk.signature import Clock, SignatureVerifier

from bluegreen.aws.config import load_service_config
from bluegreen.aws.decisions import decide
from bluegreen.domain import clock, to_previous
from bluegreen.domain.errors import AlreadyDecided, BlueGreenError, GateExpired, NotAllowed, UnknownGate
from bluegreen.domain.gates import Gate, GateKind, GateStatus, status_title
from bluegreen.domain.settings import get_settings
from bluegreen.slack.messages import USER_ID, _escape, _when, decided_text, outcome, who

if TYPE_CHECKING:
    from bluegreen.slack.client import Notifier, SlackSecrets

logger = Logger(child=True)

SIGNATURE_WINDOW = 300  # seconds; Slack's recommendation, enforced by SignatureVerifier
# to_previous: roll back to the previous release
SLACK_ACTIONS = ("approve", "reject", "finish", "rollback", "to_previous")
GATE_ID = re.compile(r"[a-z]{2}-[a-z0-9]{4,32}")


# --- requests from Slack ---------------------------------------------------------------------
class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify_request(body: str, headers: Mapping[str, str], signing_secret: str, now: float | None = None) -> bool:
    """Whether ``body`` carries a valid Slack signature made less than 5 minutes ago (header names any case)."""
    normalized = {str(k).lower(): v for k, v in (headers or {}).items()}
    timestamp = normalized.get("x-slack-request-timestamp")
    signature = normalized.get("x-slack-signature")
    if not timestamp or not signature or not str(timestamp).strip().isdigit():
        return False
    verifier = SignatureVerifier(signing_secret, clock=_FixedClock(time.time() if now is None else now))
    return verifier.is_valid(body=body or "", timestamp=str(timestamp).strip(), signature=str(signature))


def _signature_problem(headers: Mapping[str, str], now: float) -> str:
    """Why a request failed verification, for the log line (never includes the secret or the signature)."""
    normalized = {str(k).lower(): v for k, v in (headers or {}).items()}
    timestamp = str(normalized.get("x-slack-request-timestamp") or "").strip()
    if not timestamp or not normalized.get("x-slack-signature"):
        return "missing signature headers"
    if not timestamp.isdigit():
        return "malformed timestamp"
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        return "stale timestamp"
    return "signature mismatch"


class Action(NamedTuple):
    """One button click (``block_actions``)."""

    user_id: str
    user_name: str
    action_id: str
    gate_id: str
    channel_id: str
    message_ts: str
    response_url: str


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing {what}")
    return value


def parse_action(body: str) -> Action:
    """Parse Slack's ``payload=<block_actions JSON>`` form body; ``ValueError`` on anything malformed."""
    try:
        form = parse_qs(body or "", keep_blank_values=True, strict_parsing=True, max_num_fields=10)
    except ValueError as error:
        raise ValueError("body is not a form") from error
    values = form.get("payload")
    if not values or len(values) != 1:
        raise ValueError("expected exactly one 'payload' field")
    try:
        payload = json.loads(values[0])
    except ValueError as error:
        raise ValueError("payload is not JSON") from error
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise ValueError("payload is not a block_actions interaction")
    user = payload.get("user")
    if not isinstance(user, dict):
        raise ValueError("missing user")
    user_id = _text(user.get("id"), "user id")
    if not USER_ID.fullmatch(user_id):
        raise ValueError("malformed user id")
    user_name = str(user.get("username") or user.get("name") or user_id)
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise ValueError("expected exactly one action")
    action_id = _text(actions[0].get("action_id"), "action_id")
    if action_id not in SLACK_ACTIONS:
        raise ValueError("unknown action_id")
    gate_id = _text(actions[0].get("value"), "button value")
    pattern = to_previous.BUTTON_VALUE if action_id == to_previous.ACTION_ID else GATE_ID
    if not pattern.fullmatch(gate_id):
        raise ValueError("button value is not a gate id")
    channel = payload.get("channel")
    channel_id = _text(channel.get("id") if isinstance(channel, dict) else None, "channel")
    container = payload["container"] if isinstance(payload.get("container"), dict) else {}
    message = payload["message"] if isinstance(payload.get("message"), dict) else {}
    message_ts = _text(container.get("message_ts") or message.get("ts"), "message ts")
    response_url = _text(payload.get("response_url"), "response_url")
    if not response_url.startswith(("https://", "http://")):
        raise ValueError("malformed response_url")
    return Action(user_id, user_name, action_id, gate_id, channel_id, message_ts, response_url)


def default_approvers() -> list[str]:
    """The stack's fallback allowlist: comma-separated Slack user ids in ``DEFAULT_APPROVERS``."""
    return list(get_settings().defaultApprovers)


_VERBS = {
    "approve": "approve",
    "reject": "reject",
    "finish": "finish",
    "rollback": "roll back",
    "to_previous": "roll back",
}


@dataclass
class InteractionResult:
    """What the callback answers: the HTTP status, a short message and the outcome (for metrics and logs)."""

    status: int
    message: str
    outcome: str  # decided | invalid-signature | malformed | unknown | not-allowed | already-decided | expired | error
    gate_id: str | None = None
    action: str | None = None


def handle_interaction(
    body: str,
    headers: Mapping[str, str],
    *,
    store: Any,
    provider: Any,
    notifier: Notifier,
    secrets: SlackSecrets,
    approvers_fallback: Iterable[str] | None = None,
    now: float | None = None,
    defer: Callable[[FollowUp], None] | None = None,
) -> InteractionResult:
    """Answer one button click. Every validly signed request gets 200; the user sees the outcome in Slack.

    With ``defer``, the Slack calls that tell the user (message update, ephemeral reply) are handed to it
    and run after the acknowledgement (Slack waits 3 s); the decision itself is recorded and
    Step Functions told before this returns.
    """
    now = time.time() if now is None else now
    if not verify_request(body, headers, secrets.signing_secret, now):
        logger.warning("Refused a Slack request", extra={"problem": _signature_problem(headers, now)})
        return InteractionResult(401, "invalid signature", "invalid-signature")
    try:
        action = parse_action(body)
    except ValueError as error:
        logger.warning("Malformed Slack interaction", extra={"problem": str(error)})
        return InteractionResult(400, "malformed Slack interaction", "malformed")
    log = {"gateId": action.gate_id, "action": action.action_id, "user": action.user_id}

    def answer(outcome_name: str, text: str, gate: Gate | None = None) -> InteractionResult:
        job = FollowUp(response_url=action.response_url, text=text, gate_id=gate.gateId if gate else None)
        if defer is not None:
            defer(job)
        else:
            if gate is not None:
                notifier.update_gate(gate)
            notifier.respond(action.response_url, text)
        logger.info("Slack click answered", extra={**log, "outcome": outcome_name})
        return InteractionResult(200, text, outcome_name, action.gate_id, action.action_id)

    if action.action_id == to_previous.ACTION_ID:  # The button on the "deployed" message
        return _to_previous(action, store, provider, approvers_fallback, answer)
    try:
        gate = store.get_gate(action.gate_id)
        if gate is None:
            return answer("unknown", f"Gate `{action.gate_id}` is unknown or has expired. Nothing was changed.")
        try:
            _check_allowed(gate.service, action, provider, approvers_fallback)
        except NotAllowed as error:
            return answer("not-allowed", error.message)
        try:
            decision = decide(
                store, action.gate_id, action.action_id, f"slack:{action.user_id}", reason=_reason(action)
            )
        except AlreadyDecided:
            latest = store.get_gate(action.gate_id) or gate
            # The message may still show buttons (e.g. decided from the CLI): it is updated too.
            return answer("already-decided", f"{_kind_name(latest)} `{action.gate_id}` was {_already(latest)}.", latest)
        except GateExpired as error:
            latest = store.get_gate(action.gate_id) or gate
            if latest.status != GateStatus.EXPIRED:
                latest = latest.model_copy(
                    update={
                        "status": GateStatus.EXPIRED,
                        "decidedBy": "step-functions",
                        "decidedAt": clock.now().isoformat(timespec="seconds"),
                        "reason": "the deployment is no longer waiting",
                    }
                )
            return answer("expired", f"{error.message} Nothing was changed.", latest)
        except UnknownGate as error:
            return answer("unknown", f"{error.message} Nothing was changed.")
    except Exception:  # noqa: BLE001 - Slack gets 200 and a visible message; the details go to the log
        logger.exception("Slack click failed", extra=log)
        return answer(
            "error", "Something went wrong and your click may not have been applied. Try again, or use the CLI."
        )
    logger.info("Gate decided from Slack", extra={**log, "status": decision.gate.status})
    job = FollowUp(response_url=action.response_url, text=None, gate_id=action.gate_id)
    if defer is not None:
        defer(job)
    else:
        follow_up(job, store, notifier)
    return InteractionResult(200, decided_text(decision.gate), "decided", action.gate_id, action.action_id)


@dataclass
class FollowUp:
    """The slow part of answering a click, run after Slack got its answer: update the message, reply."""

    response_url: str
    text: str | None = None  # ephemeral reply; ``None`` after a decision (the updated message says it)
    gate_id: str | None = None  # the gate whose message to update

    def dump(self) -> dict[str, Any]:
        return {"responseUrl": self.response_url, "text": self.text, "gateId": self.gate_id}

    def key(self) -> str:
        """The job's identity: the same click's follow-up delivered again has the same key."""
        return hashlib.sha256(json.dumps(self.dump(), sort_keys=True).encode()).hexdigest()[:32]

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> FollowUp:
        return cls(response_url=str(data["responseUrl"]), text=data.get("text"), gate_id=data.get("gateId"))


def follow_up(job: FollowUp, store: Any, notifier: Notifier) -> None:
    """Update the gate's message from its stored state, and send the reply (or say the update failed).

    A redelivered job (Lambda's async queue may deliver twice; ``bluegreen events replay`` re-sends a kept
    failure) updates the message again, which is harmless, but does not reply twice: a sent reply is marked.
    """
    gate = store.get_gate(job.gate_id) if job.gate_id else None
    updated = notifier.update_gate(gate) if gate else True
    mark = ("FOLLOWUP#" + job.key(), "DONE")
    if _marked(store, mark):
        return
    if job.text:
        notifier.respond(job.response_url, job.text)
    elif gate and not updated:
        notifier.respond(job.response_url, f"{outcome(gate)} (the message could not be updated).")
    try:
        if hasattr(store, "once"):
            store.once(*mark)
    except Exception:  # noqa: BLE001 - the reply is sent; a missing mark only risks a second reply on a replay
        logger.warning("Could not mark the Slack follow-up as sent")


def _marked(store: Any, mark: tuple[str, str]) -> bool:
    """Whether this follow-up was sent before; unknown (the table failing) counts as not: the reply matters more."""
    try:
        return bool(store.done_before(*mark)) if hasattr(store, "done_before") else False
    except Exception:  # noqa: BLE001 - e.g. the table cannot be read: the user must still be told
        logger.warning("Could not check whether the Slack follow-up was sent before")
        return False


# --- a click on "Roll back to previous" -----------------------------------------------------
def _to_previous(
    action: Action,
    store: Any,
    provider: Any,
    fallback: Iterable[str] | None,
    answer: Callable[[str, str], InteractionResult],
) -> InteractionResult:
    """A click on *Roll back to previous*: same refusals as ``bluegreen rollback --to-previous``."""
    match = to_previous.BUTTON_VALUE.fullmatch(action.gate_id)
    if match is None:  # parse_action checked it; kept for the type checker
        return answer("malformed", "Malformed button value. Nothing was started.")
    service, execution = match["service"], match["execution"]
    try:
        _check_allowed(service, action, provider, fallback)
    except NotAllowed as error:
        return answer("not-allowed", error.message)
    try:
        chosen = to_previous.plan(store, service, store.is_running, expected_live=execution)
        if isinstance(chosen, to_previous.Refusal):
            return answer("refused", f"Cannot roll back: {_escape(chosen.message)}. Nothing was started.")
        tag = chosen.previous.imageTag if chosen.previous.imageTag != "?" else "previous"
        state_machine = get_settings().require("STATE_MACHINE_ARN").stateMachineArn
        arn = to_previous.start(store.sfn, state_machine, service, chosen, tag, f"slack:{action.user_id}")
    except Exception:  # noqa: BLE001 - Slack gets 200 and a visible message; the details go to the log
        logger.exception("Slack rollback to previous failed", extra={"service": service})
        return answer(
            "error", "Something went wrong; nothing may have started. Use `bluegreen rollback --to-previous`."
        )
    return answer(
        "rollback-started",
        f"Rolling *{_escape(service)}* back to {_escape(tag)} (approval skipped): {arn.rsplit(':', 1)[-1]}.",
    )


def _reason(action: Action) -> str:
    return f"via Slack (@{action.user_name})"


def _kind_name(gate: Gate) -> str:
    try:
        return GateKind(str(gate.kind)).noun
    except ValueError:
        return "Gate"


def _already(gate: Gate) -> str:
    status = str(gate.status)
    word = status_title(status).lower()
    by = who(gate.decidedBy)
    return f"already {word}" + (f" by {by}" if by else "") + f" at {_when(gate.decidedAt)}"


def _check_allowed(service: str, action: Action, provider: Any, fallback: Iterable[str] | None) -> None:
    """Raise :class:`NotAllowed` unless the user is on the service's approvers (or the stack's default list)."""
    try:
        config = load_service_config(service, provider)
    except BlueGreenError as error:
        logger.warning("Cannot read the approvers of a service", extra={"service": service, "error": error.message})
        raise NotAllowed(
            f"Cannot check who may answer gates of *{_escape(service)}* right now ({type(error).__name__}). "
            f"Nothing was changed."
        ) from error
    approvers = list(config.approval.approvers) or list(default_approvers() if fallback is None else fallback)
    if action.user_id in approvers:
        return
    logger.warning("Slack user not on the approver list", extra={"service": service, "user": action.user_id})
    verb = _VERBS[action.action_id]
    if not approvers:
        raise NotAllowed(
            f"Nobody may {verb} deployments of *{_escape(service)}* from Slack: no approvers are configured. "
            f"Nothing was changed."
        )
    listed = ", ".join(f"<@{user}>" for user in approvers[:10])
    raise NotAllowed(
        f"You are not allowed to {verb} deployments of *{_escape(service)}*. Ask one of {listed}. Nothing was changed."
    )
