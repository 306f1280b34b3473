"""Validate: resolves the image, checks the service, task sets and rules, saves the rules; changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.domain import errors
from bluegreen_emulator.seed import seed_service
from tests.conftest import load_handler
from tests.unit.helpers import (
    EXECUTION_NAME,
    add_task_set,
    aws_state,
    create_target_group,
    put_config,
    rule_actions,
    set_forward,
    validate_payload,
)


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("validate")


def refused(world: Any, api: Any, handler: Any, lambda_context: Any, execution_input: Any, error: type) -> str:
    """Run the Validate handler, expect ``error`` (by class and name), and check nothing changed in AWS."""
    before = aws_state(world)
    api.reset()
    with pytest.raises(error) as raised:
        handler.lambda_handler(validate_payload(execution_input), lambda_context)
    # The class name is the error name Step Functions routes on.
    assert type(raised.value).__name__ == error.__name__
    assert api.mutating() == []
    assert aws_state(world) == before
    return str(raised.value)


# --- happy path ------------------------------------------------------------------------------
def test_valid_request_returns_the_context_of_the_deployment(world, store, api, handler, lambda_context):
    # Given the demo service serving v1 through target group A, and tag v2 pushed to ECR
    demo = world.demo
    blue_group, green_group = demo.target_groups
    before = aws_state(world)
    api.reset()

    # When Validate runs for v2
    context = handler.lambda_handler(validate_payload({"service": "demo-web", "imageTag": "v2"}), lambda_context)

    # Then the image is pinned to the digest v2 has in ECR
    assert context["imageDigest"] == demo.digests["v2"]
    assert context["image"] == f"{demo.repository_uri}@{demo.digests['v2']}"
    assert (context["service"], context["imageTag"]) == ("demo-web", "v2")
    assert context["executionName"] == EXECUTION_NAME
    assert context["executionArn"].endswith(f":{EXECUTION_NAME}")
    # ... blue is the task set that serves production, running v1
    assert context["blue"]["id"] == demo.blue_task_set
    assert context["blue"]["targetGroupArn"] == blue_group
    assert context["blue"]["image"] == f"{demo.repository_uri}@{demo.digests['v1']}"
    # ... green goes to the idle target group B, the one behind the test rule
    assert context["blueTargetGroupArn"] == blue_group
    assert context["greenTargetGroupArn"] == green_group
    # ... both rules' actions are saved exactly as DescribeRules returns them
    saved = context["savedRules"]
    assert saved["production"]["ruleArn"] == demo.production_rule_arn
    assert saved["production"]["actions"] == rule_actions(world, demo.production_rule_arn)
    assert saved["test"]["ruleArn"] == demo.test_rule_arn
    assert saved["test"]["actions"] == rule_actions(world, demo.test_rule_arn)
    # ... the configuration travels with the context
    assert context["config"]["alarmNames"] == [demo.alarm_name]
    assert context["config"]["targetGroupArns"] == demo.target_groups
    # ... and nothing was changed in AWS
    assert api.mutating() == []
    assert aws_state(world) == before


def test_a_digest_that_matches_the_tag_is_accepted(world, store, handler, lambda_context):
    # Given the digest v2 was built with
    digest = world.demo.digests["v2"]

    # When Validate runs with the tag and that digest
    payload = validate_payload({"service": "demo-web", "imageTag": "v2", "imageDigest": digest})
    context = handler.lambda_handler(payload, lambda_context)

    # Then the deployment uses that digest
    assert context["imageDigest"] == digest


def test_a_moving_tag_is_allowed_when_the_service_configuration_allows_it(world, store, handler, lambda_context):
    # Given a service whose configuration allows moving tags
    put_config(world, allowMutableTags=True)

    # When Validate runs for 'latest' (which points at the v2 image)
    context = handler.lambda_handler(validate_payload({"service": "demo-web", "imageTag": "latest"}), lambda_context)

    # Then the deployment is pinned to the digest 'latest' points to right now
    assert context["imageTag"] == "latest"
    assert context["imageDigest"] == world.demo.digests["v2"]
    assert context["image"].endswith("@" + world.demo.digests["v2"])


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("execution_input", "problem"),
    [
        pytest.param({"service": "demo-web"}, "imageTag", id="missing-imageTag"),
        pytest.param({"imageTag": "v2"}, "service", id="missing-service"),
        pytest.param({"service": "demo-web", "imageTag": "v2", "cluster": "prod"}, "cluster", id="extra-field"),
        pytest.param(
            {"service": "demo-web", "imageTag": "v2", "imageDigest": "sha256:1234"}, "imageDigest", id="bad-digest"
        ),
        pytest.param(
            {"service": "demo-web", "imageTag": "v2", "imageDigest": "md5:" + "a" * 64},
            "imageDigest",
            id="digest-wrong-algorithm",
        ),
        pytest.param({"service": "demo-web", "imageTag": "v2 final"}, "imageTag", id="tag-with-space"),
        pytest.param({"service": "../other", "imageTag": "v2"}, "service", id="service-with-slash"),
        pytest.param({"service": "demo-web", "imageTag": 2}, "imageTag", id="tag-not-a-string"),
        pytest.param({}, "service", id="empty-input"),
    ],
)
def test_malformed_input_is_refused_as_invalid_input(no_aws, handler, lambda_context, execution_input, problem):
    # Given an execution input that does not match the documented schema
    # When Validate runs
    with pytest.raises(errors.InvalidInput) as raised:
        handler.lambda_handler(validate_payload(execution_input), lambda_context)

    # Then the error is InvalidInput, names the offending field, and no AWS API was called at all
    assert type(raised.value).__name__ == "InvalidInput"
    assert problem in str(raised.value)
    assert no_aws.calls == []


def test_unknown_service_is_refused(world, store, api, handler, lambda_context):
    # Given no configuration document for 'billing'
    # When Validate runs for it
    message = refused(
        world, api, handler, lambda_context, {"service": "billing", "imageTag": "v2"}, errors.UnknownService
    )

    # Then the error names the SSM parameter that is missing
    assert "/bluegreen/services/billing" in message


def test_tag_that_is_not_in_ecr_is_refused(world, store, api, handler, lambda_context):
    # Given tag v9 was never pushed
    # When Validate runs for v9
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v9"}, errors.ImageNotFound
    )

    # Then the error names the image
    assert "demo-web:v9" in message


@pytest.mark.parametrize("tag", ["latest", "Main"])
def test_moving_tags_are_refused_by_default(world, store, api, handler, lambda_context, tag):
    # Given the default configuration (moving tags not allowed)
    # When Validate runs for a moving tag
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": tag}, errors.MutableTagRefused
    )

    # Then the error explains how to allow it
    assert tag in message and "allowMutableTags" in message


def test_digest_that_does_not_match_the_tag_is_refused(world, store, api, handler, lambda_context):
    # Given the digest of v3, while the tag says v2
    execution_input = {"service": "demo-web", "imageTag": "v2", "imageDigest": world.demo.digests["v3"]}

    # When Validate runs
    message = refused(world, api, handler, lambda_context, execution_input, errors.DigestMismatch)

    # Then the error shows both digests
    assert world.demo.digests["v2"] in message and world.demo.digests["v3"] in message


def test_service_without_the_external_deployment_controller_is_refused(world, store, api, handler, lambda_context):
    # Given a second service that uses the ECS rolling-update controller
    seed_service(world.session, world.plane, name="legacy-web", deployment_controller="ECS")

    # When Validate runs for it
    message = refused(
        world, api, handler, lambda_context, {"service": "legacy-web", "imageTag": "v2"}, errors.NotExternalController
    )

    # Then the error says which controller it uses and which one is needed
    assert "ECS deployment controller" in message and "EXTERNAL" in message


def test_ecs_service_that_does_not_exist_is_refused(world, store, api, handler, lambda_context):
    # Given a configuration that names an ECS service that does not exist
    put_config(world, service="demo-web-typo")

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.ServiceNotFound
    )

    # Then the error names the service
    assert "demo-web-typo" in message


def test_busy_test_target_group_is_refused(world, store, api, handler, lambda_context):
    # Given a task set left behind the test target group by an earlier deployment
    stuck = add_task_set(world, world.demo.target_groups[1], external_id="deploy-demo-web-v1-0007")

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.TestTargetGroupBusy
    )

    # Then the error names the task set in the way and the deployment that created it
    assert stuck["id"] in message and "deploy-demo-web-v1-0007" in message


def test_more_than_one_task_set_serving_production_is_refused(world, store, api, handler, lambda_context):
    # Given a second task set behind the production target group
    extra = add_task_set(world, world.demo.target_groups[0], external_id="manual")

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.MultipleServingTaskSets
    )

    # Then the error names both task sets
    assert extra["id"] in message and world.demo.blue_task_set in message


def test_no_task_set_serving_production_is_refused(world, store, api, handler, lambda_context):
    # Given the blue task set was deleted by hand
    world.clients.ecs.delete_task_set(
        cluster=world.demo.cluster, service=world.demo.name, taskSet=world.demo.blue_task_set, force=True
    )

    # When Validate runs
    # Then it is refused: there is no network setup to copy
    refused(world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.NoServingTaskSet)


def test_alarm_name_that_does_not_exist_is_refused_as_invalid_config(world, store, api, handler, lambda_context):
    # Given a configuration that watches a misspelled alarm
    put_config(world, alarmNames=[world.demo.alarm_name, "demo-web-5xxx"])

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.InvalidServiceConfig
    )

    # Then the error names only the missing alarm
    assert "demo-web-5xxx" in message
    assert world.demo.alarm_name not in message.replace("demo-web-5xxx", "")


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("not json", id="not-json"),
        pytest.param(None, id="same-target-group-twice"),
    ],
)
def test_malformed_service_configuration_is_refused(world, store, api, handler, lambda_context, document):
    # Given a configuration document that is not a valid service configuration
    if document is None:
        put_config(world, targetGroupArns=[world.demo.target_groups[0]] * 2)
    else:
        world.clients.ssm.put_parameter(
            Name="/bluegreen/services/demo-web", Value=document, Type="String", Overwrite=True
        )

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.InvalidServiceConfig
    )

    # Then the error names the parameter
    assert "/bluegreen/services/demo-web" in message


def test_production_rule_forwarding_to_an_unconfigured_target_group_is_refused(
    world, store, api, handler, lambda_context
):
    # Given production forwards to a target group that is not one of the two configured ones
    other = create_target_group(world, "demo-web-c")
    set_forward(world, world.demo.production_rule_arn, {other: 1})

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.RouteForwardsElsewhere
    )

    # Then the error (its own name, a ListenerRulesInvalid) names where production forwards to
    assert other in message


def test_production_rule_split_between_both_target_groups_is_refused(world, store, api, handler, lambda_context):
    # Given an earlier deployment stopped half-way: production is split between A and B
    blue_group, green_group = world.demo.target_groups
    set_forward(world, world.demo.production_rule_arn, {blue_group: 50, green_group: 50})

    # When Validate runs
    # Then it is refused
    refused(world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.ListenerRulesInvalid)


def test_test_rule_not_forwarding_to_the_idle_target_group_is_refused(world, store, api, handler, lambda_context):
    # Given the test rule forwards to the production target group
    set_forward(world, world.demo.test_rule_arn, {world.demo.target_groups[0]: 1})

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.ListenerRulesInvalid
    )

    # Then the error says which target group the test rule should use
    assert world.demo.target_groups[1] in message


def test_rule_arn_that_does_not_exist_is_refused_as_route_not_found(world, store, api, handler, lambda_context):
    # Given a configuration whose production rule ARN names a rule that does not exist (e.g. it was recreated)
    put_config(world, productionRuleArn=world.demo.production_rule_arn[:-4] + "0000")

    # When Validate runs
    # Then it is refused with the typed error the state machine and the user can act on (RouteNotFound,
    # a ListenerRulesInvalid)
    refused(world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.RouteNotFound)
    assert issubclass(errors.RouteNotFound, errors.ListenerRulesInvalid)


def test_throttled_configuration_read_is_a_transient_error(world, store, api, handler, lambda_context):
    # Given SSM keeps throttling GetParameter (after the SDK's own retries)
    api.fail("GetParameter", "ThrottlingException")

    # When Validate runs
    # Then the error is TransientAwsError, which the state machine retries
    refused(world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.TransientAwsError)
