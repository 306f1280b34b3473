"""A service a user builds through the API (no seeding) deploys like the seeded demo service.

The emulator drives every service it finds in the ECS backend: the task set created with CreateTaskSet runs tasks,
they register in its target group and turn healthy, the load balancer's metrics drive the user's alarm, and the
desired count is followed. Each test asserts the final AWS state.
"""

from __future__ import annotations

import pytest

from bluegreen.aws import elbv2
from bluegreen_emulator.behaviours import Behaviour, Rule
from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.own_service import OwnService, build_service
from bluegreen_emulator.route_state import client_actions


def _production(emulator: Emulator, service: OwnService) -> set[str]:
    return elbv2.receiving(elbv2.forward_weights(client_actions(emulator.client("elbv2"), service.production_route)))


def _task_sets(emulator: Emulator, service: OwnService) -> list[dict]:
    ecs = emulator.client("ecs")
    arns = [
        ts["taskSetArn"]
        for ts in ecs.describe_services(cluster=service.cluster, services=[service.name])["services"][0]["taskSets"]
    ]
    return ecs.describe_task_sets(cluster=service.cluster, service=service.name, taskSets=arns)["taskSets"]


def _healthy(emulator: Emulator, target_group: str) -> int:
    health = emulator.client("elbv2").describe_target_health(TargetGroupArn=target_group)
    return sum(1 for d in health["TargetHealthDescriptions"] if d["TargetHealth"]["State"] == "healthy")


def _deploy_approve_roll_back(emulator: Emulator, layout: str) -> None:
    # Given a service built through the API only, whose first task set has had a minute to start
    service = build_service(emulator.session, f"shop-{layout}"[:20], layout=layout)
    emulator.clock.advance(60)
    ecs = emulator.client("ecs")
    (first,) = _task_sets(emulator, service)
    assert (first["stabilityStatus"], first["runningCount"]) == ("STEADY_STATE", 2)
    assert len(ecs.list_tasks(cluster=service.cluster, startedBy=service.first_task_set)["taskArns"]) == 2
    assert _healthy(emulator, service.target_groups[0]) == 2

    # When v2 is deployed (approved by the emulator's operator)
    deployed = emulator.run(service.name, "v2")

    # Then it is deployed: one PRIMARY task set, on the other target group, which production forwards to
    assert (deployed.outcome, deployed.error) == ("deployed", None), deployed.cause
    (green,) = _task_sets(emulator, service)
    green_group = green["loadBalancers"][0]["targetGroupArn"]
    assert green["status"] == "PRIMARY" and green_group == service.target_groups[1]
    assert _production(emulator, service) == {green_group}
    assert emulator.approvals and emulator.approvals[-1][1] == service.name

    # When an image whose 5xx trip the user's alarm (tag v2-5xx) is deployed
    failed = emulator.run(service.name, "v2-5xx")

    # Then the alarm rolls it back: production is on the v2 task set again, the failed task set is gone
    assert (failed.outcome, failed.error) == ("rolled_back", "RolledBack"), failed.cause
    assert f"Alarm {service.alarm_name} went to ALARM" in (failed.cause or "")
    (kept,) = _task_sets(emulator, service)
    assert kept["id"] == green["id"] and kept["status"] == "PRIMARY"
    assert _production(emulator, service) == {green_group}
    history = emulator.client("cloudwatch").describe_alarm_history(
        AlarmName=service.alarm_name, HistoryItemType="StateUpdate"
    )["AlarmHistoryItems"]
    assert any(item["HistorySummary"].endswith("to ALARM") for item in history)


def test_a_service_built_with_listener_rules_deploys_and_rolls_back(emulator):
    _deploy_approve_roll_back(emulator, "rules")


def test_a_service_built_in_the_codedeploy_layout_deploys_and_rolls_back(emulator):
    _deploy_approve_roll_back(emulator, "listener-ports")


def test_a_built_service_follows_its_desired_count_and_task_set_scale(emulator):
    # Given a built service running 2 tasks
    service = build_service(emulator.session, "scaled")
    emulator.clock.advance(60)
    ecs = emulator.client("ecs")

    # When the desired count goes to 4, then the task set is scaled to 50 percent
    ecs.update_service(cluster=service.cluster, service=service.name, desiredCount=4)
    emulator.clock.advance(60)
    grown = _healthy(emulator, service.target_groups[0])
    (task_set,) = _task_sets(emulator, service)
    ecs.update_task_set(
        cluster=service.cluster, service=service.name, taskSet=task_set["id"], scale={"unit": "PERCENT", "value": 50}
    )
    emulator.clock.advance(60)

    # Then 4 tasks ran healthy, then 2 (the others stopped and drain from the target group)
    assert grown == 4
    running = ecs.list_tasks(cluster=service.cluster, startedBy=task_set["id"])["taskArns"]
    assert len(running) == 2
    (scaled,) = _task_sets(emulator, service)
    assert (scaled["computedDesiredCount"], scaled["runningCount"], scaled["stabilityStatus"]) == (
        2,
        2,
        "STEADY_STATE",
    )


def test_a_behaviours_rule_makes_a_tag_fail_its_health_checks():
    # Given a rule: tags "*-rc" fail their health checks
    rules = [Rule(tag="*-rc", behaviour=Behaviour(kind="unhealthy"))]
    with Emulator(behaviours=rules) as emulator:
        service = build_service(emulator.session, "ruled", tags=("v1", "v3-rc"))
        emulator.clock.advance(60)

        # When v3-rc is deployed
        result = emulator.run(service.name, "v3-rc")

        # Then its targets never turn healthy: the deployment ends without reaching production
        assert result.outcome in ("failed", "cleaned_up", "rolled_back"), result.outcome
        assert result.error == "HealthCheckTimeout", (result.error, result.cause)
        assert _production(emulator, service) == {service.target_groups[0]}
        (kept,) = _task_sets(emulator, service)
        assert kept["id"] == service.first_task_set


@pytest.mark.matrix
def test_eight_built_services_deployed_at_once_all_succeed(emulator):
    # Given eight services built through the API, each on its own VPC and load balancer
    services = [build_service(emulator.session, f"fleet-{i}", cidr_index=100 + i) for i in range(8)]
    emulator.clock.advance(60)

    # When each is deployed to v2 at the same time
    executions = [emulator.start(service.name, "v2") for service in services]
    results = [emulator.wait(arn, timeout=600) for arn in executions]

    # Then all eight are deployed, production on their new task set
    assert [(r.outcome, r.error) for r in results] == [("deployed", None)] * 8, [r.cause for r in results]
    for service in services:
        assert _production(emulator, service) == {service.target_groups[1]}


def test_a_service_without_configuration_drives_its_alarm_from_the_routes_to_its_task_sets(emulator):
    # Given a built service whose first image answers 5xx, and no configuration document (never deployed here)
    service = build_service(emulator.session, "bare", tags=("v1-5xx",))
    emulator.client("ssm").delete_parameter(Name=f"/bluegreen/services/{service.name}")
    cloudwatch = emulator.client("cloudwatch")

    # When three simulated minutes pass
    emulator.clock.advance(180)

    # Then the ALB's metrics show the 5xx of the traffic its production rule forwards, and the alarm fired
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[service.alarm_name])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
    history = cloudwatch.describe_alarm_history(AlarmName=service.alarm_name, HistoryItemType="StateUpdate")
    assert history["AlarmHistoryItems"][0]["HistorySummary"].endswith("to ALARM")
