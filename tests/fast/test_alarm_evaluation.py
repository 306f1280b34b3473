"""CloudWatch alarm evaluation in the emulator (emulator/bluegreen_emulator/metrics.py): pure, no moto."""

from __future__ import annotations

import pytest

from bluegreen_emulator.metrics import (
    Aggregate,
    AlarmSpec,
    MathError,
    MetricQuery,
    MetricStore,
    evaluate,
    expression_value,
    metric_key,
)

TG_A = metric_key("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", [("TargetGroup", "targetgroup/a/1")])
TG_B = metric_key("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", [("TargetGroup", "targetgroup/b/2")])


def store_with(points: dict[tuple, dict[int, float]]) -> MetricStore:
    store = MetricStore()
    for key, minutes in points.items():
        for minute, value in minutes.items():
            aggregate = Aggregate()
            aggregate.add(value)
            store.add(key, minute, aggregate)
    return store


def spec(**overrides) -> AlarmSpec:
    values = {
        "name": "web-5xx",
        "queries": (MetricQuery("m1", TG_A, statistic="Sum", period=60, return_data=True),),
        "period": 60,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 10.0,
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
    }
    values.update(overrides)
    return AlarmSpec(**values)


def test_a_breaching_datapoint_in_the_last_complete_period_alarms() -> None:
    # Given 57 5xx in minute 2 (seconds 120-180) and 3 in minute 3
    store = store_with({TG_A: {2: 57, 3: 3}})
    # Then at 180 s (minute 2 complete) the alarm is in ALARM, naming the datapoint; at 240 s back to OK
    state, reason = evaluate(spec(), store, 180, "OK")
    assert state == "ALARM" and "[57]" in reason and "greater than the threshold (10)" in reason
    assert evaluate(spec(), store, 240, "ALARM")[0] == "OK"
    # ... and a partial minute is not evaluated: at 179 s only minute 1 is complete (no data: not breaching)
    assert evaluate(spec(), store, 179, "OK")[0] == "OK"


def test_m_out_of_n_needs_enough_breaching_periods() -> None:
    # Given 2 of the last 3 minutes over the threshold
    store = store_with({TG_A: {0: 50, 1: 1, 2: 50}})
    # Then 2 out of 3 alarms, 3 out of 3 does not
    assert evaluate(spec(evaluation_periods=3, datapoints_to_alarm=2), store, 180, "OK")[0] == "ALARM"
    assert evaluate(spec(evaluation_periods=3, datapoints_to_alarm=3), store, 180, "OK")[0] == "OK"


def test_a_five_minute_period_sums_its_minutes() -> None:
    # Given 3 5xx a minute for five minutes (15 in the period)
    store = store_with({TG_A: dict.fromkeys(range(5), 3.0)})
    query = MetricQuery("m1", TG_A, statistic="Sum", period=300, return_data=True)
    assert evaluate(spec(queries=(query,), period=300), store, 300, "OK")[0] == "ALARM"
    # ... and their average (3) stays under the threshold
    average = MetricQuery("m1", TG_A, statistic="Average", period=300, return_data=True)
    assert evaluate(spec(queries=(average,), period=300), store, 300, "OK")[0] == "OK"


@pytest.mark.parametrize(
    ("treat", "expected"),
    [("missing", "INSUFFICIENT_DATA"), ("notBreaching", "OK"), ("breaching", "ALARM"), ("ignore", "ALARM")],
)
def test_missing_data_is_treated_as_the_alarm_says(treat: str, expected: str) -> None:
    # Given no datapoint at all, and an alarm currently in ALARM
    assert evaluate(spec(treat_missing_data=treat), MetricStore(), 120, "ALARM")[0] == expected


def test_sum_of_metrics_adds_both_target_groups_even_when_one_reports_nothing() -> None:
    # Given 8 5xx on target group A, 5 on B in one minute, and only A in the next
    store = store_with({TG_A: {0: 8, 1: 11}, TG_B: {0: 5}})
    queries = (
        MetricQuery("a", TG_A, period=60),
        MetricQuery("b", TG_B, period=60),
        MetricQuery("total", expression="SUM(METRICS())", return_data=True),
    )
    # Then SUM(METRICS()) crosses 10 in minute 0 (13) and in minute 1 (11, B missing)
    assert evaluate(spec(queries=queries), store, 60, "OK")[0] == "ALARM"
    assert evaluate(spec(queries=queries), store, 120, "OK")[0] == "ALARM"
    # ... while a + b is missing when one side is (as in CloudWatch metric math)
    plus = (*queries[:2], MetricQuery("total", expression="a + b", return_data=True))
    assert evaluate(spec(queries=plus), store, 120, "ALARM")[0] == "OK"  # notBreaching


