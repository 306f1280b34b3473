"""The built-in analysis's pure rules (bluegreen/domain/analysis.py): no moto, no AWS."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import ValidationError

from bluegreen.domain import analysis
from bluegreen.domain.analysis import AnalysisConfig, AnalysisSpec, Baseline, PeriodValues
from bluegreen.domain.errors import AnalysisConfigOutOfRange
from bluegreen.domain.models import ServiceConfig
from bluegreen_emulator.metrics import expression_value, percentile

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
        {"evaluationPeriods": 1, "datapointsToAlarm": 1},  # 1 of 1: a late latest period keeps it OK
        {"evaluationPeriods": 3, "datapointsToAlarm": 3},
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


# --- response time by percentile ---------------------------------------------------------------
def _time_stats(config: dict) -> set[str]:
    the_spec = spec(**config)
    queries = analysis.metric_queries(the_spec, "app/a/1", GREEN, BLUE)
    return {q["MetricStat"]["Stat"] for q in queries if q["MetricStat"]["Metric"]["MetricName"] == "TargetResponseTime"}


def test_the_response_time_is_judged_by_p95_unless_another_percentile_is_configured() -> None:
    # Given a response-time limit without a percentile, and one with p99.9
    # When the alarm's queries are built, Then green's and blue's TargetResponseTime use that percentile
    assert _time_stats(LATENCY) == {"p95"}
    assert _time_stats({"responseTime": {"maxSeconds": 0.2, "percentile": "p99.9"}}) == {"p99.9"}
    # And the counts stay sums; without a responseTime block no TargetResponseTime is read
    assert _time_stats({}) == set()
    assert {q["MetricStat"]["Stat"] for q in analysis.metric_queries(spec(), "app/a/1", GREEN, BLUE)} == {"Sum"}


def test_an_alarm_made_before_percentiles_is_still_explained_as_a_mean() -> None:
    # Given the description of an analysis alarm created by the version that judged the mean (no timeStat)
    fields = {"period": 60, "evaluationPeriods": 3, "minRequests": 100, "maxPercent": 0.5, "ratio": 2}
    old = AnalysisSpec.parse(json.dumps({"v": 1, **fields, "maxSeconds": 0.2, "timeRatio": 1.5}))
    # Then its statistic is the mean, and a breach says so
    assert old is not None and old.time_statistic == "Average"
    finding = analysis.judge(period(gq=600, gt=0.5, bq=5400, bt=0.05), old)
    assert finding is not None and "green's mean response time 500 ms" in finding.text()


@pytest.mark.parametrize(
    ("blue", "expected"),
    [(0.2, 0.3), (0.01, 0.2), (None, 0.2)],
    ids=["ratio x blue's above the floor", "the floor above ratio x blue's", "blue unknown: the floor"],
)
def test_response_time_limit_is_the_larger_of_the_floor_and_ratio_times_blue(
    blue: float | None, expected: float
) -> None:
    assert spec(**LATENCY).time_limit(blue) == pytest.approx(expected)


def test_a_slow_tail_is_explained_with_the_percentile_both_values_limit_and_window() -> None:
    # Given green's p95 at 400 ms while blue's is 80 ms (limit max(200 ms, 1.5 x 80 ms))
    the_spec = spec(**LATENCY)
    text = analysis.explain("bluegreen-analysis-web-x", [period(gq=600, gt=0.4, bq=5400, bt=0.08)], the_spec)
    # Then the cause names the percentile, both values, the limit and the window
    assert "green's p95 response time 400 ms (600 requests) vs blue's p95 80 ms (5400 requests)" in text
    assert "limit 200 ms" in text and "window 2026-11-30 10:03-10:04 UTC" in text


@pytest.mark.parametrize("percentile", ["p50", "p90", "p95", "p99", "p99.5", "p99.9", "p75.25"])
def test_percentiles_from_p50_to_p99_9_are_accepted(percentile: str) -> None:
    config = ServiceConfig.model_validate(
        {**BASE_CONFIG, "analysis": {"responseTime": {"maxSeconds": 0.3, "percentile": percentile}}}
    )
    assert config.analysis is not None and config.analysis.responseTime is not None
    assert config.analysis.responseTime.percentile == percentile


@pytest.mark.parametrize("percentile", ["p49", "p99.95", "p100", "p9", "95", "P95", "p95.", "Average", "tm90", ""])
def test_a_bad_percentile_is_refused_when_the_configuration_is_loaded(percentile: str) -> None:
    # Given a response-time limit with a percentile out of p50..p99.9 or not CloudWatch's pNN.NN
    with pytest.raises(ValidationError) as caught:
        ServiceConfig.model_validate(
            {**BASE_CONFIG, "analysis": {"responseTime": {"maxSeconds": 0.3, "percentile": percentile}}}
        )
    # When the loader translates it, Then it is the analysis's own error, naming the field and the range
    with pytest.raises(AnalysisConfigOutOfRange) as refused:
        analysis.refuse_invalid(caught.value, "SSM parameter /bluegreen/services/web")
    assert "analysis.responseTime.percentile" in str(refused.value) and "p50 to p99.9" in str(refused.value)


@pytest.mark.parametrize(
    ("samples", "p", "expected"),
    [
        ([(0.01, 50), (0.02, 40), (0.5, 6), (1.0, 4)], 95, 0.5),
        ([(0.01, 50), (0.02, 40), (0.5, 6), (1.0, 4)], 90, 0.02),
        ([(1.0, 4), (0.01, 50), (0.5, 6), (0.02, 40)], 99, 1.0),  # order does not matter
        ([(0.02, 55.8), (0.4, 4.2)], 95, 0.4),  # fractional counts (60 requests x 93% / 7%)
        ([(0.3, 1)], 50, 0.3),
        ([], 95, None),
        ([(-1.0, 3), (2.0, 1)], 50, None),  # CloudWatch computes no percentile of negative values
    ],
)
def test_the_emulators_percentile_is_the_nearest_rank(samples: list, p: float, expected: float | None) -> None:
    assert percentile(samples, p) == expected


@pytest.mark.parametrize(("name", "expected"), [("p95", 95.0), ("p99.9", 99.9), ("p0", 0.0), ("p100", 100.0),
                                                ("Average", None), ("p101", None), ("p99.999", None)])  # fmt: skip
def test_percentile_statistic_names_are_cloudwatchs_p0_to_p100(name: str, expected: float | None) -> None:
    assert analysis.percentile_of(name) == expected


# --- was green judged at all? ------------------------------------------------------------------
def _minute(offset: int, **values: float) -> PeriodValues:
    return PeriodValues(start=datetime(2026, 11, 30, 10, offset), **values)


@pytest.mark.parametrize(
    ("case", "baseline", "periods", "expected"),
    [
        (
            "green never reached the minimum",
            None,
            [_minute(1, gq=60, bq=540), _minute(2, gq=60, bq=540), _minute(3, gq=90)],
            ("not_judged", 0, 90, "analysis: not judged — 90 requests < minimum 100 (green's busiest 60s period of 3)"),
        ),
        ("no traffic at all", None, [], ("not_judged", 0, 0, "analysis: not judged — 0 requests < minimum 100")),
        (
            "judged against live blue",
            None,
            [_minute(1, gq=60, bq=540), _minute(2, gq=600, bq=5400), _minute(3, gq=600)],
            ("judged", 2, 600, "analysis: judged in 2 of 3 periods"),
        ),
        (
            "judged after the cutover against blue's baseline",
            Baseline(errorRate=0.0),
            [_minute(1, gq=600)],
            ("judged", 1, 600, "analysis: judged in 1 of 1 periods"),
        ),
        (
            "judged, but blue had too little traffic and no baseline: absolute limits only",
            None,
            [_minute(1, gq=600, bq=30)],
            ("judged", 1, 600, "analysis: judged in 1 of 1 periods, against the absolute limits only — blue 30"),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_verdict(case: str, baseline: Baseline | None, periods: list[PeriodValues], expected: tuple) -> None:
    # Given the periods since the first shift, When the verdict is taken
    found = analysis.verdict(periods, spec(baseline))

    # Then it says whether green was judged, in how many periods, and green's busiest period
    verdict, judged, green, text = expected
    assert (found.verdict, found.judgedPeriods, found.greenRequests) == (verdict, judged, green)
    assert found.summary == found.text() and found.summary.startswith(text)
    assert found.notice == (verdict == "not_judged" or "absolute limits only" in text)
