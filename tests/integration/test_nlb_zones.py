"""Green's health behind a Network Load Balancer, zone by zone, on the emulator.

With cross-zone load balancing off (an NLB's default) a load balancer node reaches only the targets in its own
Availability Zone, and a zone without a healthy target in a target group leaves DNS. A green whose healthy
targets are all in one zone (ECS could not place tasks in the other) must not take production there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bluegreen.aws import elbv2, routes
from bluegreen_emulator.emulator import Emulator

ZONES = {"us-east-1a", "us-east-1b"}
_count = [0]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@contextmanager
def zone_b_out(emu: Emulator) -> Iterator[None]:
    """ECS cannot place new tasks in us-east-1b (no capacity) meanwhile (blue, seeded before, runs in both)."""
    emu.plane.zone_out_of_capacity("us-east-1b")
    try:
        yield
    finally:
        emu.plane.zone_out_of_capacity("us-east-1b", out=False)


def seed(emu: Emulator, layout: str = "nlb", **config: Any) -> Any:
    _count[0] += 1
    return emu.seed_service(f"z{_count[0]}-{layout[:5]}", layout=layout, config_overrides=config or None)


def route_actions(emu: Emulator, demo: Any) -> dict[str, list[dict[str, Any]]]:
    return {arn: emu.rule_actions(arn) for arn in [*demo.production_routes, demo.test_rule_arn]}


def task_zones(emu: Emulator, demo: Any, tag: str) -> list[str]:
    """The zones of the running tasks of the task set running ``tag``."""
    ecs = emu.client("ecs")
    task_set = next((ts for ts in emu.task_sets(demo.name) if ts["imageTag"] == tag), None)
    if task_set is None:
        return []
    arns = ecs.list_tasks(cluster=demo.cluster, startedBy=task_set["id"])["taskArns"]
    tasks = ecs.describe_tasks(cluster=demo.cluster, tasks=arns)["tasks"] if arns else []
    return sorted(t["availabilityZone"] for t in tasks if t["lastStatus"] == "RUNNING")


def balancer_of(demo: Any) -> str:
    return routes.load_balancer_arn_of(demo.production_routes[0])


def test_blue_runs_in_both_zones_of_the_nlb(emu):
    # Given a seeded NLB service: ECS spread blue's two tasks over its two subnets' zones
    demo = seed(emu)
    assert task_zones(emu, demo, "v1") == sorted(ZONES)
    # Then both zones are in the NLB's DNS and each node forwards production to blue's target in its zone
    assert emu.plane.dns_zones(balancer_of(demo)) == ZONES
    blue = demo.target_groups[0]
    for zone in ZONES:
        (target,) = emu.plane.forwards_to(balancer_of(demo), zone, blue)
        assert emu.plane.zone_of(blue, target) == zone


def test_green_healthy_in_one_zone_only_is_not_swapped(emu):
    # Given an NLB service (cross-zone off, the default) and ECS unable to place tasks in us-east-1b
    demo = seed(emu, healthWaitTimeoutSeconds=120)
    saved = route_actions(emu, demo)
    first = len(emu.recorder.calls)

    # When v2 is deployed: both green tasks land in us-east-1a and turn healthy
    with zone_b_out(emu):
        result = emu.run(demo.name, "v2")

    # Then the health gate waited for a healthy green target in us-east-1b, timed out and cleaned up
    assert result.error == "HealthCheckTimeout", result.cause
    assert "2/2 tasks running; its targets: 2 healthy" in result.cause
    assert "green's healthy targets per zone: us-east-1a 2, us-east-1b 0" in result.cause
    assert "it has none in us-east-1b" in result.cause
    assert "Swap" not in result.states
    # and production was never touched: every route as saved, no route changed, blue alone and primary
    assert route_actions(emu, demo) == saved
    assert not [c for c in emu.recorder.calls[first:] if c.operation in ("ModifyListener", "ModifyRule")]
    assert [(ts["imageTag"], ts["status"]) for ts in emu.task_sets(demo.name)] == [("v1", "PRIMARY")]
    assert emu.store.lock_holder(demo.name) is None
    # and blue still serves both zones of the load balancer
    assert emu.plane.dns_zones(balancer_of(demo)) == ZONES


def test_green_in_one_zone_with_cross_zone_on_is_swapped(emu):
    # Given green's target group has cross-zone load balancing on, and ECS unable to place tasks in us-east-1b
    demo = seed(emu)
    blue_group, green_group = demo.target_groups
    emu.client("elbv2").modify_target_group_attributes(
        TargetGroupArn=green_group, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}]
    )

    # When v2 is deployed (both green tasks in us-east-1a)
    with zone_b_out(emu):
        result = emu.run(demo.name, "v2")

    # Then it is deployed: every node reaches green's targets, so no zone loses production
    assert result.status == "SUCCEEDED", result.cause
    assert task_zones(emu, demo, "v2") == ["us-east-1a", "us-east-1a"]
    final = route_actions(emu, demo)
    assert elbv2.receiving(elbv2.forward_weights(final[demo.production_routes[0]])) == {green_group}
    assert elbv2.receiving(elbv2.forward_weights(final[demo.test_rule_arn])) == {blue_group}
    assert [(ts["imageTag"], ts["status"]) for ts in emu.task_sets(demo.name)] == [("v2", "PRIMARY")]
    assert len(emu.plane.forwards_to(balancer_of(demo), "us-east-1b", green_group)) == 2


def test_green_in_both_zones_is_swapped_and_every_zone_keeps_production(emu):
    # Given an NLB service, cross-zone off, ECS placing tasks in both zones
    demo = seed(emu)
    green_group = demo.target_groups[1]

    # When v2 is deployed
    result = emu.run(demo.name, "v2")

    # Then it is deployed, green spread over both zones, and each zone's node forwards to green in its zone
    assert result.status == "SUCCEEDED", result.cause
    assert task_zones(emu, demo, "v2") == sorted(ZONES)
    assert [(ts["imageTag"], ts["status"]) for ts in emu.task_sets(demo.name)] == [("v2", "PRIMARY")]
    for zone in ZONES:
        (target,) = emu.plane.forwards_to(balancer_of(demo), zone, green_group)
        assert emu.plane.zone_of(green_group, target) == zone
    assert emu.store.lock_holder(demo.name) is None


def test_an_alb_is_unchanged_green_in_one_zone_is_swapped(emu):
    # Given an ALB service (cross-zone always on at the load balancer level) and green placed in us-east-1a only
    demo = seed(emu, "rules")
    first = len(emu.recorder.calls)

    # When v2 is deployed
    with zone_b_out(emu):
        result = emu.run(demo.name, "v2")

    # Then it is deployed as before: no zone check for an ALB, and no NLB call made
    assert result.status == "SUCCEEDED", result.cause
    assert task_zones(emu, demo, "v2") == ["us-east-1a", "us-east-1a"]
    assert not [c for c in emu.recorder.calls[first:] if c.operation == "DescribeTargetGroupAttributes"]


def test_the_nlb_fails_open_when_no_target_of_a_group_is_healthy(emu):
    # Given an NLB service whose blue targets (one per zone) both fail their health checks for 30 s
    demo = seed(emu)
    blue = demo.target_groups[0]
    for index in (0, 1):
        emu.plane.flap(demo.blue_task_set, seconds=30, index=index)

    # Then each zone's node sends blue's traffic to every registered target, healthy or not (fail open),
    # and no zone leaves DNS for it
    registered = sorted(ip for group, ip in emu.plane.targets if group == blue)
    assert len(registered) == 2
    for zone in ZONES:
        assert emu.plane.forwards_to(balancer_of(demo), zone, blue) == registered
    assert emu.plane.dns_zones(balancer_of(demo)) == ZONES

    # When one target recovers (us-east-1a's), the other still failing
    emu.clock.advance(31)
    emu.plane.flap(demo.blue_task_set, seconds=30, index=1)
    failing = next(ip for ip in registered if emu.plane.state_of(blue, ip)[0] == "unhealthy")

    # Then only the healthy target's zone serves: the other zone's node has nothing to send to and leaves DNS
    healthy = next(ip for ip in registered if ip != failing)
    healthy_zone = emu.plane.zone_of(blue, healthy)
    assert emu.plane.forwards_to(balancer_of(demo), healthy_zone, blue) == [healthy]
    assert emu.plane.forwards_to(balancer_of(demo), emu.plane.zone_of(blue, failing), blue) == []
    assert emu.plane.dns_zones(balancer_of(demo)) == {healthy_zone}
    emu.clock.advance(31)


def test_a_zone_lost_during_the_canary_stops_the_next_step_and_rolls_back(emu):
    # Given an NLB service on a 10 % canary, green spread over both zones
    demo = seed(emu, trafficShift={"type": "CANARY", "percent": 10, "intervalSeconds": 300})
    saved = route_actions(emu, demo)
    green_group = demo.target_groups[1]
    injected: list[str] = []

    def lose_zone_b(call: Any) -> None:
        # right after the first step's switch: ECS can no longer place tasks in us-east-1b, and green's task
        # there exits; its replacement lands in us-east-1a (green is back to 2 healthy tasks, both in one zone)
        if not injected and call.function == "SwapFunction" and call.operation == "ModifyListener":
            emu.plane.zone_out_of_capacity("us-east-1b")
            task_set = emu.plane.task_set_of_group(demo.name, green_group)
            injected.append(str(emu.plane.crash_task(task_set, zone="us-east-1b")))

    emu.recorder.after.append(lose_zone_b)
    try:
        # When the deployment runs
        result = emu.run(demo.name, "v2")
    finally:
        emu.recorder.after.remove(lose_zone_b)
        emu.plane.zone_out_of_capacity("us-east-1b", out=False)

    # Then the next step refused to move more production to green (no healthy green target in us-east-1b)
    # and the deployment rolled back: every route as saved, blue alone and primary
    assert injected, "the zone was lost"
    assert result.error == "RolledBack", result.cause
    assert "GreenNotHealthy" in result.cause and "us-east-1b" in result.cause
    assert [w for _, w in emu.weight_steps(demo.name)][-2:] == [10, 0]
    assert route_actions(emu, demo) == saved
    assert [(ts["imageTag"], ts["status"]) for ts in emu.task_sets(demo.name)] == [("v1", "PRIMARY")]
    assert emu.store.lock_holder(demo.name) is None


def test_an_nlb_target_failing_its_checks_reports_failed_health_checks(emu):
    # Given an NLB service and an ALB service whose blue targets fail their health checks for a while
    nlb, alb = seed(emu), seed(emu, "rules")
    for demo in (nlb, alb):
        emu.plane.flap(demo.blue_task_set, seconds=30)
    elbv2_client = emu.client("elbv2")

    def reasons(demo: Any) -> set[str]:
        described = elbv2_client.describe_target_health(TargetGroupArn=demo.target_groups[0])
        return {d["TargetHealth"].get("Reason") for d in described["TargetHealthDescriptions"]} - {None}

    # Then the NLB's reason is Target.FailedHealthChecks (Timeout and ResponseCodeMismatch are ALB reasons)
    assert reasons(nlb) == {"Target.FailedHealthChecks"}
    assert reasons(alb) == {"Target.Timeout"}
    emu.clock.advance(31)
