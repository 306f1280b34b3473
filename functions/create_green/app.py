"""CreateGreen state of the blue/green state machine (logic: bluegreen.steps)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.models import StepEvent
from bluegreen.domain.settings import require
from bluegreen.steps import create_green

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require()  # cold start: a malformed variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StepEvent)
def lambda_handler(event: StepEvent, context: LambdaContext) -> dict:
    green = create_green.run(event, deps)
    logger.info(
        "Green task set ready",
        extra={"service": event.context.service, "image": event.context.image, "taskSet": green.id},
    )
    return green.dump()
