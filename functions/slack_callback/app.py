"""Slack interactivity callback: button clicks on gate messages (logic: bluegreen.slack_interactions)."""

import json

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.aws import get_ssm_provider, get_store
from bluegreen.settings import require
from bluegreen.slack import Notifier, get_slack_secrets, web_client
from bluegreen.slack_interactions import handle_interaction

logger = Logger()
tracer = Tracer()
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
app = APIGatewayHttpResolver()

METRICS = {"decided": "GateDecisions", "invalid-signature": "SlackRequestsRefused", "error": "SlackInteractionErrors"}


@app.post("/slack/interactions")
@tracer.capture_method
def interactions() -> Response:
    event = app.current_event
    secrets = get_slack_secrets()
    result = handle_interaction(
        event.decoded_body or "",
        event.headers,
        store=get_store(),
        provider=get_ssm_provider(),
        notifier=Notifier(client_factory=lambda: web_client(secrets.bot_token)),
        secrets=secrets,
    )
    metrics.add_metric(name="SlackInteractions", unit=MetricUnit.Count, value=1)
    if result.outcome in METRICS:
        metrics.add_metric(name=METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    return Response(
        status_code=result.status, content_type="application/json", body=json.dumps({"message": result.message})
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
