"""Scheduled every 5 minutes: repair what lost events left behind (logic: bluegreen.reconcile)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bluegreen import TRACED_MODULES, reconcile
from bluegreen.deps import Deps
from bluegreen.domain.settings import require

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
require("TABLE_NAME", "STATE_MACHINE_ARN")  # cold start: a missing variable fails here, named
deps = Deps()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = reconcile.run(deps)
    repairs = [r for r in report.repairs if r.kind != "unseen-push"]
    metrics.add_metric(name="LeftoversRepaired", unit=MetricUnit.Count, value=len(repairs))
    metrics.add_metric(name="UnseenPushes", unit=MetricUnit.Count, value=len(report.repairs) - len(repairs))
    return report.dump()
