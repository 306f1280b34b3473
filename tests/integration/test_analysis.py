"""Issue 13: the built-in analysis (green compared with blue from the ALB's per-target-group metrics), end to end.

No alarm is configured in these services (``alarmNames: []``): only the workflow's own analysis alarm judges green.
"""

from __future__ import annotations

from typing import Any

from bluegreen import analysis
from bluegreen_cli.local.dataplane import ALARM
from bluegreen_cli.local.emulator import Emulator

from .helpers import production_modify_calls, snapshot, wait_until

CANARY = {"type": "CANARY", "percent": 10, "intervalSeconds": 600}


def analysed(**analysis_block: Any) -> dict[str, Any]:
    return {"alarmNames": [], "trafficShift": CANARY, "analysis": {"minRequests": 50, **analysis_block}}


def analysis_alarms(emu: Emulator) -> list[dict[str, Any]]:
    found = emu.client("cloudwatch").describe_alarms(AlarmNamePrefix=analysis.ALARM_PREFIX)
    return found["MetricAlarms"]


def analysis_alarm_changes(emu: Emulator) -> list[tuple[str, str]]:
    return [(name, state) for _at, name, state in emu.plane.alarm_changes if analysis.is_analysis_alarm(name)]


def weights(emu: Emulator, service: str) -> list[int]:
    return [weight for _, weight in emu.weight_steps(service)]


def serve_for(emu: Emulator, seconds: int) -> None:
    """Let blue serve production alone for a while (its history before the deployment: the baseline)."""
    for _ in range(seconds // 60):
        emu.clock.advance(60)


def test_green_worse_than_blue_is_rolled_back_from_the_partial_weight(emulator):
    # Given a canary service with no alarm, only the built-in analysis, and a release whose 5xx rate rises
    demo = emulator.seed_service(config_overrides=analysed())
    before = snapshot(emulator, demo.name)

    # When it is deployed
    result = emulator.run(demo.name, "v2-5xx-rising")

    # Then the analysis failed the canary step and production went back to blue in one call, from 10%
    assert result.error == "RolledBack", result.cause
    assert "WatchStep" in result.states and "Bake" not in result.states
    assert weights(emulator, demo.name) == [10, 0]
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    # And the cause names the metric, green's and blue's values and the window
    assert "Built-in analysis bluegreen-analysis-" in result.cause
    assert "green's 5xx rate" in result.cause and "vs blue's 0.00%" in result.cause
    assert "limit 0.50%" in result.cause and "window " in result.cause
    # And the routes and task sets are exactly as before, the lock released, the analysis alarm deleted
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None
    assert analysis_alarm_changes(emulator) and analysis_alarm_changes(emulator)[0][1] == "ALARM"
    assert analysis_alarms(emulator) == []


def test_green_and_blue_equally_bad_is_not_blamed_on_green(emulator):
    # Given blue already answers half its requests with a 5xx (the fault is elsewhere, e.g. a dependency) ...
    demo = emulator.seed_service(config_overrides=analysed())
    emulator.plane.behaviours[demo.digests["v1"]] = ALARM
    serve_for(emulator, 660)  # ... and has done so for the last 11 minutes (blue's baseline)

    # When a release that fails as much is deployed (v2-5xx: half its requests too)
    result = emulator.run(demo.name, "v2-5xx")

    # Then the analysis never fails it: green is no worse than blue, during the canary (live comparison) and
    # after the cutover (blue's baseline); rolling back would not help production
    assert result.status == "SUCCEEDED", result.cause
    assert weights(emulator, demo.name) == [10, 100]
    assert "ALARM" not in {state for _name, state in analysis_alarm_changes(emulator)}
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2-5xx"]
    assert analysis_alarms(emulator) == []


def test_too_little_traffic_to_judge_is_not_a_failure(emulator):
    # Given green will serve fewer requests per minute than the analysis needs to judge (10 rps x 10% = 60/min)
    demo = emulator.seed_service(config_overrides=analysed(minRequests=5000))

    # When a release whose 5xx rate rises is deployed
    result = emulator.run(demo.name, "v2-5xx-rising")

    # Then the analysis never judged it (not breaching: no rollback on noise), and its alarm is gone
    assert result.status == "SUCCEEDED", result.cause
    assert analysis_alarm_changes(emulator) == []
    assert analysis_alarms(emulator) == []


def test_happy_path_watches_the_analysis_alarm_then_deletes_it(emulator):
    # Given a canary service with the built-in analysis
    demo = emulator.seed_service(config_overrides=analysed())
    arn = emulator.start(demo.name, "v2")

    # When the canary step runs
    wait_until(lambda: getattr(emulator.store.open_gate_of(demo.name), "weight", None) == 10)

    # Then the deployment's alarm exists, compares green with blue, and the step's gate watches it
    alarms = analysis_alarms(emulator)
    assert [a["AlarmName"] for a in alarms] == [analysis.alarm_name(demo.name, arn.split(":")[-1])]
    groups = {
        d["Value"] for m in alarms[0]["Metrics"] if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]
    }
    assert {g.split(":")[-1] for g in demo.target_groups} <= groups
    gate = emulator.store.open_gate_of(demo.name)
    assert gate is not None and alarms[0]["AlarmName"] in gate.alarmNames

    # And once deployed, nothing is left behind
    result = emulator.wait(arn)
    assert result.status == "SUCCEEDED", result.cause
    assert weights(emulator, demo.name) == [10, 100]
    assert analysis_alarms(emulator) == []
    assert emulator.store.lock_holder(demo.name) is None


def test_a_stopped_deployment_leaves_no_analysis_alarm(emulator):
    # Given a deployment in its canary step, its analysis alarm created
    demo = emulator.seed_service(config_overrides=analysed())
    before = snapshot(emulator, demo.name)
    arn = emulator.start(demo.name, "v2")
    wait_until(lambda: getattr(emulator.store.open_gate_of(demo.name), "weight", None) == 10)
    assert len(analysis_alarms(emulator)) == 1

    # When someone stops the execution (no Catch runs)
    emulator.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped")
    result = emulator.wait(arn)

    # Then the execution-ended path restored production and deleted the alarm too
    assert result.status == "ABORTED"
    wait_until(lambda: emulator.store.lock_holder(demo.name) is None)
    assert snapshot(emulator, demo.name) == before
    assert analysis_alarms(emulator) == []


def test_analysis_behind_a_network_load_balancer_is_refused_at_validate(emulator):
    # Given an NLB service (TCP: no HTTP codes, no response times) configured with the analysis
    demo = emulator.seed_service(config_overrides=analysed(), layout="nlb")
    before = snapshot(emulator, demo.name)

    # When a deployment starts
    result = emulator.run(demo.name, "v2")

    # Then Validate refuses it with its own error, saying to use alarms, and nothing changed
    assert result.error == "AnalysisNotSupported", result.cause
    assert "Network Load Balancer" in result.cause and "alarmNames" in result.cause
    assert snapshot(emulator, demo.name) == before
    assert analysis_alarms(emulator) == []
