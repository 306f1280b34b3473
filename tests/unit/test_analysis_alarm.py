"""The analysis alarm's AWS helpers on a moto account (put, read back, explain, delete)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bluegreen.aws import analysis_alarm
from bluegreen.domain import analysis
from bluegreen.domain.analysis import AnalysisConfig, Baseline


def _datum(name: str, group: str, load_balancer: str, at: Any, value: float) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [
            {"Name": "LoadBalancer", "Value": load_balancer},
            {"Name": "TargetGroup", "Value": group.split(":")[-1]},
        ],
        "Timestamp": at,
        "Value": value,
        "Unit": "Count",
    }


def _publish(world: Any, minutes: dict[int, tuple[float, float, float, float]]) -> str:
    """Per minute offset (from now, negative): green 5xx, green requests, blue 5xx, blue requests."""
    cloudwatch = world.session.client("cloudwatch")
    demo = world.demo
    load_balancer = analysis.load_balancer_dimension(demo.production_rule_arn)
    blue, green = demo.target_groups
    now = world.clock.now().replace(second=0, microsecond=0)
    data = []
    for offset, (ge, gq, be, bq) in minutes.items():
        at = now + timedelta(minutes=offset)
        for name, group, value in (
            ("HTTPCode_Target_5XX_Count", green, ge),
            ("RequestCount", green, gq),
            ("HTTPCode_Target_5XX_Count", blue, be),
            ("RequestCount", blue, bq),
        ):
            if value:  # ELB reports no zero count
                data.append(_datum(name, group, load_balancer, at, value))
    cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
    return load_balancer


def test_explain_alarm_reads_the_alarms_metrics_and_names_both_values(world):
    # Given an analysis alarm over the demo's target groups, and three minutes of datapoints
    demo = world.demo
    blue, green = demo.target_groups
    load_balancer = _publish(world, {-3: (0, 600, 0, 5400), -2: (12, 600, 0, 5400), -1: (30, 600, 27, 5400)})
    config = AnalysisConfig(minRequests=100)
    spec = analysis.AnalysisSpec.of(config, Baseline())
    request = analysis.alarm_request("bluegreen-analysis-demo-web-x", config, spec, load_balancer, green, blue)
    cloudwatch = world.clients.cloudwatch
    cloudwatch.put_metric_alarm(**request)
    alarm = cloudwatch.describe_alarms(AlarmNames=[request["AlarmName"]])["MetricAlarms"][0]

    # When the handler explains it
    text = analysis_alarm.explain_alarm(cloudwatch, alarm, world.clock.now())

    # Then the cause names the metric, green's and blue's values, the limit and the last breaching minute
    assert text is not None
    assert "2 of the last 3 periods breached" in text
    assert "green's 5xx rate 5.00% (30 of 600 requests) vs blue's 0.50% (5400 requests); limit 1.00%" in text


def test_explain_by_name_leaves_other_alarms_reason_alone(world):
    # Given a user's alarm (not ours), Then its reason is kept as CloudWatch gave it, without a call
    assert analysis_alarm.explain_by_name(world.clients.cloudwatch, "demo-web-5xx", "Threshold Crossed") == (
        "Threshold Crossed"
    )


def test_read_baseline_sums_blues_window(world):
    # Given blue served 10 minutes with 1% 5xx
    load_balancer = _publish(world, {-m: (0, 0, 6, 600) for m in range(1, 11)})
    blue = world.demo.target_groups[0]

    # When the baseline is read at the first shift
    base = analysis_alarm.read_baseline(
        world.clients.cloudwatch, AnalysisConfig(minRequests=100), load_balancer, blue, world.clock.now()
    )

    # Then it is blue's rate over the window (no response time was published)
    assert base.errorRate is not None and abs(base.errorRate - 0.01) < 1e-9
    assert base.responseTime is None


def test_delete_is_idempotent(world):
    # Given an analysis alarm
    cloudwatch = world.clients.cloudwatch
    demo = world.demo
    config = AnalysisConfig()
    name = "bluegreen-analysis-demo-web-run-1"
    spec = analysis.AnalysisSpec.of(config, Baseline())
    request = analysis.alarm_request(name, config, spec, "app/a/1", demo.target_groups[1], demo.target_groups[0])
    cloudwatch.put_metric_alarm(**request)

    # When it is deleted twice (a retried end task), Then the second finds nothing and does not fail
    analysis_alarm.delete_named(cloudwatch, name)
    analysis_alarm.delete_named(cloudwatch, name)
    assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
