"""ECR pushes (EventBridge ``ECR Image Action``): start deployments of matching services (logic: bluegreen.trigger)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES, trigger
from bluegreen.aws.clients import get_clients, get_ssm_provider
from bluegreen.aws.store import get_store
from bluegreen.domain.settings import require
from bluegreen.slack.notify import get_notifier

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("STATE_MACHINE_ARN")  # cold start: a missing variable fails here, named


@event_parser(model=trigger.EcrImageActionEvent)
def on_image_action(event: trigger.EcrImageActionEvent, context: LambdaContext) -> dict:
    summary = trigger.on_image_action(
        event,
        get_ssm_provider(),
        get_clients().sfn,
        require("STATE_MACHINE_ARN").stateMachineArn,
        store=get_store(),
        notifier=get_notifier(),
    )
    return summary.as_dict()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        summary = on_image_action(event, context)
    except ValidationError as error:
        # Retrying a malformed event cannot help: drop it.
        logger.warning("Malformed ECR event ignored", extra={"error": str(error)})
        summary = trigger.TriggerSummary()
        summary.ignore("malformed event")
        summary = summary.as_dict()
    metrics.add_metric(name="DeploymentsTriggered", unit=MetricUnit.Count, value=len(summary["started"]))
    return summary
