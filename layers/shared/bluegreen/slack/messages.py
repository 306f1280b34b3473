"""Slack: the Block Kit of gate messages (pending with buttons, decided without), pure functions.

Buttons carry only the gate id; the task token stays in the deployments table.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from bluegreen.domain.gates import Gate, GateKind, GateStatus, status_title

USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
MAX_BUTTON_VALUE = 2000  # Slack's limit on a button's value


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


def _title(kind: Any, default: str = "Gate") -> str:
    try:
        return GateKind(str(kind)).slack_title
    except ValueError:
        return default


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


def _bake_seconds(gate: Gate) -> int | None:
    seconds = _seconds(gate.bakeSeconds)
    if seconds is None and gate.createdAt and gate.expiresAt:
        try:
            delta = datetime.fromisoformat(gate.expiresAt) - datetime.fromisoformat(gate.createdAt)
            seconds = int(delta.total_seconds())
        except ValueError:
            return None
    return seconds


def _tag(gate: Gate) -> str:
    return str(gate.imageTag or "?")


def _headline(gate: Gate) -> str:
    service, tag = _escape(gate.service), _escape(_tag(gate))
    kind = gate.kind
    if kind == "approval":
        return (
            f"Green `{tag}` of *{service}* is healthy behind the test rule. "
            f"Approve to switch production to it, or reject to stop the deployment."
        )
    if kind == "bake":
        seconds = _bake_seconds(gate)
        line = f"Swapped: production on `{tag}`, baking {seconds if seconds is not None else '?'} s."
        alarms = gate.alarmNames or []
        if alarms:
            line += " Watching " + ", ".join(f"`{_escape(name)}`" for name in alarms) + "."
        return line
    return (
        f"Bake passed: production of *{service}* stays on `{tag}`. "
        f"The old version is kept behind the test rule until Finish or Roll back."
    )


def _summary(gate: Gate, title: str) -> list[dict[str, Any]]:
    service, tag = str(gate.service), _tag(gate)
    fields = [_mrkdwn(f"*Service*\n{_escape(service)}"), _mrkdwn(f"*Image tag*\n`{_escape(tag)}`")]
    if gate.imageDigest:
        fields.append(_mrkdwn(f"*Digest*\n`{_escape(gate.imageDigest)}`"))
    url = str(gate.testUrl or "")
    if url.startswith(("https://", "http://")):
        fields.append(_mrkdwn(f"*Test URL*\n<{_escape(url)}|{_escape(url)}>"))
    requester = gate.requestedBy
    if requester:
        fields.append(_mrkdwn(f"*Started by*\n{who(str(requester)) or _escape(requester)}"))
    if gate.executionName:
        fields.append(_mrkdwn(f"*Execution*\n`{_escape(gate.executionName)}`"))
    context = [_mrkdwn(f"Gate `{_escape(gate.gateId)}`")]
    if gate.expiresAt:
        context.append(_mrkdwn(f"Waits until {_when(gate.expiresAt)}"))
    return [
        {"type": "header", "text": _plain(f"{title}: {service} {tag}")},
        {"type": "section", "text": _mrkdwn(_headline(gate)), "fields": fields[:10]},
        {"type": "context", "elements": context},
    ]


def _button(gate: Gate, action: str, label: str, style: str) -> dict[str, Any]:
    gate_id = str(gate.gateId)
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
            "text": _mrkdwn(text.format(service=_escape(gate.service), tag=_escape(_tag(gate))), 300),
            "confirm": _plain(confirm, 30),
            "deny": _plain("Cancel", 30),
        }
    return button


def gate_blocks(gate: Gate) -> list[dict[str, Any]]:
    """The message of a pending gate: summary and its buttons (approve/reject, roll back, finish/roll back)."""
    kind = gate.kind
    buttons = [_button(gate, action, label, style) for action, label, style in _BUTTONS[kind]]
    return [
        *_summary(gate, GateKind(kind).slack_title),
        *_plan_blocks(gate),
        {"type": "actions", "block_id": f"gate-{gate.gateId}", "elements": buttons},
    ]


def _plan_blocks(gate: Gate) -> list[dict[str, Any]]:
    """The release's plan (already bounded and escaped by bluegreen.domain.plan.render_mrkdwn)."""
    text = str(gate.planText or "")
    return [{"type": "section", "text": _mrkdwn(text)}] if text else []


def outcome(gate: Gate) -> str:
    """One line: ``*Approved* by <@U123> at <time>`` (with the reason when there is one)."""
    status = str(gate.status)
    word = status_title(status)
    by = who(gate.decidedBy)
    line = f"*{word}*" + (f" by {by}" if by else "") + f" at {_when(gate.decidedAt)}"
    reason = str(gate.reason or "").strip()
    if reason and reason.lower() != word.lower():
        line += f": {_escape(reason)}"
    return line


def decided_blocks(gate: Gate) -> list[dict[str, Any]]:
    """The message of a decided gate: same summary, no buttons, who decided and when."""
    status = str(gate.status)
    decided = status in GateStatus.__members__ and status != GateStatus.PENDING
    title = status_title(status) if decided else _title(gate.kind)
    return [*_summary(gate, title), *_plan_blocks(gate), {"type": "section", "text": _mrkdwn(outcome(gate))}]


def gate_text(gate: Gate) -> str:
    """Notification text of a gate's message (what push notifications and screen readers show)."""
    title = _title(gate.kind)
    return f"{title}: {gate.service} {_tag(gate)} ({gate.gateId})"


def decided_text(gate: Gate) -> str:
    status = str(gate.status)
    word = status_title(status)
    return f"{word}: {gate.service} {_tag(gate)} ({gate.gateId})"


# --- the "Roll back to previous" button on the deployed message ------------------------------
def to_previous_blocks(text: str, service: str, execution_name: str, previous_tag: str) -> list[dict[str, Any]]:
    """The "deployed" message with its *Roll back to <previous>* button."""
    from bluegreen.domain.to_previous import ACTION_ID, button_value

    return [
        {"type": "section", "text": _mrkdwn(_escape(text))},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_ID,
                    "text": _plain(f"Roll back to {previous_tag}", 75),
                    "value": button_value(service, execution_name),
                    "style": "danger",
                    "confirm": {
                        "title": _plain("Roll back?", 100),
                        "text": _plain(f"Deploy {previous_tag} again (health gate, swap, bake; no approval).", 300),
                        "confirm": _plain("Roll back", 30),
                        "deny": _plain("Cancel", 30),
                    },
                }
            ],
        },
    ]
