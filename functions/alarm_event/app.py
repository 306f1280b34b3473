"""CloudWatch alarm state changes (EventBridge): fail the bakes that watch it (logic: bluegreen.steps.alarm_event)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.aws import get_store
from bluegreen.models import AlarmStateChangeEvent
from bluegreen.steps import alarm_event

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AlarmStateChangeEvent)
def lambda_handler(event: AlarmStateChangeEvent, context: LambdaContext) -> dict:
    detail = event.detail
    answered = alarm_event.on_alarm(get_store(), detail.alarmName, detail.state.value, detail.state.reason)
    logger.info(
        "Alarm state change", extra={"alarm": detail.alarmName, "state": detail.state.value, "bakesFailed": answered}
    )
    return {"alarm": detail.alarmName, "bakesFailed": answered}
