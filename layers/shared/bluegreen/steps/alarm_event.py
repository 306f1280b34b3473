"""CloudWatch alarm state changes (not a state): fail every bake gate watching the alarm."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict

from bluegreen.aws import analysis_alarm
from bluegreen.aws.decisions import decide
from bluegreen.aws.store import Store
from bluegreen.deps import Deps
from bluegreen.domain.errors import AlreadyDecided, GateExpired, UnknownGate
from bluegreen.domain.models import AlarmHandled

logger = Logger(child=True)


# Here rather than in bluegreen.domain.models: EventBridgeModel's schema is built when its module is imported, and only
# this function receives alarm events (cold start; as steps/execution_ended.py does).
class AlarmState(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    value: str
    reason: str = ""


class AlarmDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    alarmName: str
    state: AlarmState


class AlarmStateChangeEvent(EventBridgeModel):
    """EventBridge ``CloudWatch Alarm State Change`` (source ``aws.cloudwatch``)."""

    detail: AlarmDetail


def run(event: AlarmStateChangeEvent, deps: Deps) -> AlarmHandled:
    detail = event.detail

    # A built-in analysis alarm says which metric, green's and blue's values and the window
    def explain() -> str:
        return analysis_alarm.explain_by_name(deps.clients.cloudwatch, detail.alarmName, detail.state.reason)

    answered = on_alarm(deps.store, detail.alarmName, detail.state.value, detail.state.reason, explain)
    return AlarmHandled(alarm=detail.alarmName, bakesFailed=answered)


def on_alarm(
    store: Store, alarm_name: str, state: str, reason: str, explain: Callable[[], str] | None = None
) -> list[str]:
    """An alarm changed state: fail every bake watching it. Returns the gate ids answered.

    ``explain`` gives a better reason, asked only when some gate watches the alarm.
    """
    if state != "ALARM":
        return []
    answered = []
    watching = store.gates_watching(alarm_name)
    if watching and explain is not None:
        reason = explain()
    for gate in watching:
        try:
            decide(store, gate.gateId, "alarm", f"alarm:{alarm_name}", reason)
            answered.append(gate.gateId)
        except (AlreadyDecided, GateExpired, UnknownGate) as error:  # the gate ended meanwhile: fine
            logger.info(
                "Alarm arrived for a gate that is no longer waiting",
                extra={"gateId": gate.gateId, "error": str(error)},
            )
    return answered
