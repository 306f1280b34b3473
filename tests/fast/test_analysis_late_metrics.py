"""The analysis alarm when the latest period's load balancer metrics have not arrived yet.

ELB publishes a minute's metrics after the minute; the alarm's metric math fills a missing datapoint with 0
(``FILL(m, 0)``), so the latest period evaluates "not breaching" until they arrive. An alarm that needs every
evaluated period to breach (1 of 1) would then stay OK while green fails; the analysis alarm is M of N with
M < N, which the configuration enforces.
"""

from __future__ import annotations

from bluegreen.domain import analysis
from bluegreen_emulator.metrics import Aggregate, AlarmSpec, MetricQuery, MetricStore, evaluate, metric_key

GREEN_5XX = metric_key("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", [("TargetGroup", "targetgroup/g/1")])
GREEN_REQUESTS = metric_key("AWS/ApplicationELB", "RequestCount", [("TargetGroup", "targetgroup/g/1")])


def failing_green_until(minute: int) -> MetricStore:
    """Green answers half of its 200 requests a minute with 5xx; minutes from ``minute`` on are not published yet."""
    store = MetricStore()
    for m in range(minute):
        for key, value in ((GREEN_5XX, 100.0), (GREEN_REQUESTS, 200.0)):
            aggregate = Aggregate()
            aggregate.add(value)
            store.add(key, m, aggregate)
    return store


def alarm(evaluation_periods: int, datapoints_to_alarm: int) -> AlarmSpec:
    queries = (
        MetricQuery("ge", GREEN_5XX, statistic="Sum", period=60, return_data=False),
        MetricQuery("gq", GREEN_REQUESTS, statistic="Sum", period=60, return_data=False),
        MetricQuery("gerr", None, expression="FILL(ge, 0)"),
        MetricQuery("greq", None, expression="FILL(gq, 0)"),
        MetricQuery("errors", None, expression="IF(greq >= 100 AND gerr > 0.05 * greq, 1, 0)", return_data=True),
    )
    return AlarmSpec(
        name="bluegreen-analysis-web",
        queries=queries,
        period=60,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        threshold=1.0,
        comparison="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
    )


def test_one_of_one_stays_ok_while_the_latest_period_is_late_and_two_of_three_alarms() -> None:
    # Given green failing for minutes 0-2, minute 3 not published yet when the alarm evaluates at 240 s
    store = failing_green_until(3)
    # Then 1 of 1 sees only the filled 0 of minute 3 and stays OK; 2 of 3 sees minutes 1 and 2 and alarms
    assert evaluate(alarm(1, 1), store, 240, "OK")[0] == "OK"
    assert evaluate(alarm(3, 2), store, 240, "OK")[0] == "ALARM"


def test_the_default_analysis_alarm_is_two_of_three() -> None:
    # Given the default analysis configuration
    config = analysis.AnalysisConfig()
    # Then its alarm leaves one period of slack for late metrics
    assert (config.datapointsToAlarm, config.evaluationPeriods) == (2, 3)
