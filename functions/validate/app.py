"""Validate state of the blue/green state machine (logic: bluegreen.steps.validate)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.models import ValidateEvent
from bluegreen.domain.settings import require
from bluegreen.steps import validate

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateEvent)
def lambda_handler(event: ValidateEvent, context: LambdaContext) -> dict:
    result = validate.run(event, deps)
    logger.info("Validated deployment", extra={"service": result.service, "image": result.image, "phase": "validate"})
    metrics.add_metric(name="DeploymentsStarted", unit=MetricUnit.Count, value=1)
    return result.dump()
