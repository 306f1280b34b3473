"""Built-in analysis — green compared with blue from the load balancer's own metrics (pure, no AWS).

When production first forwards to green (Swap, first step), the workflow puts one **metric-math alarm** per
deployment (:func:`alarm_name`) over the per-target-group ALB metrics of green and blue:
``HTTPCode_Target_5XX_Count`` and ``RequestCount`` (Sum), optionally ``TargetResponseTime`` (a percentile,
``p95`` by default: a slow tail fails green even when its mean is fine). The bake
and every traffic step watch it beside the user's alarms, so a failed analysis reaches the existing
alarm-event path (EventBridge -> AlarmEvent -> SendTaskFailure -> Rollback) within seconds of CloudWatch's
evaluation, with no state added: the analysis costs zero state transitions per check.

The rule, per period (a minute by default), for green's 5xx rate (and likewise its response-time percentile):

* green served fewer than ``minRequests`` requests: not judged (too little traffic: not breaching);
* else green breaches when its rate is above ``maxPercent`` **and** above ``maxRatioToBlue`` x blue's rate,
  blue's rate being blue's live rate while blue itself serves at least ``minRequests`` in the period (a
  canary or linear step), else blue's *baseline*: its rate over ``baselineSeconds`` just before the first
  shift, read once by Swap (after the cutover blue serves nothing to compare with).

So green and blue equally bad is **not** a failed analysis: rolling back to a blue that fails as much would
not help production (the cause is elsewhere, e.g. a dependency); the user's alarms still watch the outage.

The alarm's description carries the thresholds and the baseline (:class:`AnalysisSpec`), so the alarm
handler explains a failure (:func:`explain`) from the alarm alone: which metric, green's and blue's values,
the window.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bluegreen.domain.errors import AnalysisConfigOutOfRange

ALARM_PREFIX = "bluegreen-analysis-"
MAX_ALARM_NAME = 255  # PutMetricAlarm AlarmName
MAX_DESCRIPTION = 1024  # PutMetricAlarm AlarmDescription
METRIC_IDS = ("ge", "gq", "be", "bq", "gt", "bt")  # green/blue 5xx, requests, response time


class ErrorRateLimit(BaseModel):
    """Green's 5xx rate (HTTPCode_Target_5XX_Count / RequestCount) must stay below max(ratio x blue's, percent)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    maxPercent: float = Field(default=0.5, gt=0, le=100)
    maxRatioToBlue: float = Field(default=2.0, ge=1, le=100)


# CloudWatch's percentile statistics: ``pNN`` or ``pNN.NN`` (at most two decimals), p0 to p100 (the emulator
# computes every one of them); the analysis takes p50..p99.9
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100(?:\.0{1,2})?)$")
MIN_PERCENTILE, MAX_PERCENTILE = 50.0, 99.9


def percentile_of(statistic: str) -> float | None:
    """The percentile of a CloudWatch statistic name (``p95`` -> 95.0, ``p99.9`` -> 99.9); None otherwise."""
    match = PERCENTILE.match(statistic)
    return float(match.group(1)) if match else None


