"""RunHooks states of the blue/green state machine (logic: bluegreen.steps.run_hooks)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES
from bluegreen.deps import Deps
from bluegreen.domain.settings import require
from bluegreen.steps import run_hooks

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require()  # cold start: a malformed variable fails here, named
deps = Deps()


@logger.inject_lambda_context(correlation_id_path="context.executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=run_hooks.HooksEvent)
def lambda_handler(event: run_hooks.HooksEvent, context: LambdaContext) -> dict:
    # The time left in this invocation: a hook's wait that would outlive it goes back to the state machine.
    deps.remaining_seconds = lambda: context.get_remaining_time_in_millis() / 1000
    return run_hooks.run(event, deps).dump()
