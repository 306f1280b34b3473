"""Bake and each canary/linear step: a ``waitForTaskToken`` gate that alarms fail and whose timeout passes it.

The token is stored under a gate id for the alarm handler (:mod:`bluegreen.steps.alarm_event`) and the
manual rollback; alarms already firing when the bake starts fail it at once.
"""

from __future__ import annotations

from bluegreen import watch_end
from bluegreen.aws import alarms, analysis_alarm
from bluegreen.aws.decisions import open_gate
from bluegreen.deps import Deps
from bluegreen.domain.errors import AlarmTriggered
from bluegreen.domain.gates import GateKind, GateStatus
from bluegreen.domain.models import GateEvent, OpenedGate
from bluegreen.slack import notify
from bluegreen.steps.open_gate import gate_details, post_message


def run(event: GateEvent, deps: Deps) -> OpenedGate:
    """Bake: store the token for the alarm handler, then catch alarms that are already firing."""
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context = event.context
    names = watch_end.watched_names(context)  # the built-in analysis alarm is watched like an alarm
    analysis_name = analysis_alarm.name_of(context)
    partial = event.swap is not None and not event.swap.complete
    seconds = context.config.trafficShift.intervalSeconds if partial else context.config.bakeSeconds
    details = gate_details(event)
    gate = open_gate(
        store, GateKind.BAKE, context.service, context.executionArn, event.taskToken, seconds, details, names
    )
    weight = event.swap.weight if event.swap else 100
    watched = _watched(context.config.alarmNames, analysis_name)
    text = f"Production at {weight}% on {context.imageTag}; watching {watched} for {seconds}s."
    notify.milestone(notifier, context, text)
    firing = alarms.alarms_in_alarm(clients.cloudwatch, names)
    if firing:
        alarm = firing[0]
        reason = analysis_alarm.explain_alarm(clients.cloudwatch, alarm) or alarm.get("StateReason", "no reason given")
        store.decide(gate.gateId, GateStatus.ALARM, f"alarm:{alarm['AlarmName']}", reason)
        raise AlarmTriggered(f"Alarm {alarm['AlarmName']} was already in ALARM when the bake started: {reason}")
    post_message(notifier, store, gate, 1)
    return OpenedGate(gateId=gate.gateId, kind=GateKind.BAKE)


def _watched(alarm_names: list[str], analysis_name: str | None) -> str:
    parts = ["alarms"] if alarm_names else []
    if analysis_name:
        parts.append("the built-in analysis")
    return " and ".join(parts) or "alarms"
