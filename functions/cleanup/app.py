"""Cleanup state: failure before the swap (logic: bluegreen.steps.cleanup)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.errors import CleanupFailed
from bluegreen.domain.models import CleanupEvent
from bluegreen.domain.settings import require
from bluegreen.steps import cleanup

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=CleanupEvent)
def lambda_handler(event: CleanupEvent, context: LambdaContext) -> dict:
    with cleanup.redrivable(CleanupFailed, "Cleanup"):
        report = cleanup.run(event, deps)
    logger.warning(
        "Deployment failed before the swap",
        extra={"service": _service(event), "error": report.error, "phase": "cleanup"},
    )
    metric = "DeploymentsRejected" if report.error in ("Rejected", "ApprovalTimedOut") else "DeploymentsFailed"
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return report.dump()


def _service(event: CleanupEvent) -> str | None:
    context = event.state.context
    if context:
        return context.service
    service = event.input.get("service") if isinstance(event.input, dict) else None  # any JSON value may come in
    return service if isinstance(service, str) else None
