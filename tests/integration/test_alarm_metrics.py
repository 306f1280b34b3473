"""Alarms come from metrics, and every state change reaches EventBridge."""

from __future__ import annotations

from datetime import timedelta

from .helpers import snapshot, wait_for_gate, wait_until


def test_an_operator_setting_the_alarm_during_the_bake_rolls_the_deployment_back(emulator):
    # Given a healthy v2 in a one-hour bake (its metrics stay under the threshold)
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 3600})
    before = snapshot(emulator, demo.name)
    arn = emulator.start(demo.name, "v2")
    wait_for_gate(emulator, demo.name, "bake")
    # (the bake has checked the alarms and posted its message: only an event can end it now)
    wait_until(lambda: getattr(emulator.store.open_gate_of(demo.name), "ts", None))

    # When an operator tests the rollback with SetAlarmState, as with `aws cloudwatch set-alarm-state`
    emulator.client("cloudwatch").set_alarm_state(
        AlarmName=demo.alarm_name, StateValue="ALARM", StateReason="operator: testing the rollback"
    )
    result = emulator.wait(arn)

    # Then the state change reached EventBridge and rolled back: rules and task sets as before, lock released
    assert result.error == "RolledBack", result.cause
    assert f"Alarm {demo.alarm_name} went to ALARM: operator: testing the rollback" in result.cause
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None
    assert emulator.store.open_gate_of(demo.name) is None
    assert (demo.alarm_name, "ALARM") in [(name, state) for _, name, state in emulator.plane.alarm_changes]
    # ... and the next evaluation brought the alarm back to OK from the (healthy) metrics, as CloudWatch would
    emulator.clock.advance(120)
    alarm = emulator.client("cloudwatch").describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK"


def test_the_5xx_alarm_fires_from_the_published_alb_metrics(emulator):
    # Given v2-5xx, whose targets answer half of production with a 5xx
    demo = emulator.seed_service()

    # When it is deployed
    result = emulator.run(demo.name, "v2-5xx")

    # Then the alarm went to ALARM from an evaluation of the metrics (not set by hand), and rolled back
    assert result.error == "RolledBack", result.cause
    assert "Threshold Crossed: 1 out of the last 1 datapoints" in result.cause
    swapped = next(
        c.at for c in emulator.recorder.calls if c.function == "SwapFunction" and c.operation == "ModifyRule"
    )
    fired = next(at for at, name, state in emulator.plane.alarm_changes if name == demo.alarm_name and state == "ALARM")
    assert swapped < fired <= swapped + 60 + 5  # the first minute boundary after the swap (plus one clock step)
    # ... from per-target-group ALB metrics with the LoadBalancer and TargetGroup dimensions
    cloudwatch = emulator.client("cloudwatch")
    green = demo.target_groups[1]
    balancer = cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]["Metrics"][1]
    dimensions = balancer["MetricStat"]["Metric"]["Dimensions"]
    assert {d["Name"] for d in dimensions} == {"LoadBalancer", "TargetGroup"}
    assert dimensions[1]["Value"] == green.split(":")[-1]
    now = emulator.clock.now()
    window = {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=1), "Period": 60}
    errors = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=dimensions,
        Statistics=["Sum"],
        **window,
    )["Datapoints"]
    assert sum(p["Sum"] for p in errors) > 10
    blue_dimensions = [dimensions[0], {"Name": "TargetGroup", "Value": demo.target_groups[0].split(":")[-1]}]
    requests = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB",
        MetricName="RequestCount",
        Dimensions=blue_dimensions,
        Statistics=["Sum"],
        **window,
    )["Datapoints"]
    assert requests and all(p["Sum"] > 0 for p in requests)
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]


def test_a_healthy_release_never_sets_the_alarm(emulator):
    demo = emulator.seed_service(
        config_overrides={"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}
    )
    result = emulator.run(demo.name, "v2")
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.clock.elapsed > 300  # several minutes of metrics were evaluated
    assert [s for _, name, s in emulator.plane.alarm_changes if name == demo.alarm_name and s == "ALARM"] == []


def test_a_month_in_one_clock_step_keeps_the_metrics_and_alarm_states_of_its_last_minutes(emulator):
    # Given a service whose production traffic is healthy (its alarm evaluates to OK)
    demo = emulator.seed_service()
    emulator.clock.advance(120)
    cloudwatch = emulator.client("cloudwatch")
    assert cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]["StateValue"] == "OK"

    # When thirty days pass in a single step (as while an approval is held)
    emulator.clock.advance(30 * 86400)

    # Then the alarm is still OK, and the last minutes before "now" have their RequestCount datapoints
    assert cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]["StateValue"] == "OK"
    now = emulator.clock.now()
    blue = {"Name": "TargetGroup", "Value": demo.target_groups[0].split(":")[-1]}
    listed = next(m for m in cloudwatch.list_metrics(MetricName="RequestCount")["Metrics"] if blue in m["Dimensions"])
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName="RequestCount", Dimensions=listed["Dimensions"],
        Statistics=["Sum"], StartTime=now - timedelta(minutes=5), EndTime=now, Period=60,
    )["Datapoints"]  # fmt: skip
    assert len(points) >= 4 and all(p["Sum"] > 0 for p in points)
