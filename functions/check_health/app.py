"""CheckHealth state of the blue/green state machine (logic: bluegreen.steps)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.models import GreenEvent
from bluegreen.domain.settings import require
from bluegreen.steps import check_health

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require()  # cold start: a malformed variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GreenEvent)
def lambda_handler(event: GreenEvent, context: LambdaContext) -> dict:
    return check_health.run(event, deps).dump()
