"""Gates: the approval, the event-driven bake and the keep-old hold (``waitForTaskToken`` tasks).

The task token is stored in the deployments table under a short gate id; Slack
buttons and the CLI carry only that id. A gate is answered at most once
(:mod:`bluegreen.decisions`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from .. import alarms, notify
from ..aws import AwsClients
from ..decisions import decide
from ..errors import AlarmTriggered, AlreadyDecided, GateExpired, UnknownGate
from ..models import GateEvent
from ..notify import SlackNotifier
from ..plan import render_mrkdwn
from ..store import Store

logger = Logger(child=True)
SLACK_ATTEMPTS = 3


def _details(event: GateEvent) -> dict[str, Any]:
    context = event.context
    details: dict[str, Any] = {
        "imageTag": context.imageTag,
        "imageDigest": context.imageDigest,
        "image": context.image,
        "executionName": context.executionName,
        "requestedBy": context.requestedBy,
        "greenTaskSet": event.green.id,
    }
    if context.testUrl:
        details["testUrl"] = context.testUrl
    if context.config.slackChannel:
        details["channel"] = context.config.slackChannel
    if context.plan and event.kind == "approval":  # issue 10: nobody approves without seeing the release
        details["planText"] = render_mrkdwn(context.plan, full_command=f"bluegreen status {context.service}")
    if event.swap:
        details["bakeSeconds"] = context.config.bakeSeconds
        details["weight"] = event.swap.weight
    return details


def _post(notifier: SlackNotifier, store: Store, gate: dict[str, Any], attempts: int) -> str | None:
    """Post the gate's message (with its buttons); returns an error text if Slack failed."""
    if not gate.get("channel") or gate.get("ts"):  # no Slack, or already posted (a retried task)
        return None
    error: Exception | None = None
    for _ in range(attempts):
        try:
            channel, ts = notifier.post_gate(gate)
            store.set_message(gate["gateId"], channel, ts)
            return None
        except Exception as exc:  # noqa: BLE001 - reported below; the CLI can still answer the gate
            error = exc
    logger.error(
        "Slack message for gate failed; answer it from the CLI", extra={"gateId": gate["gateId"], "error": str(error)}
    )
    text = f"Slack message failed after {attempts} attempts ({error}); answer with the bluegreen CLI"
    store.set_notification_error(gate["gateId"], text)
    return text


def open_gate(event: GateEvent, store: Store, notifier: SlackNotifier) -> dict[str, Any]:
    """Approval and keep-old gates: store the token, post the message with buttons."""
    context = event.context
    config = context.config
    timeout = config.approval.timeoutSeconds if event.kind == "approval" else config.keepOld.timeoutSeconds
    gate = store.open_gate(event.kind, context.service, context.executionArn, event.taskToken, timeout, _details(event))
    if event.kind == "approval":
        notify.milestone(notifier, context, f"Green is healthy: approval {gate['gateId']} requested.")
    else:
        notify.milestone(
            notifier, context, f"Bake passed. Old task set kept until Finish or Roll back ({gate['gateId']})."
        )
    slack_error = _post(notifier, store, gate, SLACK_ATTEMPTS)
    result = {"gateId": gate["gateId"], "kind": event.kind}
    if slack_error:
        result["notification"] = slack_error
    return result


def start_bake(event: GateEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> dict[str, Any]:
    """Bake: store the token for the alarm handler, then catch alarms that are already firing."""
    context = event.context
    names = context.config.alarmNames
    partial = event.swap is not None and not event.swap.complete
    seconds = context.config.trafficShift.intervalSeconds if partial else context.config.bakeSeconds
    gate = store.open_gate(
        "bake", context.service, context.executionArn, event.taskToken, seconds, _details(event), alarm_names=names
    )
    weight = event.swap.weight if event.swap else 100
    notify.milestone(
        notifier, context, f"Production at {weight}% on {context.imageTag}; watching alarms for {seconds}s."
    )
    firing = alarms.alarms_in_alarm(clients.cloudwatch, names)
    if firing:
        alarm = firing[0]
        reason = alarm.get("StateReason", "no reason given")
        store.decide(gate["gateId"], "ALARM", f"alarm:{alarm['AlarmName']}", reason)
        raise AlarmTriggered(f"Alarm {alarm['AlarmName']} was already in ALARM when the bake started: {reason}")
    _post(notifier, store, gate, 1)
    return {"gateId": gate["gateId"], "kind": "bake"}


def on_alarm(store: Store, alarm_name: str, state: str, reason: str) -> list[str]:
    """An alarm changed state: fail every bake watching it. Returns the gate ids answered."""
    if state != "ALARM":
        return []
    answered = []
    for gate in store.gates_watching(alarm_name):
        try:
            decide(store, gate["gateId"], "alarm", f"alarm:{alarm_name}", reason)
            answered.append(gate["gateId"])
        except (AlreadyDecided, GateExpired, UnknownGate) as error:  # the gate ended meanwhile: fine
            logger.info(
                "Alarm arrived for a gate that is no longer waiting",
                extra={"gateId": gate["gateId"], "error": str(error)},
            )
    return answered
