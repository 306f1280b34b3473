"""CheckHealth state of the blue/green state machine (logic: bluegreen.steps)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.aws import get_clients
from bluegreen.models import GreenEvent
from bluegreen.steps import check_health

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GreenEvent)
def lambda_handler(event: GreenEvent, context: LambdaContext) -> dict:
    return check_health.run(event.context, event.green, get_clients()).dump()
