"""Slack: gate messages with buttons, and the interactivity callback that answers the gates.

Buttons carry only the gate id; the task token stays in the deployments table.
A click is verified (Slack's request signature), parsed, checked against the
service's approver allowlist and handed to :func:`bluegreen.decisions.decide`,
which sends at most one ``SendTaskSuccess`` / ``SendTaskFailure`` per gate.

Secrets (bot token, signing secret) come from Secrets Manager and are never
logged. Posting a gate's message raises when Slack fails (the caller retries);
updating it, thread notes and ephemeral replies are best effort and never raise.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryIntervalCalculator,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from . import clock, to_previous
from .config import load_service_config
from .decisions import decide
from .errors import AlreadyDecided, BlueGreenError, GateExpired, NotAllowed, UnknownGate

logger = Logger(child=True)

DEFAULT_API_URL = "https://slack.com/api/"
SECRET_MAX_AGE = 300
SIGNATURE_WINDOW = 300  # seconds; Slack's recommendation, enforced by SignatureVerifier
SLACK_ACTIONS = ("approve", "reject", "finish", "rollback", "to_previous")  # to_previous: issue #15
GATE_ID = re.compile(r"[a-z]{2}-[a-z0-9]{4,32}")
USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
MAX_BUTTON_VALUE = 2000  # Slack's limit on a button's value

# Slack error codes worth retrying (besides HTTP 429 and 5xx).
TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)


# --- errors --------------------------------------------------------------------------------
class SlackError(BlueGreenError):
    """Posting a gate's message to Slack failed."""


class SlackUnavailable(SlackError):
    """Slack was unreachable, rate limited or failed server-side; safe to retry."""


class SlackRefused(SlackError):
    """Slack refused the message (unknown channel, bot not in channel, bad token...); retrying will not help."""


# --- secrets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlackSecrets:
    """The Slack app's credentials. ``repr`` never shows them."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)


def get_slack_secrets(name: str | None = None, max_age: int = SECRET_MAX_AGE) -> SlackSecrets:
    """Read ``{"botToken": ..., "signingSecret": ...}`` from the secret named by ``SLACK_SECRET_NAME``.

    Cached by Powertools for ``max_age`` seconds in a warm Lambda.
    """
    name = name or os.environ.get("SLACK_SECRET_NAME", "")
    if not name:
        raise SlackRefused("Slack is not configured: SLACK_SECRET_NAME is empty")
    value = parameters.get_secret(name, transform="json", max_age=max_age)
    if not isinstance(value, dict) or not value.get("botToken") or not value.get("signingSecret"):
        # Name the missing keys only, never the values.
        raise ValueError(f"Secret {name} must be JSON with non-empty 'botToken' and 'signingSecret'")
    return SlackSecrets(bot_token=str(value["botToken"]), signing_secret=str(value["signingSecret"]))


# --- clients -------------------------------------------------------------------------------
def retry_handlers(max_retries: int = 2, interval: RetryIntervalCalculator | None = None) -> list[RetryHandler]:
    """Retry rate limits (429, after Retry-After), connection errors and 500/503 responses."""
    kwargs: dict[str, Any] = {"interval_calculator": interval} if interval else {}
    return [
        RateLimitErrorRetryHandler(max_retry_count=1),
        ConnectionErrorRetryHandler(max_retry_count=max_retries, **kwargs),
        ServerErrorRetryHandler(max_retry_count=max_retries, **kwargs),
    ]


def _retry_interval(interval: RetryIntervalCalculator | None) -> RetryIntervalCalculator | None:
    """``interval``, else a fixed ``SLACK_RETRY_INTERVAL`` (seconds) when set, else slack_sdk's backoff."""
    if interval is None and os.environ.get("SLACK_RETRY_INTERVAL"):
        interval = FixedValueRetryIntervalCalculator(float(os.environ["SLACK_RETRY_INTERVAL"]))
    return interval


def web_client(
    token: str | None = None,
    *,
    base_url: str | None = None,
    timeout: int = 5,
    max_retries: int = 2,
    retry_interval: RetryIntervalCalculator | None = None,
) -> WebClient:
    """A Slack Web API client with retries; the token defaults to the bot token from Secrets Manager.

    ``SLACK_API_URL`` points it at another Web API (the emulator's fake Slack, which also sets
    ``SLACK_RETRY_INTERVAL``).
    """
    return WebClient(
        token=token if token is not None else get_slack_secrets().bot_token,
        base_url=base_url or os.environ.get("SLACK_API_URL") or DEFAULT_API_URL,
        timeout=timeout,
        retry_handlers=retry_handlers(max_retries, _retry_interval(retry_interval)),
    )