def test_unmodelled_expressions_and_comparisons_fail_loudly() -> None:
    store = store_with({TG_A: {0: 1}})
    queries = (MetricQuery("a", TG_A), MetricQuery("e", expression="ANOMALY_DETECTION_BAND(a)", return_data=True))
    with pytest.raises(ValueError, match="ANOMALY_DETECTION_BAND"):
        evaluate(spec(queries=queries), store, 60, "OK")
    with pytest.raises(ValueError, match="LessThanLowerOrGreaterThanUpperThreshold"):
        evaluate(spec(comparison="LessThanLowerOrGreaterThanUpperThreshold"), store, 60, "OK")


# --- the metric math the built-in analysis alarm uses ---------------------------------------------
MATH = [
    ("a + b", {"a": 1.0, "b": 2.0}, 3.0),
    ("a + b", {"a": 1.0, "b": None}, None),  # a missing input drops the datapoint
    ("SUM(METRICS())", {"a": 1.0, "b": None}, 1.0),
    ("SUM(METRICS())", {"a": None, "b": None}, None),
    ("FILL(b, 0) + a", {"a": 1.0, "b": None}, 1.0),
    ("a / b", {"a": 1.0, "b": 0.0}, None),  # division by zero drops it
    ("2 * a - b / 4", {"a": 3.0, "b": 8.0}, 4.0),
    ("-(a - b)", {"a": 3.0, "b": 8.0}, 5.0),
    ("a > 1 AND b < 10", {"a": 3.0, "b": 8.0}, 1.0),
    ("a > 5 && b < 10", {"a": 3.0, "b": 8.0}, 0.0),
    ("a > 5 OR b >= 8", {"a": 3.0, "b": 8.0}, 1.0),
    ("a == 3 || NOT b", {"a": 2.0, "b": 8.0}, 0.0),
    ("!(a != 3)", {"a": 3.0}, 1.0),
    ("IF(a > 1, b, 0)", {"a": 3.0, "b": 8.0}, 8.0),
    ("IF(a > 5, b, 0.5)", {"a": 3.0, "b": 8.0}, 0.5),
    ("IF(a > 5, b)", {"a": 3.0, "b": 8.0}, None),
    ("IF(b > 5, 1, 0)", {"b": None}, None),
    ("MAX([a, 2 * b])", {"a": 3.0, "b": 8.0}, 16.0),
    ("MIN([a, b, 1e-3])", {"a": 3.0, "b": 8.0}, 0.001),
]


@pytest.mark.parametrize(("expression", "values", "expected"), MATH, ids=[m[0] for m in MATH])
def test_metric_math(expression: str, values: dict, expected: float | None) -> None:
    # Given one period's metric values, When the expression is evaluated, Then it gives what metric math gives
    assert expression_value(expression, values) == expected


def test_expressions_may_use_other_expressions() -> None:
    # Given an expression over another expression's id
    maths = {"rate": "IF(q > 0, e / q, 0)", "top": "rate * 100"}

    # When the watched expression is evaluated, Then the ids resolve through each other
    assert expression_value("top > 5", {"e": 6.0, "q": 60.0}, maths) == 1.0


@pytest.mark.parametrize(
    "expression",
    ["ANOMALY_DETECTION_BAND(a)", "SEARCH('x', 'Sum', 60)", "a +", "MAX(a)", "a $ b", "unknown + a", "[a, b]", "A + 1"],
)
def test_unmodelled_or_invalid_math_is_refused(expression: str) -> None:
    # Given math the emulator does not model (or that is not valid), Then it is refused, never guessed
    with pytest.raises(MathError):
        expression_value(expression, {"a": 1.0, "b": 2.0})


def test_cyclic_expressions_are_refused() -> None:
    with pytest.raises(MathError):
        expression_value("x", {"a": 1.0}, {"x": "y + a", "y": "x"})
