"""DeleteOld state: delete the task set behind the test rule (logic: bluegreen.steps.delete_old)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.models import GreenEvent
from bluegreen.domain.settings import require
from bluegreen.steps import delete_old

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GreenEvent)
def lambda_handler(event: GreenEvent, context: LambdaContext) -> dict:
    result = delete_old.run(event, deps)
    logger.info(
        "Deployment finished", extra={"service": result.service, "image": event.context.image, "phase": "delete-old"}
    )
    metrics.add_metric(name="DeploymentsSucceeded", unit=MetricUnit.Count, value=1)
    if event.context.startedAt:
        duration = (clock.now() - event.context.startedAt).total_seconds()
        metrics.add_metric(name="DeploymentDuration", unit=MetricUnit.Seconds, value=duration)
    # Lead time from the image push to production (ECR imagePushedAt), when ECR knows it
    if event.context.imagePushedAt and event.swap:
        lead = (event.swap.swappedAt - event.context.imagePushedAt).total_seconds()
        metrics.add_metric(name="LeadTime", unit=MetricUnit.Seconds, value=max(0.0, lead))
    if event.context.rollbackOf:  # a rollback to the previous release: the release it undid was a change failure
        metrics.add_metric(name="ChangeFailures", unit=MetricUnit.Count, value=1)
    return result.dump()
