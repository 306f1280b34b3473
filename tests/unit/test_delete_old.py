"""DeleteOld: delete the task set behind the test rule, found from the live rules, never from the input."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.domain import errors
from tests.conftest import load_handler
from tests.unit.helpers import (
    aws_state,
    deploy_until_swapped,
    run_create_green,
    run_delete_old,
    run_validate,
    set_forward,
    state_data,
    task_set,
    task_set_summary,
    wait_until_healthy,
)


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("delete_old")


def test_delete_old_removes_the_old_task_set_after_the_swap(world, store, api, handler, lambda_context):
    # Given v2 serves production from green (B) and the test rule now reaches blue (A)
    deployment = deploy_until_swapped(world, "v2")
    blue_group, green_group = world.demo.target_groups
    rules_before = aws_state(world)
    api.reset()

    # When DeleteOld runs
    result = handler.lambda_handler(deployment.state(), lambda_context)

    # Then the blue task set is deleted, and only green is left, primary, on B
    assert [c.params["taskSet"] for c in api.calls if c.operation == "DeleteTaskSet"] == [world.demo.blue_task_set]
    assert task_set_summary(world) == [(deployment.green.id, "PRIMARY", green_group, deployment.context.executionName)]
    # ... the rules were not touched
    after = aws_state(world)
    assert (after["production"], after["test"]) == (rules_before["production"], rules_before["test"])
    # ... and the result tells what was deployed and what was deleted
    assert result["service"] == "demo-web"
    assert result["imageTag"] == "v2"
    assert result["imageDigest"] == world.demo.digests["v2"]
    assert result["taskSet"] == deployment.green.id
    assert result["targetGroupArn"] == green_group
    assert result["deletedTaskSet"] == world.demo.blue_task_set
    # ... and the service is free for the next deployment
    assert store.lock_holder("demo-web") is None


def test_delete_old_picks_the_task_set_from_the_live_rules_not_from_the_input(world, store):
    # Given a swapped deployment whose payload claims blue is green's task set on green's target group
    deployment = deploy_until_swapped(world, "v2")
    data = deployment.state()
    data["context"]["blue"].update(
        id=deployment.green.id, arn=deployment.green.arn, targetGroupArn=deployment.green.targetGroupArn
    )
    data["context"]["blueTargetGroupArn"] = deployment.green.targetGroupArn

    # When DeleteOld runs
    result = run_delete_old(world, data)

    # Then it still deletes the task set behind the test rule (the real blue) and keeps green
    assert result.deletedTaskSet == world.demo.blue_task_set
    assert task_set(world, world.demo.blue_task_set) is None
    assert task_set(world, deployment.green.id)["status"] == "PRIMARY"


def test_delete_old_refuses_while_the_test_target_group_still_gets_production_traffic(world, store, api):
    # Given production was split again between green (90) and blue (10) after the swap
    deployment = deploy_until_swapped(world, "v2")
    blue_group, green_group = world.demo.target_groups
    set_forward(world, world.demo.production_rule_arn, {green_group: 90, blue_group: 10})
    before = aws_state(world)
    api.reset()

    # When DeleteOld runs
    with pytest.raises(errors.UnsafeDelete) as raised:
        run_delete_old(world, deployment.state())

    # Then it refuses, naming the target group, and deletes nothing
    assert type(raised.value).__name__ == "UnsafeDelete"
    assert blue_group in str(raised.value)
    assert "DeleteTaskSet" not in api.operations()
    assert aws_state(world) == before


def test_delete_old_refuses_when_production_does_not_forward_to_green(world, store, api):
    # Given green is healthy but production still forwards to blue (no swap happened)
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    wait_until_healthy(world, context, green)
    before = aws_state(world)
    api.reset()

    # When DeleteOld runs
    with pytest.raises(errors.UnsafeDelete) as raised:
        run_delete_old(world, state_data(context, green))

    # Then it refuses and deletes nothing: neither blue nor green
    assert green.targetGroupArn in str(raised.value)
    assert "DeleteTaskSet" not in api.operations()
    assert aws_state(world) == before
