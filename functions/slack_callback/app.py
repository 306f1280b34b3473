"""Slack interactivity callback: button clicks on gate messages (logic: bluegreen.slack.interactions)."""

import binascii
import json

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.aws.clients import get_ssm_provider, lambda_client
from bluegreen.aws.store import get_store
from bluegreen.domain.settings import require
from bluegreen.slack.client import Notifier, get_slack_secrets, web_client
from bluegreen.slack.interactions import FollowUp, follow_up, handle_interaction

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
app = APIGatewayHttpResolver()

FOLLOW_UP = "bluegreenSlackFollowUp"
METRICS = {"decided": "GateDecisions", "invalid-signature": "SlackRequestsRefused", "error": "SlackInteractionErrors"}


@app.post("/slack/interactions")
@tracer.capture_method
def interactions() -> Response:
    event = app.current_event
    try:
        body = event.decoded_body or ""
    except (UnicodeDecodeError, binascii.Error) as error:  # not UTF-8 (or broken base64): not from Slack
        logger.warning("Undecodable Slack request body", extra={"error": type(error).__name__})
        metrics.add_metric(name="SlackRequestsRefused", unit=MetricUnit.Count, value=1)
        return Response(
            status_code=400, content_type="application/json", body=json.dumps({"message": "body is not UTF-8 text"})
        )
    secrets = get_slack_secrets()
    result = handle_interaction(
        body,
        event.headers,
        store=get_store(),
        provider=get_ssm_provider(),
        notifier=_notifier(),
        secrets=secrets,
        defer=_defer,
    )
    metrics.add_metric(name="SlackInteractions", unit=MetricUnit.Count, value=1)
    if result.outcome in METRICS:
        metrics.add_metric(name=METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    return Response(
        status_code=result.status, content_type="application/json", body=json.dumps({"message": result.message})
    )


def _notifier() -> Notifier:
    secrets = get_slack_secrets()
    return Notifier(client_factory=lambda: web_client(secrets.bot_token))


def _defer(job: FollowUp) -> None:
    """Slack wants its answer within 3 s: the message update and the reply run in an async self-invocation."""
    try:
        lambda_client().invoke(
            FunctionName=app.lambda_context.function_name,
            InvocationType="Event",
            Payload=json.dumps({FOLLOW_UP: job.dump()}).encode(),
        )
    except Exception:  # noqa: BLE001 - the decision is made; tell the user now rather than not at all
        logger.exception("Async follow-up could not be queued; running it inline")
        follow_up(job, get_store(), _notifier())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if FOLLOW_UP in event:  # our own async invocation (see _defer), never an HTTP request
        follow_up(FollowUp.load(event[FOLLOW_UP]), get_store(), _notifier())
        return {"followedUp": True}
    return app.resolve(event, context)