def webhook_client(
    url: str, *, timeout: int = 3, retry_interval: RetryIntervalCalculator | None = None
) -> WebhookClient:
    """A client for a ``response_url`` (or an incoming webhook), with the same retries."""
    return WebhookClient(url, timeout=timeout, retry_handlers=retry_handlers(1, _retry_interval(retry_interval)))


# --- Block Kit -----------------------------------------------------------------------------
_BUTTONS: dict[str, list[tuple[str, str, str]]] = {
    "approval": [("approve", "Approve", "primary"), ("reject", "Reject", "danger")],
    "bake": [("rollback", "Roll back", "danger")],
    "keep-old": [("finish", "Finish", "primary"), ("rollback", "Roll back", "danger")],
}
_CONFIRM = {
    "reject": ("Reject?", "The deployment of *{service}* `{tag}` stops and green is deleted.", "Reject"),
    "rollback": ("Roll back?", "Production of *{service}* goes back to the previous version.", "Roll back"),
}
_TITLES = {"approval": "Approval needed", "bake": "Baking", "keep-old": "Old version kept"}
_OUTCOMES = {
    "APPROVED": "Approved",
    "REJECTED": "Rejected",
    "FINISHED": "Finished",
    "ROLLED_BACK": "Rolled back",
    "EXPIRED": "Expired",
    "ALARM": "Rolled back by an alarm",
    "PASSED": "Bake passed",
}


def _escape(text: Any) -> str:
    """Escape user-controlled text for mrkdwn (``&``, ``<``, ``>``)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _when(iso: str | None) -> str:
    """A Slack date token (shown in each reader's time zone), falling back to the ISO text."""
    if not iso:
        return "an unknown time"
    try:
        epoch = int(datetime.fromisoformat(str(iso)).timestamp())
    except ValueError:
        return _escape(iso)
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{_escape(iso)}>"


def who(actor: str | None) -> str | None:
    """How an actor reads in Slack: ``slack:U123`` mentions the user; ``None`` for the workflow itself."""
    if not actor or actor in ("timeout", "step-functions"):
        return None
    if actor.startswith("slack:") and USER_ID.fullmatch(actor.removeprefix("slack:")):
        return f"<@{actor.removeprefix('slack:')}>"
    if actor.startswith("alarm:"):
        return f"alarm `{_escape(actor.removeprefix('alarm:'))}`"
    return f"`{_escape(actor)}`"


def _seconds(value: Any) -> int | None:
    if isinstance(value, int | float | Decimal):
        return int(value)
    return None


def _bake_seconds(gate: Mapping[str, Any]) -> int | None:
    seconds = _seconds(gate.get("bakeSeconds"))
    if seconds is None and gate.get("createdAt") and gate.get("expiresAt"):
        try:
            delta = datetime.fromisoformat(gate["expiresAt"]) - datetime.fromisoformat(gate["createdAt"])
            seconds = int(delta.total_seconds())
        except ValueError:
            return None
    return seconds


def _tag(gate: Mapping[str, Any]) -> str:
    return str(gate.get("imageTag") or "?")


def _headline(gate: Mapping[str, Any]) -> str:
    service, tag = _escape(gate.get("service", "?")), _escape(_tag(gate))
    kind = gate.get("kind")
    if kind == "approval":
        return (
            f"Green `{tag}` of *{service}* is healthy behind the test rule. "
            f"Approve to switch production to it, or reject to stop the deployment."
        )
    if kind == "bake":
        seconds = _bake_seconds(gate)
        line = f"Swapped: production on `{tag}`, baking {seconds if seconds is not None else '?'} s."
        alarms = gate.get("alarmNames") or []
        if alarms:
            line += " Watching " + ", ".join(f"`{_escape(name)}`" for name in alarms) + "."
        return line
    return (
        f"Bake passed: production of *{service}* stays on `{tag}`. "
        f"The old version is kept behind the test rule until Finish or Roll back."
    )


def _summary(gate: Mapping[str, Any], title: str) -> list[dict[str, Any]]:
    service, tag = str(gate.get("service", "?")), _tag(gate)
    fields = [_mrkdwn(f"*Service*\n{_escape(service)}"), _mrkdwn(f"*Image tag*\n`{_escape(tag)}`")]
    if gate.get("imageDigest"):
        fields.append(_mrkdwn(f"*Digest*\n`{_escape(gate['imageDigest'])}`"))
    url = str(gate.get("testUrl") or "")
    if url.startswith(("https://", "http://")):
        fields.append(_mrkdwn(f"*Test URL*\n<{_escape(url)}|{_escape(url)}>"))
    requester = gate.get("requestedBy") or gate.get("requester")
    if requester:
        fields.append(_mrkdwn(f"*Started by*\n{who(str(requester)) or _escape(requester)}"))
    if gate.get("executionName"):
        fields.append(_mrkdwn(f"*Execution*\n`{_escape(gate['executionName'])}`"))
    context = [_mrkdwn(f"Gate `{_escape(gate.get('gateId', '?'))}`")]
    if gate.get("expiresAt"):
        context.append(_mrkdwn(f"Waits until {_when(gate['expiresAt'])}"))
    return [
        {"type": "header", "text": _plain(f"{title}: {service} {tag}")},
        {"type": "section", "text": _mrkdwn(_headline(gate)), "fields": fields[:10]},
        {"type": "context", "elements": context},
    ]


def _button(gate: Mapping[str, Any], action: str, label: str, style: str) -> dict[str, Any]:
    gate_id = str(gate["gateId"])
    if len(gate_id) > MAX_BUTTON_VALUE:
        raise ValueError("gate id too long for a Slack button value")
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "text": _plain(label, 75),
        "value": gate_id,  # the gate id only: never the task token
        "style": style,
    }
    if action in _CONFIRM:
        title, text, confirm = _CONFIRM[action]
        button["confirm"] = {
            "title": _plain(title, 100),
            "text": _mrkdwn(text.format(service=_escape(gate.get("service", "?")), tag=_escape(_tag(gate))), 300),
            "confirm": _plain(confirm, 30),
            "deny": _plain("Cancel", 30),
        }
    return button


