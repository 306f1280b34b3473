"""Swap: production to green in one ModifyRule call, the test rule to blue, green primary."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bluegreen.domain import errors
from tests.conftest import load_handler
from tests.unit.helpers import (
    aws_state,
    production_weights,
    rule_actions,
    rule_weights,
    run_create_green,
    run_swap,
    run_validate,
    state_data,
    task_set,
    wait_until_healthy,
)


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("swap")


@pytest.fixture
def ready(world, store):
    """v2 validated, green created and healthy behind the test target group."""
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    wait_until_healthy(world, context, green)
    return context, green


def test_swap_moves_production_to_green_in_one_call(world, ready, api, handler, lambda_context):
    # Given green is healthy behind the test target group B, production forwards to A
    context, green = ready
    blue_group, green_group = world.demo.target_groups
    api.reset()

    # When Swap runs
    result = handler.lambda_handler(state_data(context, green), lambda_context)

    # Then the production rule was changed by exactly one ModifyRule call, straight to green 100 / blue 0
    (call,) = api.modify_rule_calls(world.demo.production_rule_arn)
    (forward,) = [a for a in call.params["Actions"] if a["Type"] == "forward"]
    sent = {g["TargetGroupArn"]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}
    assert sent == {green_group: 100, blue_group: 0}
    assert production_weights(world) == {green_group: 100, blue_group: 0}
    # ... the test rule now reaches blue (the previous version)
    assert rule_weights(world, world.demo.test_rule_arn) == {blue_group: 1}
    # ... green is the primary task set, blue is still running
    assert task_set(world, green.id)["status"] == "PRIMARY"
    assert task_set(world, world.demo.blue_task_set)["status"] == "ACTIVE"
    # ... and the bake deadline is bakeSeconds (120) after the swap
    swapped_at = datetime.fromisoformat(result["swappedAt"])
    assert swapped_at == world.clock.now()
    assert datetime.fromisoformat(result["bakeDeadline"]) == swapped_at + timedelta(seconds=120)
    assert result["productionWeights"] == {green_group: 100, blue_group: 0}


def test_swap_keeps_the_other_settings_of_the_production_rule(world, store, api):
    # Given a production rule with authentication and sticky sessions
    blue_group, green_group = world.demo.target_groups
    authenticate = {
        "Type": "authenticate-oidc",
        "Order": 1,
        "AuthenticateOidcConfig": {
            "Issuer": "https://idp.example.com",
            "AuthorizationEndpoint": "https://idp.example.com/authorize",
            "TokenEndpoint": "https://idp.example.com/token",
            "UserInfoEndpoint": "https://idp.example.com/userinfo",
            "ClientId": "demo-web",
            "ClientSecret": "secret",
        },
    }
    stickiness = {"Enabled": False, "DurationSeconds": 600}  # kept verbatim (on, Validate refuses the rule)
    world.clients.elbv2.modify_rule(
        RuleArn=world.demo.production_rule_arn,
        Actions=[
            authenticate,
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": blue_group, "Weight": 1}],
                    "TargetGroupStickinessConfig": stickiness,
                },
            },
        ],
    )
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    wait_until_healthy(world, context, green)
    api.reset()

    # When Swap runs
    run_swap(world, context, green)

    # Then the one ModifyRule call kept the authentication and the stickiness, and moved only the weights
    (call,) = api.modify_rule_calls(world.demo.production_rule_arn)
    actions = rule_actions(world, world.demo.production_rule_arn)
    assert call.params["Actions"][0] == authenticate
    assert actions[0] == authenticate
    assert actions[1]["Order"] == 2
    assert actions[1]["ForwardConfig"]["TargetGroupStickinessConfig"] == stickiness
    assert production_weights(world) == {green_group: 100, blue_group: 0}


def test_swap_refuses_when_green_is_not_healthy_and_changes_nothing(world, store, api, handler, lambda_context):
    # Given green was just created and is not healthy yet
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    before = aws_state(world)
    api.reset()

    # When Swap runs
    with pytest.raises(errors.GreenNotHealthy) as raised:
        handler.lambda_handler(state_data(context, green), lambda_context)

    # Then it refuses with GreenNotHealthy (routed to Cleanup), without touching any rule or task set
    assert type(raised.value).__name__ == "GreenNotHealthy"
    assert api.mutating() == []
    assert aws_state(world) == before
    assert production_weights(world) == {world.demo.target_groups[0]: 1}


def test_swap_retried_after_success_does_not_touch_production_again(world, ready, api):
    # Given Swap already switched production (its response was lost)
    context, green = ready
    run_swap(world, context, green)
    after_first = aws_state(world)
    api.reset()

    # When the state machine retries Swap
    run_swap(world, context, green)

    # Then the production rule gets no further ModifyRule call, and the state is the same
    assert api.modify_rule_calls(world.demo.production_rule_arn) == []
    assert aws_state(world) == after_first


def test_swap_retried_after_the_test_rule_failed_finishes_without_touching_production(world, ready, api):
    # Given the first Swap switched production but its test-rule update kept being throttled
    context, green = ready
    blue_group, green_group = world.demo.target_groups
    api.fail("ModifyRule", "ThrottlingException", after=1)
    with pytest.raises(errors.TransientAwsError):
        run_swap(world, context, green)
    assert production_weights(world) == {green_group: 100, blue_group: 0}
    assert rule_weights(world, world.demo.test_rule_arn) == {green_group: 1}
    api.reset()

    # When the state machine retries Swap
    run_swap(world, context, green)

    # Then only the test rule is changed; the production rule gets no second ModifyRule call
    assert api.modify_rule_calls(world.demo.production_rule_arn) == []
    assert len(api.modify_rule_calls(world.demo.test_rule_arn)) == 1
    assert rule_weights(world, world.demo.test_rule_arn) == {blue_group: 1}
    assert task_set(world, green.id)["status"] == "PRIMARY"
