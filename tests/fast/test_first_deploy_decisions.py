"""The first deployment's decisions, as pure functions (no AWS, no moto)."""

from __future__ import annotations

import pytest

from bluegreen.aws import first_deploy
from bluegreen.domain.errors import ListenerRulesInvalid
from bluegreen.domain.models import FirstDeployment, NetworkConfig, RuleSnapshot, ServiceConfig, TrafficShift

A, B = (
    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1",
    "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2",
)
FIXED = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}, "Order": 2}
AUTH = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"Issuer": "https://id.example.com"}}


def config(**extra: object) -> ServiceConfig:
    return ServiceConfig.model_validate(
        {
            "cluster": "c",
            "service": "web",
            "containerName": "web",
            "repository": "web",
            "productionRuleArn": "prod",
            "testRuleArn": "test",
            "targetGroupArns": [A, B],
            **extra,
        }
    )


def rule(arn: str, *actions: dict) -> RuleSnapshot:
    return RuleSnapshot(ruleArn=arn, actions=list(actions))


def forward(group: str) -> dict:
    return {"Type": "forward", "TargetGroupArn": group}


def test_green_is_the_test_rules_group_when_production_answers_a_fixed_response():
    # Given production answers 503 and the test rule forwards to B
    # When the target groups are chosen
    blue, green = first_deploy.target_groups(config(), rule("prod", AUTH, FIXED), rule("test", forward(B)))
    # Then green is B (the test rule's) and the test rule moves to A once green is live
    assert (blue, green) == (A, B)


def test_green_is_the_other_group_when_production_forwards_to_an_empty_one():
    assert first_deploy.target_groups(config(), rule("prod", forward(A)), rule("test", forward(B))) == (A, B)


@pytest.mark.parametrize(
    ("production", "test"),
    [
        ((FIXED,), (forward("arn:other"),)),  # test rule off the configured groups
        ((forward(A),), (forward(A),)),  # test rule on production's group
        ((forward("arn:other"),), (forward(B),)),  # production off the configured groups
    ],
)
def test_rules_that_do_not_fit_the_configuration_are_refused(production, test):
    with pytest.raises(ListenerRulesInvalid):
        first_deploy.target_groups(config(), rule("prod", *production), rule("test", *test))


def test_fixed_response_is_replaced_by_a_forward_to_green_only_keeping_other_actions():
    # Given a production rule that authenticates, then answers 503
    actions = [AUTH, FIXED]
    # When production is pointed at green
    new_actions = first_deploy.forward_instead(actions, B)
    # Then authentication is kept as is and the fixed response becomes a forward to green only, same order
    assert new_actions[0] == AUTH
    assert new_actions[1] == {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": B, "Weight": 100}]},
    }
    assert actions == [AUTH, FIXED]  # the saved actions are not modified
    assert first_deploy.serving_groups(rule("prod", *new_actions)) == {B}
    assert first_deploy.serving_groups(rule("prod", *actions)) == set()


def test_a_first_deployment_moves_production_at_once_and_keeps_no_old_task_set():
    # Given a canary strategy and keep-old in the configuration
    canary = config(trafficShift={"type": "CANARY", "percent": 10}, keepOld={"enabled": True})
    # When it is a first deployment
    adjusted = first_deploy.first_config(canary)
    # Then production moves in one step and nothing is held
    assert adjusted.trafficShift == TrafficShift() and adjusted.trafficShift.schedule() == [100]
    assert adjusted.keepOld.enabled is False


def test_rollback_needs_healthy_targets_only_where_production_was_served_before():
    base = {"executionArn": "e", "executionName": "n", "service": "web", "imageTag": "v1", "imageDigest": "d"}
    from bluegreen.domain.models import DeploymentContext, SavedRules

    saved = SavedRules(production=rule("prod", FIXED), test=rule("test", forward(B)))
    common = dict(base, image="i", config=config(), blueTargetGroupArn=A, greenTargetGroupArn=B, savedRules=saved)
    never_served = DeploymentContext(**common, firstDeployment=FirstDeployment(productionFixedResponse=True))
    adopted = DeploymentContext(**common, firstDeployment=FirstDeployment(previouslyServed=True))
    assert first_deploy.blue_must_be_healthy(never_served) is False
    assert first_deploy.blue_must_be_healthy(adopted) is True
    assert first_deploy.describe_blue(never_served) == "nothing (first deployment)"


def test_network_defaults_to_fargate_and_refuses_two_compute_options():
    assert NetworkConfig(subnets=["s"]).launchType == "FARGATE"
    with pytest.raises(ValueError, match="not both"):
        NetworkConfig(subnets=["s"], launchType="EC2", capacityProviderStrategy=[{"capacityProvider": "FARGATE"}])
    with pytest.raises(ValueError, match="taskDefinition"):
        config(network={"subnets": ["s"]})


def test_task_set_template_carries_the_configured_network():
    network = {
        "subnets": ["s1", "s2"],
        "securityGroups": ["sg"],
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 2}],
        "platformVersion": "1.4.0",
    }
    template = first_deploy.task_set_template(config(network=network, taskDefinition="web"), 8080)
    assert template["networkConfiguration"] == {
        "awsvpcConfiguration": {"subnets": ["s1", "s2"], "securityGroups": ["sg"], "assignPublicIp": "DISABLED"}
    }
    assert template["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 0}]
    assert "launchType" not in template
    assert template["platformVersion"] == "1.4.0"
    assert template["loadBalancers"] == [{"containerName": "web", "containerPort": 8080}]


# --- a first deployment over several production routes ---------------------------------
def test_every_fixed_response_route_agrees_on_green():
    # Given two production routes answering 503 and a test route forwarding to B
    production = [rule("prod", AUTH, FIXED), rule("api", FIXED)]
    # When the target groups are chosen over every route
    blue, green = first_deploy.routes_target_groups(config(), production, rule("test", forward(B)))
    # Then green is the test route's group, as for one route
    assert (blue, green) == (A, B)


def test_a_forwarding_production_route_on_the_test_routes_group_is_refused():
    # Given one production route answering 503 (green B) and another already forwarding to B, the test group
    production = [rule("prod", FIXED), rule("api", forward(B))]
    # When / Then the routes are refused with the rules' error (nothing was changed)
    with pytest.raises(ListenerRulesInvalid):
        first_deploy.routes_target_groups(config(), production, rule("test", forward(B)))