def gate_blocks(gate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The message of a pending gate: summary and its buttons (approve/reject, roll back, finish/roll back)."""
    kind = gate["kind"]
    buttons = [_button(gate, action, label, style) for action, label, style in _BUTTONS[kind]]
    return [
        *_summary(gate, _TITLES[kind]),
        {"type": "actions", "block_id": f"gate-{gate['gateId']}", "elements": buttons},
    ]


def outcome(gate: Mapping[str, Any]) -> str:
    """One line: ``*Approved* by <@U123> at <time>`` (with the reason when there is one)."""
    status = str(gate.get("status", "?"))
    word = _OUTCOMES.get(status, status.replace("_", " ").capitalize())
    by = who(gate.get("decidedBy"))
    line = f"*{word}*" + (f" by {by}" if by else "") + f" at {_when(gate.get('decidedAt'))}"
    reason = str(gate.get("reason") or "").strip()
    if reason and reason.lower() != word.lower():
        line += f": {_escape(reason)}"
    return line


def decided_blocks(gate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The message of a decided gate: same summary, no buttons, who decided and when."""
    title = _OUTCOMES.get(str(gate.get("status")), _TITLES.get(str(gate.get("kind")), "Gate"))
    return [*_summary(gate, title), {"type": "section", "text": _mrkdwn(outcome(gate))}]


def gate_text(gate: Mapping[str, Any]) -> str:
    """Notification text of a gate's message (what push notifications and screen readers show)."""
    title = _TITLES.get(str(gate.get("kind")), "Gate")
    return f"{title}: {gate.get('service', '?')} {_tag(gate)} ({gate.get('gateId', '?')})"


def decided_text(gate: Mapping[str, Any]) -> str:
    status = str(gate.get("status", "?"))
    word = _OUTCOMES.get(status, status.replace("_", " ").capitalize())
    return f"{word}: {gate.get('service', '?')} {_tag(gate)} ({gate.get('gateId', '?')})"


# --- posting ---------------------------------------------------------------------------------
def _post_error(method: str, error: Exception) -> SlackError:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        code = error.response.get("error", "") if hasattr(error.response, "get") else ""
        text = f"Slack {method} failed: {code or 'HTTP ' + str(status)}"
        if status == 429 or status >= 500 or code in TRANSIENT_SLACK_ERRORS:
            return SlackUnavailable(text)
        return SlackRefused(text)
    return SlackUnavailable(f"Slack {method} failed: {type(error).__name__}: {error}")


class Notifier:
    """Posts and updates gate messages. Only :meth:`post_gate` raises; the rest is best effort."""

    def __init__(
        self,
        client: WebClient | None = None,
        *,
        client_factory: Callable[[], WebClient] | None = None,
        webhook_factory: Callable[[str], WebhookClient] | None = None,
    ) -> None:
        self._client = client
        self._client_factory = client_factory or web_client
        self._webhook_factory = webhook_factory or webhook_client

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def post_gate(self, gate: Mapping[str, Any]) -> tuple[str, str]:
        """Post the gate's message with its buttons to the gate's channel; returns ``(channel id, ts)``.

        Raises :class:`SlackUnavailable` (retry) or :class:`SlackRefused` (fix the configuration).
        """
        channel = gate.get("channel")
        if not channel:
            raise SlackRefused(f"Gate {gate.get('gateId')} has no Slack channel")
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=gate_text(gate), blocks=gate_blocks(gate), unfurl_links=False, unfurl_media=False
            )
        except SlackError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a typed, retryable error
            raise _post_error("chat.postMessage", error) from error
        return str(response["channel"]), str(response["ts"])

    def update_gate(self, gate: Mapping[str, Any]) -> bool:
        """Replace the gate's message by its decided form (no buttons). Never raises; ``False`` on failure."""
        channel, ts = gate.get("channel"), gate.get("ts")
        if not channel or not ts:
            logger.info("Gate has no Slack message to update", extra={"gateId": gate.get("gateId")})
            return False
        try:
            self.client.chat_update(channel=channel, ts=ts, text=decided_text(gate), blocks=decided_blocks(gate))
            return True
        except Exception as error:  # noqa: BLE001 - best effort: Slack never blocks a decision
            logger.warning("Slack chat.update failed", extra={"gateId": gate.get("gateId"), "error": _describe(error)})
            return False

    def note(self, channel: str, thread_ts: str | None, text: str) -> str | None:
        """Post ``text`` (in the thread of ``thread_ts`` if given); returns the new message's ts. Never raises."""
        try:
            response = self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False, unfurl_media=False
            )
            return str(response["ts"])
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack chat.postMessage failed", extra={"channel": channel, "error": _describe(error)})
            return None

    def post_blocks(self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]]) -> str | None:
        """Post a message with ``blocks`` (e.g. a button) in the thread; returns its ts. Never raises."""
        try:
            response = self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
            return str(response["ts"])
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack chat.postMessage failed", extra={"channel": channel, "error": _describe(error)})
            return None

    def respond(self, response_url: str, text: str) -> bool:
        """Answer a click with a message only the clicking user sees. Never raises."""
        try:
            response = self._webhook_factory(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if response.status_code != 200:
                logger.warning("Slack response_url refused the reply", extra={"status": response.status_code})
                return False
            return True
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack response_url failed", extra={"error": type(error).__name__})
            return False


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", "?")
        code = error.response.get("error", "") if hasattr(error.response, "get") else ""
        return f"SlackApiError {status} {code}".strip()
    return f"{type(error).__name__}: {error}"


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
    gate_id = _text(actions[0].get("value"), "button value")  # to_previous: "service|execution name"
    pattern = to_previous.BUTTON_VALUE if action_id == to_previous.ACTION_ID else GATE_ID
    if not pattern.fullmatch(gate_id):
        raise ValueError("button value is not a gate id")
    channel = payload.get("channel")
    channel_id = _text(channel.get("id") if isinstance(channel, dict) else None, "channel")
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    message_ts = _text(container.get("message_ts") or message.get("ts"), "message ts")
    response_url = _text(payload.get("response_url"), "response_url")
    if not response_url.startswith(("https://", "http://")):
        raise ValueError("malformed response_url")
    return Action(user_id, user_name, action_id, gate_id, channel_id, message_ts, response_url)


def default_approvers() -> list[str]:
    """The stack's fallback allowlist: comma-separated Slack user ids in ``DEFAULT_APPROVERS``."""
    return [item.strip() for item in os.environ.get("DEFAULT_APPROVERS", "").split(",") if item.strip()]


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
) -> InteractionResult:
    """Answer one button click. Every validly signed request gets 200; the user sees the outcome in Slack."""
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

    def answer(outcome_name: str, text: str) -> InteractionResult:
        notifier.respond(action.response_url, text)
        logger.info("Slack click answered", extra={**log, "outcome": outcome_name})
        return InteractionResult(200, text, outcome_name, action.gate_id, action.action_id)

    if action.action_id == to_previous.ACTION_ID:
        return _to_previous(action, store, provider, approvers_fallback, answer)
    try:
        gate = store.get_gate(action.gate_id)
        if gate is None:
            return answer("unknown", f"Gate `{action.gate_id}` is unknown or has expired. Nothing was changed.")
        try:
            _check_allowed(gate, action, provider, approvers_fallback)
        except NotAllowed as error:
            return answer("not-allowed", error.message)
        try:
            decision = decide(
                store, action.gate_id, action.action_id, f"slack:{action.user_id}", reason=_reason(action)
            )
        except AlreadyDecided:
            latest = store.get_gate(action.gate_id) or gate
            notifier.update_gate(latest)  # the message may still show buttons (e.g. decided from the CLI)
            return answer("already-decided", f"{_kind_name(latest)} `{action.gate_id}` was {_already(latest)}.")
        except GateExpired as error:
            latest = store.get_gate(action.gate_id) or gate
            if latest.get("status") != "EXPIRED":
                latest = {
                    **latest,
                    "status": "EXPIRED",
                    "decidedBy": "step-functions",
                    "decidedAt": clock.now().isoformat(timespec="seconds"),
                    "reason": "the deployment is no longer waiting",
                }
            notifier.update_gate(latest)
            return answer("expired", f"{error.message} Nothing was changed.")
        except UnknownGate as error:
            return answer("unknown", f"{error.message} Nothing was changed.")
    except Exception:  # noqa: BLE001 - Slack gets 200 and a visible message; the details go to the log
        logger.exception("Slack click failed", extra=log)
        return answer(
            "error", "Something went wrong and your click may not have been applied. Try again, or use the CLI."
        )
    updated = notifier.update_gate(decision.gate)
    logger.info("Gate decided from Slack", extra={**log, "status": decision.gate.get("status")})
    if not updated:
        notifier.respond(action.response_url, f"{outcome(decision.gate)} (the message could not be updated).")
    return InteractionResult(200, decided_text(decision.gate), "decided", action.gate_id, action.action_id)


