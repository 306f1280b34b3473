"""Open gate: the approval and the keep-old hold (``waitForTaskToken`` tasks); the bake is in :mod:`.bake`.

The task token is stored in the deployments table under a short gate id; Slack
buttons and the CLI carry only that id. A gate is answered at most once
(:mod:`bluegreen.aws.decisions`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from bluegreen import watch_end
from bluegreen.aws import events as deployment_events
from bluegreen.aws.decisions import open_gate as open_pending_gate
from bluegreen.aws.events import DetailType
from bluegreen.aws.store import Store
from bluegreen.deps import Deps
from bluegreen.domain.gates import Gate, GateKind
from bluegreen.domain.models import GateEvent, OpenedGate
from bluegreen.domain.plan import render_mrkdwn
from bluegreen.slack import notify
from bluegreen.slack.notify import SlackNotifier

logger = Logger(child=True)
SLACK_ATTEMPTS = 3


def gate_details(event: GateEvent) -> dict[str, Any]:
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
    if context.plan and event.kind == "approval":  # Nobody approves without seeing the release
        details["planText"] = render_mrkdwn(context.plan, full_command=f"bluegreen status {context.service}")
    if event.swap:
        details["bakeSeconds"] = context.config.bakeSeconds
        details["weight"] = event.swap.weight
    return details


def post_message(notifier: SlackNotifier, store: Store, gate: Gate, attempts: int) -> str | None:
    """Post the gate's message (with its buttons); returns an error text if Slack failed."""
    if not gate.channel or gate.ts:  # no Slack, or already posted (a retried task)
        return None
    error: Exception | None = None
    for _ in range(attempts):
        try:
            channel, ts = notifier.post_gate(gate)
            store.set_message(gate.gateId, channel, ts)
            return None
        except Exception as exc:  # noqa: BLE001 - reported below; the CLI can still answer the gate
            error = exc
    logger.error(
        "Slack message for gate failed; answer it from the CLI", extra={"gateId": gate.gateId, "error": str(error)}
    )
    text = f"Slack message failed after {attempts} attempts ({error}); answer with the bluegreen CLI"
    store.set_notification_error(gate.gateId, text)
    return text


def run(event: GateEvent, deps: Deps) -> OpenedGate:
    """Approval and keep-old gates: store the token, post the message with buttons."""
    store, notifier = deps.store, deps.notifier
    context = event.context
    config = context.config
    kind = GateKind(event.kind)
    timeout = config.approval.timeoutSeconds if kind == GateKind.APPROVAL else config.keepOld.timeoutSeconds
    if kind == GateKind.KEEP_OLD:
        # The bake passes only with no watched alarm in ALARM at its end, its event lost or not (watch_end):
        # otherwise this fails the hold at once and the state machine rolls back, blue still there.
        when = watch_end.moment(watch_end.WatchEnd.BAKE)
        watch_end.check(deps.clients.cloudwatch, context, when, store, notifier)
    gate = open_pending_gate(
        store, kind, context.service, context.executionArn, event.taskToken, timeout, gate_details(event)
    )
    if kind == GateKind.APPROVAL:
        notify.milestone(notifier, context, f"Green is healthy: approval {gate.gateId} requested.")
        deployment_events.emit(
            deps.events, DetailType.AWAITING_APPROVAL, context, gateId=gate.gateId, greenTaskSet=event.green.id
        )
    else:
        notify.milestone(
            notifier, context, f"Bake passed. Old task set kept until Finish or Roll back ({gate.gateId})."
        )
    slack_error = post_message(notifier, store, gate, SLACK_ATTEMPTS)
    return OpenedGate(gateId=gate.gateId, kind=kind, notification=slack_error)
