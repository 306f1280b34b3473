"""Executions that ended without their Catch (stopped, timed out): clean up (logic: bluegreen.steps.execution_ended)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.settings import require
from bluegreen.steps import execution_ended

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME", "STATE_MACHINE_ARN")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="detail.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=execution_ended.ExecutionStatusChangeEvent)
def lambda_handler(event: execution_ended.ExecutionStatusChangeEvent, context: LambdaContext) -> dict:
    report = execution_ended.run(event, deps)
    if report.action != "nothing":
        metrics.add_metric(name="UncaughtEndsCleaned", unit=MetricUnit.Count, value=1)
    return report.dump()
