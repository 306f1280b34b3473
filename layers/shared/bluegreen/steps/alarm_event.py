"""CloudWatch alarm state changes (not a state): fail every bake gate watching the alarm."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from ..decisions import decide
from ..deps import Deps
from ..errors import AlreadyDecided, GateExpired, UnknownGate
from ..models import AlarmHandled, AlarmStateChangeEvent
from ..store import Store

logger = Logger(child=True)


def run(event: AlarmStateChangeEvent, deps: Deps) -> AlarmHandled:
    detail = event.detail
    answered = on_alarm(deps.store, detail.alarmName, detail.state.value, detail.state.reason)
    return AlarmHandled(alarm=detail.alarmName, bakesFailed=answered)


def on_alarm(store: Store, alarm_name: str, state: str, reason: str) -> list[str]:
    """An alarm changed state: fail every bake watching it. Returns the gate ids answered."""
    if state != "ALARM":
        return []
    answered = []
    for gate in store.gates_watching(alarm_name):
        try:
            decide(store, gate.gateId, "alarm", f"alarm:{alarm_name}", reason)
            answered.append(gate.gateId)
        except (AlreadyDecided, GateExpired, UnknownGate) as error:  # the gate ended meanwhile: fine
            logger.info(
                "Alarm arrived for a gate that is no longer waiting",
                extra={"gateId": gate.gateId, "error": str(error)},
            )
    return answered
