"""CheckHealth: is green steady with every target healthy? Raises to be polled again, or times out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bluegreen.domain import errors
from bluegreen.steps import check_health
from tests.conftest import load_handler
from tests.unit.helpers import aws_state, elapse, run_create_green, run_validate, state_data


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("check_health")


def deployment(world, tag: str):
    context = run_validate(world, tag)
    return context, run_create_green(world, context)


def test_green_is_not_healthy_yet_while_its_tasks_start(world, store, handler, lambda_context):
    # Given green was just created (tasks start after 15 s)
    context, green = deployment(world, "v2")

    # When CheckHealth runs right away
    # Then it asks to be polled again
    with pytest.raises(errors.GreenNotHealthyYet) as raised:
        handler.lambda_handler(state_data(context, green), lambda_context)
    assert type(raised.value).__name__ == "GreenNotHealthyYet"
    assert "0/2 tasks running" in str(raised.value)


def test_green_is_not_healthy_yet_while_targets_register(world, store):
    # Given green's tasks are running but the load balancer has not passed their health checks yet
    context, green = deployment(world, "v2")
    elapse(world, 20)

    # When CheckHealth runs
    # Then it is still not healthy, and says why
    with pytest.raises(errors.GreenNotHealthyYet) as raised:
        check_health.check(context, green, world.clients)
    assert "2/2 tasks running" in str(raised.value)
    assert "Elb.RegistrationInProgress" in str(raised.value)


def test_healthy_green_returns_a_report(world, store, handler, lambda_context):
    # Given green's targets turned healthy (15 s to start, 20 s more for the health checks)
    context, green = deployment(world, "v2")
    elapse(world, 60)
    before = aws_state(world)

    # When CheckHealth runs
    report = handler.lambda_handler(state_data(context, green), lambda_context)

    # Then it reports every desired task healthy, and changed nothing
    assert report == {"healthyTargets": 2, "desiredCount": 2}
    assert aws_state(world) == before


def test_unhealthy_green_is_polled_until_the_deadline(world, store):
    # Given an image whose targets fail their health checks, before the 300 s health-wait deadline
    context, green = deployment(world, "v2-broken")
    elapse(world, 120)

    # When CheckHealth runs
    # Then it still waits (the deadline has not passed)
    with pytest.raises(errors.GreenNotHealthyYet) as raised:
        check_health.check(context, green, world.clients)
    assert "Target.ResponseCodeMismatch" in str(raised.value)


def test_unhealthy_green_times_out_after_the_deadline_naming_the_reason(world, store, handler, lambda_context):
    # Given an image whose targets never pass their health checks
    context, green = deployment(world, "v2-broken")
    before = aws_state(world)

    # When CheckHealth runs after the configured 300 s
    elapse(world, 300)
    assert world.clock.now() >= datetime.fromisoformat(green.dump()["healthDeadline"])
    with pytest.raises(errors.HealthCheckTimeout) as raised:
        handler.lambda_handler(state_data(context, green), lambda_context)

    # Then the error says how long it waited and why the targets are unhealthy
    message = str(raised.value)
    assert type(raised.value).__name__ == "HealthCheckTimeout"
    assert "300s" in message
    assert "2 unhealthy" in message and "Target.ResponseCodeMismatch" in message
    # ... and production was not changed (green is left for Cleanup)
    assert aws_state(world) == before


def test_targets_of_a_group_no_rule_forwards_to_are_unused_and_green_is_not_healthy(world, store):
    # Given green's tasks are running, but someone pointed the test rule away from green's target group
    context, green = deployment(world, "v2")
    world.clients.elbv2.modify_rule(
        RuleArn=world.demo.test_rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": world.demo.target_groups[0]}]
    )
    elapse(world, 60)

    # When CheckHealth runs
    # Then the load balancer reports the targets unused (Target.NotInUse), which is not healthy
    with pytest.raises(errors.GreenNotHealthyYet) as raised:
        check_health.check(context, green, world.clients)
    assert "2 unused (Target.NotInUse)" in str(raised.value)


def test_a_replaced_task_is_judged_by_its_new_address(world, store):
    # Given healthy green, one of whose tasks crashes and is replaced (its old address drains)
    context, green = deployment(world, "v2")
    elapse(world, 60)
    old_address = world.plane.crash_task(green.id)

    # When CheckHealth runs while the replacement starts, and again once it passed its health checks
    with pytest.raises(errors.GreenNotHealthyYet) as raised:
        check_health.check(context, green, world.clients)
    assert "1 draining" in str(raised.value)  # reported, but not held against green
    elapse(world, 40)
    report = check_health.check(context, green, world.clients)

    # Then green is healthy again with its new task; the old address still drains in the group
    assert report.healthyTargets == 2
    described = world.clients.elbv2.describe_target_health(TargetGroupArn=green.targetGroupArn)
    states = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in described["TargetHealthDescriptions"]}
    assert states[old_address] == "draining"
