"""Rollback state: failure, alarm or manual rollback after the swap (logic: bluegreen.steps.rollback)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.deps import Deps
from bluegreen.errors import RollbackFailed
from bluegreen.models import StepEvent
from bluegreen.settings import require
from bluegreen.steps import rollback
from bluegreen.steps.cleanup import redrivable

logger = Logger()
tracer = Tracer()
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StepEvent)
def lambda_handler(event: StepEvent, context: LambdaContext) -> dict:
    with redrivable(RollbackFailed, "Rollback"):
        report = rollback.run(event, deps)
    logger.warning(
        "Deployment rolled back", extra={"service": event.context.service, "cause": report.cause, "phase": "rollback"}
    )
    metrics.add_metric(name="DeploymentsRolledBack", unit=MetricUnit.Count, value=1)
    return report.dump()
