"""Executions that ended without their Catch (stopped, timed out): clean up (logic: bluegreen.steps.execution_ended)."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen.aws import get_clients, get_store
from bluegreen.notify import get_notifier
from bluegreen.steps import execution_ended

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="detail.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=execution_ended.ExecutionStatusChangeEvent)
def lambda_handler(event: execution_ended.ExecutionStatusChangeEvent, context: LambdaContext) -> dict:
    deps = execution_ended.Deps(get_clients(), get_store(), get_notifier(), os.environ["STATE_MACHINE_ARN"])
    report = execution_ended.run(event, deps)
    if report.action != "nothing":
        metrics.add_metric(name="UncaughtEndsCleaned", unit=MetricUnit.Count, value=1)
    return report.dump()
