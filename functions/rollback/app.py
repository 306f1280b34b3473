"""Rollback state: failure, alarm or manual rollback after the swap (logic: bluegreen.steps.failure)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.aws import get_clients, get_store
from bluegreen.errors import RollbackFailed
from bluegreen.models import StepEvent
from bluegreen.notify import get_notifier
from bluegreen.steps import failure

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StepEvent)
def lambda_handler(event: StepEvent, context: LambdaContext) -> dict:
    with failure.redrivable(RollbackFailed, "Rollback"):
        report = failure.rollback(event, get_clients(), get_store(), get_notifier())
    logger.warning(
        "Deployment rolled back", extra={"service": event.context.service, "cause": report.cause, "phase": "rollback"}
    )
    metrics.add_metric(name="DeploymentsRolledBack", unit=MetricUnit.Count, value=1)
    return report.dump()
