"""CloudWatch alarm state changes (EventBridge): fail the bakes that watch it (logic: bluegreen.steps.alarm_event)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.settings import require
from bluegreen.steps import alarm_event

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=alarm_event.AlarmStateChangeEvent)
def lambda_handler(event: alarm_event.AlarmStateChangeEvent, context: LambdaContext) -> dict:
    detail = event.detail
    result = alarm_event.run(event, deps)
    logger.info(
        "Alarm state change",
        extra={"alarm": detail.alarmName, "state": detail.state.value, "bakesFailed": result.bakesFailed},
    )
    return result.dump()