# --- issue #15: the "Roll back to previous" button on the deployed message ------------------------------
def to_previous_blocks(text: str, service: str, execution_name: str, previous_tag: str) -> list[dict[str, Any]]:
    """The "deployed" message with its *Roll back to <previous>* button."""
    return [
        {"type": "section", "text": _mrkdwn(_escape(text))},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": to_previous.ACTION_ID,
                    "text": _plain(f"Roll back to {previous_tag}"),
                    "value": to_previous.button_value(service, execution_name),
                    "style": "danger",
                    "confirm": {
                        "title": _plain("Roll back?"),
                        "text": _plain(
                            f"Deploy {previous_tag} again (health gate, swap, bake; no approval).", limit=300
                        ),
                        "confirm": _plain("Roll back"),
                        "deny": _plain("Cancel"),
                    },
                }
            ],
        },
    ]


def _to_previous(
    action: Action,
    store: Any,
    provider: Any,
    fallback: Iterable[str] | None,
    answer: Callable[[str, str], InteractionResult],
) -> InteractionResult:
    """A click on *Roll back to previous*: same refusals as ``bluegreen rollback --to-previous``."""
    match = to_previous.BUTTON_VALUE.fullmatch(action.gate_id)
    service, execution = match["service"], match["execution"]
    try:
        _check_allowed({"service": service}, action, provider, fallback)
    except NotAllowed as error:
        return answer("not-allowed", error.message)
    try:
        chosen = to_previous.plan(store, service, store.is_running, expected_live=execution)
        if isinstance(chosen, to_previous.Refusal):
            return answer("refused", f"Cannot roll back: {_escape(chosen.message)}. Nothing was started.")
        tag = chosen.previous.imageTag if chosen.previous.imageTag != "?" else "previous"
        arn = to_previous.start(
            store.sfn, os.environ["STATE_MACHINE_ARN"], service, chosen, tag, f"slack:{action.user_id}"
        )
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


def _kind_name(gate: Mapping[str, Any]) -> str:
    return {"approval": "Approval", "bake": "Bake", "keep-old": "Keep-old hold"}.get(str(gate.get("kind")), "Gate")


def _already(gate: Mapping[str, Any]) -> str:
    status = str(gate.get("status", "?"))
    word = _OUTCOMES.get(status, status.replace("_", " ").capitalize()).lower()
    by = who(gate.get("decidedBy"))
    return f"already {word}" + (f" by {by}" if by else "") + f" at {_when(gate.get('decidedAt'))}"


def _check_allowed(gate: Mapping[str, Any], action: Action, provider: Any, fallback: Iterable[str] | None) -> None:
    """Raise :class:`NotAllowed` unless the user is on the service's approvers (or the stack's default list)."""
    service = str(gate.get("service"))
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