class ResponseTimeLimit(BaseModel):
    """Green's TargetResponseTime percentile (``p95`` by default) must stay below max(ratio x blue's, seconds)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    maxSeconds: float = Field(gt=0, le=60)
    maxRatioToBlue: float = Field(default=1.5, ge=1, le=100)
    percentile: str = "p95"  # the statistic of both green's and blue's TargetResponseTime in the alarm

    @field_validator("percentile")
    @classmethod
    def _percentile(cls, value: str) -> str:
        number = percentile_of(value)
        if number is None or not MIN_PERCENTILE <= number <= MAX_PERCENTILE:
            raise ValueError(
                f"must be a percentile statistic from p{MIN_PERCENTILE:g} to p{MAX_PERCENTILE:g} such as p90, p95, "
                f"p99 or p99.9 (CloudWatch's pNN.NN)"
            )
        return value


class AnalysisConfig(BaseModel):
    """The ``analysis`` block of a service configuration (absent: no built-in analysis)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    enabled: bool = True
    periodSeconds: int = Field(default=60, ge=60, le=3600)
    evaluationPeriods: int = Field(default=3, ge=2, le=10)
    datapointsToAlarm: int = Field(default=2, ge=1, le=10)
    minRequests: int = Field(default=100, ge=1, le=10_000_000)  # green's requests per period before judging
    baselineSeconds: int = Field(default=600, ge=60, le=86400)  # blue's window read before the first shift
    errorRate: ErrorRateLimit = Field(default_factory=ErrorRateLimit)
    responseTime: ResponseTimeLimit | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisConfig:
        if self.periodSeconds % 60:
            raise ValueError("analysis.periodSeconds must be a multiple of 60 (CloudWatch alarm periods)")
        if self.datapointsToAlarm >= self.evaluationPeriods:
            # ELB publishes a period's metrics late, and the alarm's FILL(m, 0) turns the not-yet-published
            # latest period into "not breaching": an alarm that needs every period (1 of 1, 3 of 3) can then stay
            # OK while green fails. M of N with M < N leaves the latest period out of the decision.
            raise ValueError(
                "analysis.datapointsToAlarm must be less than analysis.evaluationPeriods (e.g. 2 of 3): load "
                "balancer metrics arrive late and the latest period counts as not breaching until they do"
            )
        if self.periodSeconds * self.evaluationPeriods > 86400:
            raise ValueError("analysis: periodSeconds x evaluationPeriods must not exceed one day (CloudWatch)")
        return self


def refuse_invalid(error: ValidationError, where: str) -> None:
    """A configuration problem under ``analysis`` becomes :class:`AnalysisConfigOutOfRange` (else nothing)."""
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        if loc and loc[0] == "analysis":
            raise AnalysisConfigOutOfRange(
                f"{where}: {'.'.join(loc)}: {problem['msg']} (got {problem.get('input')!r}). "
                f"See README, 'Built-in analysis', for the ranges."
            )


# --- the alarm --------------------------------------------------------------------------------------
def alarm_name(service: str, execution_name: str) -> str:
    """The deployment's analysis alarm: a fixed prefix (the IAM policy's scope), the service, the execution."""
    return f"{ALARM_PREFIX}{service}-{execution_name}"[:MAX_ALARM_NAME]


def is_analysis_alarm(name: str) -> bool:
    return name.startswith(ALARM_PREFIX)


def target_group_dimension(target_group_arn: str) -> str:
    """``targetgroup/<name>/<id>``, the TargetGroup dimension of ELB metrics."""
    return target_group_arn.split(":")[-1]


def load_balancer_dimension(route_arn: str) -> str:
    """``app/<name>/<id>`` from a listener or listener-rule ARN, the LoadBalancer dimension of ELB metrics."""
    resource = route_arn.split(":")[-1]  # listener/app/name/id/... or listener-rule/app/name/id/...
    parts = resource.split("/")
    return "/".join(parts[1:4])


class Baseline(BaseModel):
    """Blue's rates over ``baselineSeconds`` before the first shift (None: too little traffic to know)."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    errorRate: float | None = None  # 0..1
    responseTime: float | None = None  # seconds


class AnalysisSpec(BaseModel):
    """What the alarm judges, kept in its description (compact JSON) for the explanation."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    v: Literal[1] = 1
    period: int
    evaluationPeriods: int
    minRequests: int
    maxPercent: float
    ratio: float
    maxSeconds: float | None = None
    timeRatio: float | None = None
    timeStat: str | None = None  # the response-time percentile (absent in alarms made before it: the mean)
    baseline: Baseline = Field(default_factory=Baseline)

    @property
    def time_statistic(self) -> str:
        """The TargetResponseTime statistic of the alarm (``Average`` for an alarm created before percentiles)."""
        return self.timeStat or "Average"

    def time_limit(self, blue: float | None) -> float:
        """Green's response-time limit: max(maxSeconds, ratio x blue's), blue's value being live or the baseline."""
        assert self.maxSeconds is not None and self.timeRatio is not None
        return max(self.maxSeconds, self.timeRatio * blue) if blue is not None else self.maxSeconds

    @classmethod
    def of(cls, config: AnalysisConfig, baseline: Baseline) -> AnalysisSpec:
        time = config.responseTime
        return cls(
            period=config.periodSeconds,
            evaluationPeriods=config.evaluationPeriods,
            minRequests=config.minRequests,
            maxPercent=config.errorRate.maxPercent,
            ratio=config.errorRate.maxRatioToBlue,
            maxSeconds=time.maxSeconds if time else None,
            timeRatio=time.maxRatioToBlue if time else None,
            timeStat=time.percentile if time else None,
            baseline=baseline,
        )

    def description(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), separators=(",", ":"))[:MAX_DESCRIPTION]

    @classmethod
    def parse(cls, description: str | None) -> AnalysisSpec | None:
        try:
            return cls.model_validate_json(description or "")
        except ValidationError:
            return None


