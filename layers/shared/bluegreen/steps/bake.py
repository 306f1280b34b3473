"""Bake: watch the configured alarms until the bake deadline; an alarm rolls back."""

from __future__ import annotations

from .. import alarms, clock
from ..aws import AwsClients
from ..errors import AlarmTriggered, BakeInProgress
from ..models import BakeEvent, BakeResult


def run(event: BakeEvent, clients: AwsClients) -> BakeResult:
    context, swap = event.context, event.swap
    names = context.config.alarmNames
    firing = alarms.alarms_in_alarm(clients.cloudwatch, names)
    if firing:
        alarm = firing[0]
        raise AlarmTriggered(
            f"Alarm {alarm['AlarmName']} is in ALARM during the bake: {alarm.get('StateReason', 'no reason given')}"
        )
    now = clock.now()
    if now < swap.bakeDeadline:
        remaining = int((swap.bakeDeadline - now).total_seconds())
        raise BakeInProgress(f"Baking, {remaining}s left; alarms OK: {', '.join(names) or 'none configured'}")
    return BakeResult(passedAt=now, alarmsChecked=names)
