"""Bake state: a waitForTaskToken task failed by alarms or a manual rollback (logic: bluegreen.steps.bake)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.models import GateEvent
from bluegreen.domain.settings import require
from bluegreen.steps import bake

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=GateEvent)
def lambda_handler(event: GateEvent, context: LambdaContext) -> dict:
    return bake.run(event, deps).dump()
