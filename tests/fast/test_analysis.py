"""Issue 13: the built-in analysis's pure rules (bluegreen/analysis.py): no moto, no AWS."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import ValidationError

from bluegreen import analysis
from bluegreen.analysis import AnalysisConfig, AnalysisSpec, Baseline, PeriodValues
from bluegreen.errors import AnalysisConfigOutOfRange
from bluegreen.models import ServiceConfig
from bluegreen_cli.local.metrics import expression_value

START = datetime(2026, 11, 30, 10, 3)
GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2222"
BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1111"
RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web-alb/abcd/ef01/2345"


def spec(baseline: Baseline | None = None, **config: object) -> AnalysisSpec:
    return AnalysisSpec.of(AnalysisConfig.model_validate({"minRequests": 100, **config}), baseline or Baseline())


def period(**values: float) -> PeriodValues:
    return PeriodValues(start=START, **values)


LATENCY = {"responseTime": {"maxSeconds": 0.2, "maxRatioToBlue": 1.5}}

# (case, baseline, config, period values, expected breaching metric or None)
CASES = [
    ("green worse than blue", None, {}, {"ge": 30, "gq": 600, "be": 0, "bq": 5400}, "5xx rate"),
    ("both equally bad: not green's fault", None, {}, {"ge": 30, "gq": 600, "be": 270, "bq": 5400}, None),
    ("green twice blue's and above 0.5%: breach", None, {}, {"ge": 31, "gq": 600, "be": 135, "bq": 5400}, "5xx rate"),
    ("green below the absolute floor, blue perfect", None, {}, {"ge": 2, "gq": 600, "bq": 5400}, None),
    ("too little green traffic to judge", None, {}, {"ge": 40, "gq": 80, "bq": 5400}, None),
    ("no datapoints at all", None, {}, {}, None),
    ("blue idle, green over the absolute limit", None, {}, {"ge": 30, "gq": 600}, "5xx rate"),
    ("blue idle, green as bad as blue's baseline", Baseline(errorRate=0.05), {}, {"ge": 30, "gq": 600}, None),
    ("blue idle, green over 2x blue's baseline", Baseline(errorRate=0.01), {}, {"ge": 30, "gq": 600}, "5xx rate"),
    (
        "blue with too few requests uses the baseline",
        Baseline(errorRate=0.05),
        {},
        {"ge": 30, "gq": 600, "be": 9, "bq": 10},
        None,
    ),
    ("green slower than blue", None, LATENCY, {"gq": 600, "gt": 0.5, "bq": 5400, "bt": 0.05}, "response time"),
    ("both equally slow", None, LATENCY, {"gq": 600, "gt": 0.5, "bq": 5400, "bt": 0.45}, None),
    ("green slow vs blue's baseline", Baseline(responseTime=0.1), LATENCY, {"gq": 600, "gt": 0.5}, "response time"),
    ("green under the latency floor", None, LATENCY, {"gq": 600, "gt": 0.15, "bq": 5400, "bt": 0.01}, None),
]


@pytest.mark.parametrize(("case", "baseline", "config", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_judge(case: str, baseline: Baseline | None, config: dict, values: dict, expected: str | None) -> None:
    # Given a period's datapoints and the thresholds
    the_spec = spec(baseline, **config)

    # When the period is judged
    finding = analysis.judge(period(**values), the_spec)

    # Then the breach (or none) is as decided
    assert (finding.metric if finding else None) == expected


@pytest.mark.parametrize(("case", "baseline", "config", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_alarm_expression_says_what_judge_says(
    case: str, baseline: Baseline | None, config: dict, values: dict, expected: str | None
) -> None:
    # Given the alarm the workflow puts for these thresholds
    the_spec = spec(baseline, **config)
    request = analysis.alarm_request(
        "bluegreen-analysis-web-x",
        AnalysisConfig.model_validate({"minRequests": 100, **config}),
        the_spec,
        "app/a/1",
        GREEN,
        BLUE,
    )
    metric_ids = {m["Id"] for m in request["Metrics"] if "MetricStat" in m}
    maths = {m["Id"]: m["Expression"] for m in request["Metrics"] if "Expression" in m}
    watched = next(m["Expression"] for m in request["Metrics"] if m["ReturnData"])

    # When its metric math is evaluated over the same period (ELB reports no zero count: missing values)
    value = expression_value(watched, {i: values.get(i) for i in metric_ids}, maths)

    # Then it breaches (>= 1) exactly when the pure rule finds a breach
    assert (value is not None and value >= 1) == (expected is not None)


def test_the_alarm_stays_within_cloudwatch_limits() -> None:
    # Given the largest analysis (errors and response time)
    the_spec = spec(Baseline(errorRate=0.01, responseTime=0.1), **LATENCY)
    config = AnalysisConfig.model_validate({"minRequests": 100, **LATENCY})

    # When its alarm is built
    request = analysis.alarm_request(analysis.alarm_name("s" * 100, "e" * 80), config, the_spec, "app/a/1", GREEN, BLUE)

    # Then it holds at most 10 metrics and 10 expressions, one returning data, and fits the name/description limits
    metrics = [m for m in request["Metrics"] if "MetricStat" in m]
    maths = [m for m in request["Metrics"] if "Expression" in m]
    assert len(metrics) <= 10 and len(maths) <= 10
    assert [m["Id"] for m in request["Metrics"] if m["ReturnData"]] == ["verdict"]
    assert len(request["AlarmName"]) <= 255 and request["AlarmName"].startswith("bluegreen-analysis-")
    assert len(request["AlarmDescription"]) <= 1024
    assert AnalysisSpec.parse(request["AlarmDescription"]) == the_spec
    assert request["TreatMissingData"] == "notBreaching"
    dims = {d["Value"] for m in metrics for d in m["MetricStat"]["Metric"]["Dimensions"]}
    assert dims == {"app/a/1", "targetgroup/web-b/2222", "targetgroup/web-a/1111"}


def test_explain_names_the_metric_both_values_and_the_window() -> None:
    # Given two breaching minutes out of three
    the_spec = spec()
    periods = [
        PeriodValues(start=datetime(2026, 11, 30, 10, 1), gq=600, bq=5400),
        PeriodValues(start=datetime(2026, 11, 30, 10, 2), ge=12, gq=600, bq=5400),
        PeriodValues(start=datetime(2026, 11, 30, 10, 3), ge=30, gq=600, be=27, bq=5400),
    ]

    # When the failure is explained
    text = analysis.explain("bluegreen-analysis-web-x", periods, the_spec)

    # Then the cause names the metric, green's and blue's values, the limit and the latest breaching window
    assert "2 of the last 3 periods breached" in text
    assert "green's 5xx rate 5.00% (30 of 600 requests)" in text
    assert "blue's 0.50% (5400 requests)" in text
    assert "limit 1.00%" in text
    assert "window 2026-11-30 10:03-10:04 UTC" in text


def test_explain_after_the_cutover_compares_with_blues_baseline() -> None:
    text = analysis.explain(
        "a", [PeriodValues(start=START, ge=60, gq=600)], spec(Baseline(errorRate=0.001, responseTime=0.05))
    )
    assert "blue's 0.10% before the shift (blue serves no production now)" in text


@pytest.mark.parametrize(
    ("errors", "requests", "expected"),
    [
        (10, 1000, Baseline(errorRate=0.01, responseTime=0.05)),
        (None, 1000, Baseline(errorRate=0.0, responseTime=0.05)),
        (5, 50, Baseline()),
        (None, None, Baseline()),
    ],
)
def test_baseline(errors: float | None, requests: float | None, expected: Baseline) -> None:
    # Given blue's sums over the baseline window, When they become the baseline, Then too few requests: unknown
    assert analysis.baseline(errors, requests, 0.05, 100) == expected


@pytest.mark.parametrize(
    ("route", "dimension"),
    [
        (RULE, "app/web-alb/abcd"),
        ("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web-alb/abcd/ef01", "app/web-alb/abcd"),
    ],
)
def test_load_balancer_dimension(route: str, dimension: str) -> None:
    assert analysis.load_balancer_dimension(route) == dimension
    assert analysis.target_group_dimension(GREEN) == "targetgroup/web-b/2222"


BASE_CONFIG = {
    "cluster": "c",
    "service": "web",
    "containerName": "web",
    "repository": "web",
    "productionRuleArn": RULE,
    "testRuleArn": RULE + "x",
    "targetGroupArns": [BLUE, GREEN],
}


@pytest.mark.parametrize(
    "block",
    [
        {"errorRate": {"maxPercent": 0}},
        {"errorRate": {"maxPercent": 101}},
        {"errorRate": {"maxRatioToBlue": 0.5}},
        {"minRequests": 0},
        {"periodSeconds": 90},
        {"periodSeconds": 30},
        {"evaluationPeriods": 2, "datapointsToAlarm": 3},
        {"responseTime": {"maxSeconds": -1}},
        {"responseTime": {}},
        {"unknownThreshold": 1},
    ],
)
def test_out_of_range_thresholds_are_refused_with_their_own_error(block: dict) -> None:
    # Given a configuration whose analysis block is out of range
    with pytest.raises(ValidationError) as caught:
        ServiceConfig.model_validate({**BASE_CONFIG, "analysis": block})

    # When the loader translates the problem
    with pytest.raises(AnalysisConfigOutOfRange) as refused:
        analysis.refuse_invalid(caught.value, "SSM parameter /bluegreen/services/web")

    # Then the error names the setting and where to read the ranges
    assert "analysis" in str(refused.value) and "Built-in analysis" in str(refused.value)


def test_analysis_is_off_unless_configured() -> None:
    assert not ServiceConfig.model_validate(BASE_CONFIG).analysis_enabled()
    assert ServiceConfig.model_validate({**BASE_CONFIG, "analysis": {}}).analysis_enabled()
    assert not ServiceConfig.model_validate({**BASE_CONFIG, "analysis": {"enabled": False}}).analysis_enabled()


def test_alarm_names_carry_the_prefix_the_iam_policy_scopes() -> None:
    name = analysis.alarm_name("web", "web-v2-1234")
    assert name == "bluegreen-analysis-web-web-v2-1234" and analysis.is_analysis_alarm(name)
    assert not analysis.is_analysis_alarm("web-5xx")
    assert json.loads(spec().description())["minRequests"] == 100
