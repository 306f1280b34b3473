"""The built-in analysis (green compared with blue from the ALB's per-target-group metrics), end to end.

No alarm is configured in these services (``alarmNames: []``): only the workflow's own analysis alarm judges green.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bluegreen.domain import analysis
from bluegreen_emulator.dataplane import ALARM
from bluegreen_emulator.emulator import Emulator

from .helpers import production_modify_calls, snapshot, wait_until
from .test_cli import auto_emu, cli  # noqa: F401 - fixtures

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


def test_too_little_traffic_to_judge_is_not_a_failure_but_is_said(auto_emu, cli, monkeypatch):  # noqa: F811
    monkeypatch.setenv("COLUMNS", "240")  # the notice is read from the tables: no cell may be cut to fit
    # Given green will serve fewer requests per minute than the analysis needs to judge (10 rps: 60/min at 10%,
    # 600/min after the cutover, all below 5000)
    demo = auto_emu.seed_service(config_overrides=analysed(minRequests=5000))

    # When a release whose 5xx rate rises is deployed
    result = auto_emu.run(demo.name, "v2-5xx-rising")

    # Then the analysis never judged it (not breaching: no rollback on noise), and its alarm is gone
    assert result.status == "SUCCEEDED", result.cause
    assert analysis_alarm_changes(auto_emu) == []
    assert analysis_alarms(auto_emu) == []
    assert [ts["imageTag"] for ts in auto_emu.task_sets(demo.name)] == ["v2-5xx-rising"]
    assert auto_emu.store.lock_holder(demo.name) is None
    # But the execution output says so, typed: green's busiest minute (600 requests, after the cutover) < 5000
    assert result.output is not None
    verdict = analysis.AnalysisVerdict.model_validate(result.output["analysis"])
    assert verdict.verdict == "not_judged" and verdict.judgedPeriods == 0 and verdict.periods > 0
    assert (verdict.greenRequests, verdict.minRequests) == (600, 5000)
    notice = "analysis: not judged — 600 requests < minimum 5000"
    assert verdict.summary.startswith(notice)
    # And so do the deployment record (status, history), the Slack thread and the Deployment Succeeded event
    code, out, _ = cli("status", demo.name)
    assert code == 0 and notice in " ".join(out.split())
    code, out, _ = cli("history", demo.name)
    assert code == 0 and "not judged" in " ".join(out.split())
    assert auto_emu.store.deployments(demo.name, limit=1)[0]["analysisVerdict"] == "not_judged"
    assert any(notice in json.dumps(c.args, ensure_ascii=False) for c in auto_emu.slack.calls_to("chat.postMessage"))
    events = {e["detail-type"]: e["detail"] for e in auto_emu.deployment_events(result.execution_arn)}
    assert events["Deployment Succeeded"]["analysis"]["verdict"] == "not_judged"
    # And it costs no state transition: the same states as a judged deployment (the happy path's)
    assert "DeleteOld" in result.states


def test_a_judged_deployment_says_how_many_periods_were_judged(emulator):
    # Given a service whose analysis needs fewer requests than green serves (60/min during the canary)
    demo = emulator.seed_service(config_overrides=analysed())

    # When a good release is deployed
    result = emulator.run(demo.name, "v2")

    # Then the output says the analysis judged green, comparing it with blue
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    verdict = analysis.AnalysisVerdict.model_validate(result.output["analysis"])
    assert verdict.verdict == "judged" and verdict.judgedPeriods > 0 and verdict.blueCompared
    assert verdict.summary == f"analysis: judged in {verdict.judgedPeriods} of {verdict.periods} periods"


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


# --- response time by percentile ---------------------------------------------------------------
LATENCY = {"responseTime": {"maxSeconds": 0.05, "maxRatioToBlue": 1.5}}  # percentile: p95 by default


def response_times(emu: Emulator, service: str, statistic: str) -> dict[str, float]:
    """Green's and blue's ``statistic`` of TargetResponseTime over the whole run (GetMetricData, one period)."""
    demo = emu.services[service]
    alarm_groups = {analysis.target_group_dimension(arn): arn for arn in demo.target_groups}
    load_balancer = analysis.load_balancer_dimension(demo.production_rule_arn)
    now = emu.clock.now()
    queries = [
        {
            "Id": f"t{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "TargetResponseTime",
                    "Dimensions": [
                        {"Name": "LoadBalancer", "Value": load_balancer},
                        {"Name": "TargetGroup", "Value": group},
                    ],
                },
                "Period": 60,
                "Stat": statistic,
            },
        }
        for index, group in enumerate(alarm_groups)
    ]
    found = emu.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=now - timedelta(hours=3), EndTime=now
    )["MetricDataResults"]
    groups = list(alarm_groups)
    return {groups[int(r["Id"][1:])]: max(r["Values"]) for r in found if r["Values"]}


def test_a_slow_tail_with_a_good_mean_is_rolled_back_by_the_percentile(emulator):
    # Given blue's history (its baseline) and a canary service judging green's p95 response time
    demo = emulator.seed_service(config_overrides=analysed(**LATENCY))
    serve_for(emulator, 660)
    before = snapshot(emulator, demo.name)

    # When a release whose 7% slowest requests take 400 ms (its mean is better than blue's) is deployed
    result = emulator.run(demo.name, "v2-slow-tail")

    # Then the analysis failed the canary step on the p95 and production went back to blue, from 10%
    assert result.error == "RolledBack", result.cause
    assert weights(emulator, demo.name) == [10, 0]
    green, blue = (analysis.target_group_dimension(arn) for arn in (demo.target_groups[1], demo.target_groups[0]))
    means = response_times(emulator, demo.name, "Average")
    assert means[green] < means[blue]  # the mean alone would not have failed it
    # And the cause names the percentile, green's and blue's values, the limit and the window
    assert "green's p95 response time 400 ms" in result.cause, result.cause
    assert "vs blue's p95 80 ms" in result.cause and "limit 120 ms" in result.cause and "window " in result.cause
    # And the final state: production on blue, green deleted, the analysis alarm deleted, the lock released
    assert snapshot(emulator, demo.name) == before
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
    assert analysis_alarms(emulator) == []
    assert emulator.store.lock_holder(demo.name) is None


def test_a_worse_mean_with_a_p95_within_the_limit_is_not_rolled_back(emulator):
    # Given the same service and blue's history
    demo = emulator.seed_service(config_overrides=analysed(**LATENCY))
    serve_for(emulator, 660)

    # When a release whose every request is somewhat slower (mean 1.7x blue's, p95 90 ms < 1.5 x 80 ms) is deployed
    result = emulator.run(demo.name, "v2-slow-mean")

    # Then the analysis never failed it: its p95 stayed within the limit, though its mean is over 1.5x blue's
    assert result.status == "SUCCEEDED", result.cause
    assert weights(emulator, demo.name) == [10, 100]
    assert "ALARM" not in {state for _name, state in analysis_alarm_changes(emulator)}
    green, blue = (analysis.target_group_dimension(arn) for arn in (demo.target_groups[1], demo.target_groups[0]))
    means = response_times(emulator, demo.name, "Average")
    assert means[green] > 1.5 * means[blue]
    assert response_times(emulator, demo.name, "p95")[green] <= 0.12
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2-slow-mean"]
    assert analysis_alarms(emulator) == []
    assert emulator.store.lock_holder(demo.name) is None
