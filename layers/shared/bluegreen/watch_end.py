"""The end of a watch (a traffic step, the bake, the keep-old hold): the alarms are read again before moving on.

A bake (or a canary/linear step) is a ``waitForTaskToken`` task that an alarm's EventBridge event fails; its
timeout means "passed". An event that never arrives (a disabled or deleted rule; a delivery EventBridge gave up
on, by default after 24 hours and 185 attempts, dropped unless the target has a dead-letter queue; a handler
that kept failing) would let a release pass with its alarm in ALARM. So the task that runs next reads the
watched alarms (DescribeAlarms by name, up to 100 names a call) and rolls back, with the same error as the alarm
event (``AlarmTriggered``), when one is in ALARM. The decision (:func:`verdict`) is pure; :func:`check` is the
thin AWS side.

EventBridge retry and dead-letter behaviour: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
DescribeAlarms (``AlarmNames``: at most 100): https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bluegreen.aws import alarms, analysis_alarm
from bluegreen.domain.errors import AlarmTriggered
from bluegreen.domain.gates import GateStatus
from bluegreen.domain.limits import MAX_REASON, SFN_CAUSE_MAX
from bluegreen.domain.models import DeploymentContext, SwapResult

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

    from bluegreen.aws.store import Store
    from bluegreen.slack.notify import SlackNotifier


class WatchEnd(StrEnum):
    """Which watch ended: what the cause names."""

    STEP = "step"
    BAKE = "bake"
    KEEP_OLD = "keep-old"


@dataclass(frozen=True)
class FoundInAlarm:
    """A watched alarm found in ALARM when its watch ended."""

    alarm: str
    reason: str
    cause: str  # the rollback's cause, as the execution and Slack show it


def watched_names(context: DeploymentContext) -> list[str]:
    """The alarms a release is watched by: the configured ones and the built-in analysis alarm, if any."""
    names = list(context.config.alarmNames)
    analysis_name = analysis_alarm.name_of(context)
    if analysis_name and analysis_name not in names:
        names.append(analysis_name)
    return names


def moment(end: WatchEnd, swap: SwapResult | None = None) -> str:
    """``the end of the bake``, ``the end of traffic step 2 (20% on green)``, ``the end of the keep-old hold``."""
    if end is WatchEnd.STEP and swap is not None:
        return f"the end of traffic step {swap.step + 1} ({swap.weight}% on green)"
    if end is WatchEnd.KEEP_OLD:
        return "the end of the keep-old hold"
    return "the end of the bake" if end is WatchEnd.BAKE else "the end of the traffic step"


def verdict(
    watched: list[str], described: list[dict[str, Any]], when: str, explain: Callable[[dict[str, Any]], str | None]
) -> FoundInAlarm | None:
    """The first watched alarm (in configured order) that is in ALARM, or None: the watch passed.

    ``described`` is what DescribeAlarms returned; only an alarm whose state is ALARM fails the watch (OK and
    INSUFFICIENT_DATA pass, as they do when the event path is working). ``explain`` gives a better reason
    (the analysis alarm's metrics), asked only for the alarm that fails the watch."""
    by_name = {str(alarm.get("AlarmName")): alarm for alarm in described if alarm.get("StateValue") == "ALARM"}
    for name in watched:
        alarm = by_name.get(name)
        if alarm is None:
            continue
        reason = explain(alarm) or str(alarm.get("StateReason") or "no reason given")
        others = [n for n in watched if n in by_name and n != name]
        also = f" (also in ALARM: {', '.join(others)})" if others else ""
        cause = _bounded(f"Alarm {name} was found in ALARM at {when}{also}: {reason}", SFN_CAUSE_MAX)
        return FoundInAlarm(alarm=name, reason=reason, cause=cause)
    return None


def check(
    cloudwatch: CloudWatchClient,
    context: DeploymentContext,
    when: str,
    store: Store | None = None,
    notifier: SlackNotifier | None = None,
) -> None:
    """Raise :class:`AlarmTriggered` when a watched alarm is in ALARM; one DescribeAlarms call per 100 names.

    With ``store`` (a function allowed to write the deployments table), this execution's pending gate (the bake
    that timed out, or the keep-old hold) is closed as rolled back by the alarm, so Slack and ``bluegreen status``
    say why; the Rollback state then finds no gate to close."""
    names = watched_names(context)
    if not names:
        return
    found = verdict(
        names,
        alarms.alarms_in_alarm(cloudwatch, names),
        when,
        lambda alarm: analysis_alarm.explain_alarm(cloudwatch, alarm),
    )
    if found is None:
        return
    if store is not None:
        gate = store.open_gate_of(context.service)
        if gate is not None and gate.executionArn == context.executionArn:
            closed = store.decide(
                gate.gateId, GateStatus.ALARM, f"alarm:{found.alarm}", _bounded(found.cause, MAX_REASON)
            )
            if closed is not None and notifier is not None:
                notifier.update_gate(closed)
    raise AlarmTriggered(found.cause)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