def _num(value: float) -> str:
    return repr(round(value, 9))


def _metric(metric_id: str, name: str, statistic: str, load_balancer: str, group: str, period: int) -> dict:
    return {
        "Id": metric_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": name,
                "Dimensions": [
                    {"Name": "LoadBalancer", "Value": load_balancer},
                    {"Name": "TargetGroup", "Value": group},
                ],
            },
            "Period": period,
            "Stat": statistic,
        },
        "ReturnData": False,
    }


def metric_queries(spec: AnalysisSpec, load_balancer: str, green_group: str, blue_group: str) -> list[dict[str, Any]]:
    """The MetricStat queries (at most 6 of the 10 an alarm may hold), also used by GetMetricData."""
    queries = []
    for prefix, arn in (("g", green_group), ("b", blue_group)):
        group = target_group_dimension(arn)
        queries.append(_metric(f"{prefix}e", "HTTPCode_Target_5XX_Count", "Sum", load_balancer, group, spec.period))
        queries.append(_metric(f"{prefix}q", "RequestCount", "Sum", load_balancer, group, spec.period))
        if spec.maxSeconds is not None:
            queries.append(
                _metric(f"{prefix}t", "TargetResponseTime", spec.time_statistic, load_balancer, group, spec.period)
            )
    return queries


def expressions(spec: AnalysisSpec) -> list[tuple[str, str]]:
    """``(id, expression)`` of the alarm's metric math; the last one is what the alarm watches (1: breaching).

    Only arithmetic, comparisons, AND/OR, IF and FILL (all supported in alarms); no division (a period where a
    count is zero or missing would drop the datapoint): ``ge/gq > a`` is written ``ge > a*gq``.
    """
    n = spec.minRequests
    absolute = spec.maxPercent / 100
    ratio = spec.ratio
    base = spec.baseline.errorRate
    # without a baseline (blue served too little before the first shift), only the absolute limit applies
    base_limit = max(absolute, ratio * base) if base is not None else absolute
    result = [
        ("gerr", "FILL(ge, 0)"),
        ("greq", "FILL(gq, 0)"),
        ("berr", "FILL(be, 0)"),
        ("breq", "FILL(bq, 0)"),
        (
            "errors",
            f"IF(greq >= {n} AND gerr > {_num(absolute)} * greq AND ((breq >= {n} AND gerr * breq > "
            f"{_num(ratio)} * berr * greq) OR (breq < {n} AND gerr > {_num(base_limit)} * greq)), 1, 0)",
        ),
    ]
    watched = "errors"
    if spec.maxSeconds is not None and spec.timeRatio is not None:
        time_limit = spec.time_limit(spec.baseline.responseTime)
        result.append(
            (
                "latency",
                f"IF(greq >= {n} AND FILL(gt, 0) > {_num(spec.maxSeconds)} AND ((breq >= {n} AND FILL(gt, 0) > "
                f"{_num(spec.timeRatio)} * FILL(bt, 0)) OR (breq < {n} AND FILL(gt, 0) > {_num(time_limit)})), 1, 0)",
            )
        )
        watched = "errors + latency"
    result.append(("verdict", watched))
    return result


