"""The AWS side of the built-in analysis (thin helpers; the rules are in :mod:`.analysis`).

* :func:`put` — Swap's first step: blue's baseline (GetMetricData), then the deployment's metric-math alarm;
* :func:`delete` — every end (DeleteOld, Cleanup, Rollback, ExecutionEnded): nothing left behind;
* :func:`explain_alarm` — the alarm handler and the bake: the rollback cause, from the alarm and its metrics;
* :func:`read_verdict` — DeleteOld: whether green was judged at all (or never served enough requests).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.domain import analysis, clock
from bluegreen.domain.models import DeploymentContext

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

logger = Logger(child=True)


def name_of(context: DeploymentContext) -> str | None:
    """The deployment's analysis alarm, or None when the service has no analysis."""
    if not context.config.analysis_enabled():
        return None
    return analysis.alarm_name(context.service, context.executionName)


def _metric_data(
    cloudwatch: CloudWatchClient, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, dict[datetime, float]]:
    series: dict[str, dict[datetime, float]] = {}
    asked = [{**query, "ReturnData": True} for query in queries]
    paginator = cloudwatch.get_paginator("get_metric_data")
    with transient_errors():
        for page in paginator.paginate(MetricDataQueries=asked, StartTime=start, EndTime=end):  # type: ignore[arg-type]
            for result in page.get("MetricDataResults", []):
                found = series.setdefault(result["Id"], {})
                for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    found[moment.replace(tzinfo=None)] = float(value)
    return series


def read_baseline(
    cloudwatch: CloudWatchClient, config: analysis.AnalysisConfig, load_balancer: str, blue_group: str, now: datetime
) -> analysis.Baseline:
    """Blue's 5xx rate and response time over ``baselineSeconds`` before now (the first shift).

    The response time is blue's per-minute percentile (the alarm's statistic) averaged over the minutes, weighted
    by their requests: the typical value of what the alarm compares green's per-period percentile with."""
    probe = analysis.AnalysisSpec.of(config, analysis.Baseline()).model_copy(update={"period": 60})
    queries = [q for q in analysis.metric_queries(probe, load_balancer, blue_group, blue_group) if q["Id"][0] == "b"]
    series = _metric_data(cloudwatch, queries, now - timedelta(seconds=config.baselineSeconds), now)
    requests = series.get("bq", {})
    total = sum(requests.values())
    errors = sum(series.get("be", {}).values())
    times = series.get("bt", {})
    weighted = sum(times[m] * requests.get(m, 0.0) for m in times)
    response_time = weighted / total if times and total else None
    return analysis.baseline(errors, total, response_time, config.minRequests)


def put(cloudwatch: CloudWatchClient, context: DeploymentContext, green_group: str) -> str | None:
    """Create (or overwrite: a retried Swap) the deployment's analysis alarm; returns its name."""
    name = name_of(context)
    config = context.config.analysis
    if name is None or config is None:
        return None
    load_balancer = analysis.load_balancer_dimension(context.config.production_route_arns()[0])
    base = read_baseline(cloudwatch, config, load_balancer, context.blueTargetGroupArn, clock.now())
    spec = analysis.AnalysisSpec.of(config, base)
    request = analysis.alarm_request(name, config, spec, load_balancer, green_group, context.blueTargetGroupArn)
    with transient_errors():
        cloudwatch.put_metric_alarm(**request)
    logger.info("Analysis alarm created", extra={"alarm": name, "baseline": base.model_dump()})
    return name


MAX_VERDICT_WINDOW = timedelta(days=14)  # one-minute datapoints are kept 15 days; 4 x 20,160 < 100,800 per call


