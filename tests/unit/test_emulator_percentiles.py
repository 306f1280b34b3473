"""The emulator computes CloudWatch percentiles (p95...) from distributions, as CloudWatch does.

moto computes none; the emulator keeps PutMetricData's Values/Counts and the simulated ALB publishes
TargetResponseTime as a distribution (local/metrics.py LATENCY_PROFILES), so GetMetricData and metric-math alarms
can use a percentile statistic. Expected values are computed by hand (nearest rank over the samples).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bluegreen.domain import analysis
from bluegreen_emulator import patches

# 100 samples: 50 at 10 ms, 40 at 20 ms, 6 at 500 ms, 4 at 1 s
VALUES, COUNTS = [0.01, 0.02, 0.5, 1.0], [50, 40, 6, 4]
BY_HAND = {"p50": 0.01, "p90": 0.02, "p95": 0.5, "p96": 0.5, "p96.5": 1.0, "p99": 1.0, "Average": 0.083}


@pytest.fixture
def patched(world):
    with patches.installed():  # as the emulator installs them
        yield world


def _query(metric_id: str, name: str, dimensions: list[dict[str, str]], stat: str) -> dict[str, Any]:
    metric = {"Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dimensions}
    return {"Id": metric_id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}


def _values(world: Any, queries: list[dict[str, Any]], minutes: int = 10) -> dict[str, list[float]]:
    now = world.clock.now()
    found = world.session.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=now - timedelta(minutes=minutes), EndTime=now + timedelta(minutes=1)
    )
    return {r["Id"]: r["Values"] for r in found["MetricDataResults"]}


def test_get_metric_data_percentiles_of_a_published_distribution_are_the_hand_computed_ones(patched):
    # Given one minute of response times published as Values/Counts (and one as a statistic set of many samples)
    cloudwatch = patched.session.client("cloudwatch")
    at = patched.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    dims = [{"Name": "TargetGroup", "Value": "targetgroup/known/1"}]
    other = [{"Name": "TargetGroup", "Value": "targetgroup/set/2"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": dims,
                "Timestamp": at,
                "Values": VALUES,
                "Counts": COUNTS,
                "Unit": "Seconds",
            },  # fmt: skip
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": other,
                "Timestamp": at,
                "Unit": "Seconds",
                "StatisticValues": {"SampleCount": 10, "Sum": 1.0, "Minimum": 0.05, "Maximum": 0.2},
            },  # fmt: skip
        ],
    )

    # When GetMetricData asks for percentiles and the mean
    stats = list(BY_HAND)
    found = _values(patched, [_query(f"q{i}", "TargetResponseTime", dims, s) for i, s in enumerate(stats)])
    unusable = _values(patched, [_query("p", "TargetResponseTime", other, "p95"), _query("a", "TargetResponseTime",
                                                                                      other, "Average")])  # fmt: skip

    # Then each is the hand-computed value (one datapoint, the minute)
    for index, stat in enumerate(stats):
        assert found[f"q{index}"] == [pytest.approx(BY_HAND[stat])], stat
    # And, as CloudWatch, no percentile from a statistic set of several different samples (its mean is there)
    assert unusable["p"] == [] and unusable["a"] == [pytest.approx(0.1)]


def test_the_simulated_alb_publishes_response_times_as_a_distribution(patched):
    # Given blue serving production (healthy profile: 20% 20 ms, 30% 40, 20% 50, 15% 60, 12% 80, 3% 120 ms)
    demo = patched.demo
    load_balancer = analysis.load_balancer_dimension(demo.production_rule_arn)
    blue = analysis.target_group_dimension(demo.target_groups[0])
    dims = [{"Name": "LoadBalancer", "Value": load_balancer}, {"Name": "TargetGroup", "Value": blue}]

    # When a few minutes pass
    for _ in range(4):
        patched.clock.advance(60)
        patched.plane.reconcile()

    # Then GetMetricData's percentiles of blue's TargetResponseTime are the profile's, by hand
    stats = {"p50": 0.04, "p90": 0.08, "p95": 0.08, "p99": 0.12, "Average": 0.0482}
    found = _values(patched, [_query(f"q{i}", "TargetResponseTime", dims, s) for i, s in enumerate(stats)])
    for index, (stat, expected) in enumerate(stats.items()):
        assert found[f"q{index}"] and all(v == pytest.approx(expected) for v in found[f"q{index}"]), stat


@pytest.mark.parametrize(("threshold", "state"), [(0.07, "ALARM"), (0.09, "OK")])
def test_a_metric_math_alarm_on_a_percentile_is_evaluated_on_the_distribution(patched, threshold, state):
    # Given a metric-math alarm on blue's p95 response time (80 ms by the healthy profile)
    demo = patched.demo
    load_balancer = analysis.load_balancer_dimension(demo.production_rule_arn)
    blue = analysis.target_group_dimension(demo.target_groups[0])
    dims = [{"Name": "LoadBalancer", "Value": load_balancer}, {"Name": "TargetGroup", "Value": blue}]
    patched.session.client("cloudwatch").put_metric_alarm(
        AlarmName="p95-check",
        Metrics=[
            {**_query("t", "TargetResponseTime", dims, "p95"), "ReturnData": False},
            {"Id": "slow", "Expression": f"IF(FILL(t, 0) > {threshold}, 1, 0)", "ReturnData": True},
        ],
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )

    # When the emulator evaluates it over a few minutes of traffic
    for _ in range(4):
        patched.clock.advance(60)
        patched.plane.reconcile()

    # Then it breaches exactly when p95 (not the 48 ms mean) is over the threshold
    alarm = patched.session.client("cloudwatch").describe_alarms(AlarmNames=["p95-check"])["MetricAlarms"][0]
    assert alarm["StateValue"] == state


@pytest.mark.parametrize(("threshold", "state"), [(0.07, "ALARM"), (0.1, "OK")])
def test_a_single_metric_alarm_with_an_extended_statistic_is_evaluated_on_the_percentile(patched, threshold, state):
    # Given a single-metric alarm on blue's p95 response time (ExtendedStatistic, no Statistic)
    demo = patched.demo
    dimensions = [
        {"Name": "LoadBalancer", "Value": analysis.load_balancer_dimension(demo.production_rule_arn)},
        {"Name": "TargetGroup", "Value": analysis.target_group_dimension(demo.target_groups[0])},
    ]
    cloudwatch = patched.session.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="p95-single",
        Namespace="AWS/ApplicationELB",
        MetricName="TargetResponseTime",
        Dimensions=dimensions,
        ExtendedStatistic="p95",
        Period=60,
        EvaluationPeriods=2,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
    )

    # When the emulator evaluates it over a few minutes of healthy traffic (p95 80 ms, mean 48 ms)
    for _ in range(4):
        patched.clock.advance(60)
        patched.plane.reconcile()

    # Then it breaches exactly when the p95 is over the threshold (the mean, 48 ms, or a Sum would not say so)
    assert cloudwatch.describe_alarms(AlarmNames=["p95-single"])["MetricAlarms"][0]["StateValue"] == state