def alarm_request(
    name: str, config: AnalysisConfig, spec: AnalysisSpec, load_balancer: str, green_group: str, blue_group: str
) -> dict[str, Any]:
    """The PutMetricAlarm arguments of the deployment's analysis alarm."""
    metrics = metric_queries(spec, load_balancer, green_group, blue_group)
    maths = expressions(spec)
    for index, (metric_id, expression) in enumerate(maths):
        last = index == len(maths) - 1
        item = {"Id": metric_id, "Expression": expression, "ReturnData": last}
        if last:
            item["Label"] = "green worse than blue (1)"
        metrics.append(item)
    return {
        "AlarmName": name,
        "AlarmDescription": spec.description(),
        "Metrics": metrics,
        "EvaluationPeriods": config.evaluationPeriods,
        "DatapointsToAlarm": config.datapointsToAlarm,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",  # no traffic at all: nothing to judge
    }


# --- the verdict and its explanation ------------------------------------------------------------------
class PeriodValues(BaseModel):
    """One period's datapoints of the six metrics (None: no datapoint, as ELB reports no zero count)."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    start: datetime
    ge: float | None = None
    gq: float | None = None
    be: float | None = None
    bq: float | None = None
    gt: float | None = None
    bt: float | None = None


class Finding(BaseModel):
    """Why one period breached: the metric, green's and blue's values and the limit applied."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    metric: Literal["5xx rate", "response time"]
    statistic: str | None = None  # the response time's (p95, or Average for an alarm made before percentiles)
    start: datetime
    end: datetime
    green: float
    blue: float | None  # blue's live value, or None when the baseline was used
    baseline: float | None
    limit: float
    greenRequests: float
    blueRequests: float

    def text(self) -> str:
        window = f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"
        metric: str = self.metric
        stat = ""
        if self.metric == "5xx rate":
            shown = _percent
            green = f"{shown(self.green)} ({self.green * self.greenRequests:.0f} of {self.greenRequests:.0f} requests)"
        else:
            shown = _seconds
            stat = ("mean" if self.statistic in (None, "Average") else str(self.statistic)) + " "
            metric = f"{stat}{self.metric}"
            green = f"{shown(self.green)} ({self.greenRequests:.0f} requests)"
        if self.blue is not None:
            blue = f"blue's {stat}{shown(self.blue)} ({self.blueRequests:.0f} requests)"
        elif self.baseline is not None:
            blue = f"blue's {stat}{shown(self.baseline)} before the shift (blue serves no production now)"
        else:
            blue = "blue unknown (too little traffic before the shift: absolute limit only)"
        return f"green's {metric} {green} vs {blue}; limit {shown(self.limit)}; window {window}"


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def judge(values: PeriodValues, spec: AnalysisSpec) -> Finding | None:
    """The alarm's rule for one period, in Python (the same as :func:`expressions`; a fast test checks both)."""
    greq, breq = values.gq or 0.0, values.bq or 0.0
    if greq < spec.minRequests:
        return None  # too little traffic to judge
    end = values.start + timedelta(seconds=spec.period)
    blue_live = breq >= spec.minRequests
    green_rate = (values.ge or 0.0) / greq
    blue_rate = (values.be or 0.0) / breq if blue_live else None
    base = spec.baseline.errorRate
    absolute = spec.maxPercent / 100
    relative = spec.ratio * (blue_rate if blue_rate is not None else (base or 0.0))
    limit = max(absolute, relative)
    common = {"start": values.start, "end": end, "greenRequests": greq, "blueRequests": breq}
    if green_rate > limit:
        return Finding(
            metric="5xx rate",
            green=green_rate,
            blue=blue_rate,
            baseline=None if blue_live else base,
            limit=limit,
            **common,
        )
    if spec.maxSeconds is not None and spec.timeRatio is not None:
        green_time = values.gt or 0.0
        blue_time = (values.bt or 0.0) if blue_live else None
        base_time = spec.baseline.responseTime
        limit = spec.time_limit(blue_time if blue_time is not None else base_time)
        if green_time > limit:
            return Finding(
                metric="response time",
                statistic=spec.time_statistic,
                green=green_time,
                blue=blue_time,
                baseline=None if blue_live else base_time,
                limit=limit,
                **common,
            )
    return None


