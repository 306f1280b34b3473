"""Rollback state: failure, alarm or manual rollback after the swap (logic: bluegreen.steps.rollback)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.errors import RollbackFailed
from bluegreen.domain.models import StepEvent
from bluegreen.domain.settings import require
from bluegreen.steps import rollback
from bluegreen.steps.cleanup import redrivable

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
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
    # A release rolled back after it reached production is a change failure; restored now
    metrics.add_metric(name="ChangeFailures", unit=MetricUnit.Count, value=1)
    if event.swap and event.swap.firstShiftAt:
        restore = (clock.now() - event.swap.firstShiftAt).total_seconds()
        metrics.add_metric(name="TimeToRestore", unit=MetricUnit.Seconds, value=restore)
    return report.dump()