def read_verdict(
    cloudwatch: CloudWatchClient, context: DeploymentContext, green_group: str, since: datetime | None
) -> analysis.AnalysisVerdict | None:
    """Whether green was judged from ``since`` (the first shift) to now; None without analysis or a first shift.

    Reads the alarm (its thresholds and blue's baseline are in its description; a retried DeleteOld that already
    deleted it rebuilds them from the configuration, baseline unknown), then green's and blue's request counts
    per period: two calls, no state."""
    name, config = name_of(context), context.config.analysis
    if name is None or config is None or since is None:
        return None
    try:
        return _verdict(cloudwatch, context, config, name, green_group, since)
    except ClientError:  # the verdict informs; it never fails a deployment whose bake passed
        logger.exception("Could not read the analysis verdict", extra={"alarm": name})
        return None


def _verdict(
    cloudwatch: CloudWatchClient,
    context: DeploymentContext,
    config: analysis.AnalysisConfig,
    name: str,
    green_group: str,
    since: datetime,
) -> analysis.AnalysisVerdict:
    from bluegreen.aws.alarms import describe_alarms

    found = describe_alarms(cloudwatch, [name])
    spec = analysis.AnalysisSpec.parse(found[0].get("AlarmDescription")) if found else None
    spec = spec or analysis.AnalysisSpec.of(config, analysis.Baseline())
    load_balancer = analysis.load_balancer_dimension(context.config.production_route_arns()[0])
    queries = analysis.metric_queries(spec, load_balancer, green_group, context.blueTargetGroupArn)
    counts = [q for q in queries if q["Id"] in ("gq", "bq")]
    end = clock.now().replace(microsecond=0)
    start = max(since.replace(tzinfo=end.tzinfo), end - MAX_VERDICT_WINDOW)
    start = start.replace(second=0, microsecond=0) - timedelta(seconds=start.minute * 60 % spec.period)
    if start >= end:
        return analysis.verdict([], spec)
    series = _metric_data(cloudwatch, counts, start, end)
    return analysis.verdict(analysis.windowed(series, spec), spec)


def delete(cloudwatch: CloudWatchClient, context: DeploymentContext) -> str | None:
    """Delete the deployment's analysis alarm (already gone: fine); returns its name."""
    name = name_of(context)
    if name is not None:
        delete_named(cloudwatch, name)
    return name


def delete_named(cloudwatch: CloudWatchClient, name: str) -> None:
    """DeleteAlarms of one alarm; one that is gone already (a retried end task) is fine."""
    try:
        with transient_errors():
            cloudwatch.delete_alarms(AlarmNames=[name])
    except ClientError as error:
        if error_code(error) != "ResourceNotFound":
            raise


def explain_alarm(cloudwatch: CloudWatchClient, alarm: dict[str, Any], now: datetime | None = None) -> str | None:
    """The cause of an analysis alarm's ALARM (which metric, green's and blue's values, the window); None when
    ``alarm`` is not an analysis alarm or its description is not ours."""
    name = str(alarm.get("AlarmName", ""))
    spec = analysis.AnalysisSpec.parse(alarm.get("AlarmDescription"))
    if not analysis.is_analysis_alarm(name) or spec is None:
        return None
    queries = [q for q in alarm.get("Metrics", []) if q.get("MetricStat")]
    end = (now or clock.now()).replace(second=0, microsecond=0)
    start = end - timedelta(seconds=spec.period * spec.evaluationPeriods)
    series = _metric_data(cloudwatch, queries, start, end)
    return analysis.explain(name, analysis.windowed(series, spec), spec)


def explain_by_name(cloudwatch: CloudWatchClient, name: str, fallback: str) -> str:
    """:func:`explain_alarm` for an alarm known by name (the alarm handler); ``fallback`` if it cannot."""
    if not analysis.is_analysis_alarm(name):
        return fallback
    from bluegreen.aws.alarms import describe_alarms

    try:
        found = describe_alarms(cloudwatch, [name])
        text = explain_alarm(cloudwatch, found[0]) if found else None
    except ClientError:
        logger.exception("Could not explain the analysis alarm", extra={"alarm": name})
        text = None
    return text or fallback