def explain(name: str, periods: list[PeriodValues], spec: AnalysisSpec) -> str:
    """The rollback cause: the latest breaching period, else what the data shows (it may lag the alarm)."""
    findings = [f for f in (judge(p, spec) for p in sorted(periods, key=lambda p: p.start)) if f is not None]
    if findings:
        latest = findings[-1]
        return (
            f"Built-in analysis {name} failed ({len(findings)} of the last {len(periods)} periods breached): "
            f"{latest.text()}."
        )
    return f"Built-in analysis {name} went to ALARM; the datapoints read afterwards show no breaching period."


def baseline(errors: float | None, requests: float | None, response_time: float | None, min_requests: int) -> Baseline:
    """Blue's rates over the baseline window (sums over the whole window; too few requests: unknown)."""
    if not requests or requests < min_requests:
        return Baseline()
    return Baseline(errorRate=(errors or 0.0) / requests, responseTime=response_time)


def windowed(series: dict[str, dict[datetime, float]], spec: AnalysisSpec) -> list[PeriodValues]:
    """GetMetricData results (id -> timestamp -> value) as one :class:`PeriodValues` per period start."""
    starts = sorted({moment for values in series.values() for moment in values})
    return [
        PeriodValues(start=start, **{i: series.get(i, {}).get(start) for i in METRIC_IDS if start in series.get(i, {})})
        for start in starts
    ]


# --- whether green was judged at all ("not judged" is said, not silent) -----------------------------
class AnalysisVerdict(BaseModel):
    """Whether the built-in analysis could judge green during the steps and the bake (a deployment that ends
    deployed passed every judgement it got; this says whether it got any). Computed at DeleteOld from the periods
    since the first shift (:func:`verdict`); in the execution output, the deployment record, Slack and the
    ``Deployment Succeeded`` event."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    verdict: Literal["judged", "not_judged"]
    periods: int  # periods with traffic since the first shift
    judgedPeriods: int  # periods in which green served at least minRequests
    greenRequests: int  # green's most requests in one period
    blueRequests: int  # blue's most requests in one of the judged periods (all periods when none was judged)
    minRequests: int
    periodSeconds: int
    blueCompared: bool  # blue's live traffic or its baseline was compared in a judged period (else absolute only)
    summary: str = ""  # :meth:`text`, for readers of the output and the event

    def text(self) -> str:
        if self.verdict == "not_judged":
            return (
                f"analysis: not judged — {self.greenRequests} requests < minimum {self.minRequests} "
                f"(green's busiest {self.periodSeconds}s period of {self.periods})"
            )
        judged = f"analysis: judged in {self.judgedPeriods} of {self.periods} periods"
        if not self.blueCompared:
            return (
                f"{judged}, against the absolute limits only — blue {self.blueRequests} requests < minimum "
                f"{self.minRequests} and no baseline"
            )
        return judged

    @property
    def notice(self) -> bool:
        """Something the user should know: green never judged, or judged without comparing with blue."""
        return self.verdict == "not_judged" or not self.blueCompared


def verdict(periods: list[PeriodValues], spec: AnalysisSpec) -> AnalysisVerdict:
    """Whether green was judged in the periods since the first shift (the alarm's own minimum, per period)."""
    judged = [p for p in periods if (p.gq or 0.0) >= spec.minRequests]
    blue_live = any((p.bq or 0.0) >= spec.minRequests for p in judged)
    blue_seen = [p.bq or 0.0 for p in (judged or periods)]
    found = AnalysisVerdict(
        verdict="judged" if judged else "not_judged",
        periods=len(periods),
        judgedPeriods=len(judged),
        greenRequests=round(max((p.gq or 0.0 for p in periods), default=0.0)),
        blueRequests=round(max(blue_seen, default=0.0)),
        minRequests=spec.minRequests,
        periodSeconds=spec.period,
        blueCompared=blue_live or spec.baseline.errorRate is not None,
    )
    return found.model_copy(update={"summary": found.text()})
