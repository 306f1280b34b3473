"""Planning ``bluegreen adopt`` from a described service and the live rules (pure, no AWS)."""

from __future__ import annotations

import pytest

from bluegreen.domain.models import RuleSnapshot
from bluegreen_cli.adopt import describe_old, parse_image, plan
from bluegreen_cli.common import CliError

A, B = "arn:tg/a", "arn:tg/b"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


def rolling(**extra: object) -> dict:
    service = {
        "serviceName": "web",
        "serviceArn": "arn:aws:ecs:us-east-1:1:service/prod/web",
        "deploymentController": {"type": "ECS"},
        "desiredCount": 3,
        "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:7",
        "loadBalancers": [{"targetGroupArn": A, "containerName": "web", "containerPort": 8080}],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s1"], "securityGroups": ["sg"]}},
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
    }
    service.update(extra)
    return service


DEFINITION = {"containerDefinitions": [{"name": "web", "image": IMAGE}]}


def rule(arn: str, group: str) -> RuleSnapshot:
    return RuleSnapshot(ruleArn=arn, actions=[{"Type": "forward", "TargetGroupArn": group}])


def test_a_rolling_service_is_planned_onto_the_idle_target_group():
    # Given a rolling service behind A, production on A and the test rule on the idle B
    old = describe_old(rolling())
    # When the adoption is planned
    adoption = plan(old, DEFINITION, rule("prod", A), rule("test", B), "web-bg", "prod", {"alarmNames": ["web-5xx"]})
    # Then the new service's configuration copies the network, task definition and container, A first
    config = adoption.config
    assert (config.service, config.cluster, config.targetGroupArns) == ("web-bg", "prod", [A, B])
    assert config.network.subnets == ["s1"] and config.network.launchType == "FARGATE"
    assert config.network.platformVersion is None  # LATEST is not pinned
    assert config.taskDefinition.endswith("web:7") and config.containerPort == 8080
    assert (adoption.repository, adoption.tag, adoption.digest) == ("web", "v1", None)
    assert config.alarmNames == ["web-5xx"]


def test_a_codedeploy_service_is_read_from_its_primary_task_set():
    primary = {
        "status": "PRIMARY",
        "taskDefinition": "arn:td/web:9",
        "loadBalancers": [{"targetGroupArn": B, "containerName": "web", "containerPort": 80}],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s2"]}},
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
    }
    old = describe_old(
        rolling(deploymentController={"type": "CODE_DEPLOY"}, taskDefinition=None, loadBalancers=[], taskSets=[primary])
    )
    assert (old.taskDefinition, old.targetGroupArn, old.network.subnets) == ("arn:td/web:9", B, ["s2"])
    assert old.network.launchType is None and old.network.capacityProviderStrategy[0].capacityProvider == "FARGATE"


@pytest.mark.parametrize(
    ("service", "words"),
    [
        (rolling(deploymentController={"type": "EXTERNAL"}), "already uses the EXTERNAL"),
        (rolling(loadBalancers=[]), "0 target groups"),
        (rolling(networkConfiguration=None), "awsvpc"),
    ],
)
def test_services_that_cannot_be_adopted_are_refused(service, words):
    with pytest.raises(CliError, match=words):
        describe_old(service)


@pytest.mark.parametrize(
    ("production", "test", "words"),
    [
        (rule("prod", B), rule("test", A), "not only to the old"),
        (rule("prod", A), rule("test", A), "test rule forwards"),
    ],
)
def test_rules_that_do_not_fit_are_refused(production, test, words):
    with pytest.raises(CliError, match=words):
        plan(describe_old(rolling()), DEFINITION, production, test, "web-bg", "prod", {})


def test_images_are_parsed_by_tag_or_digest_and_must_be_in_ecr():
    assert parse_image(IMAGE) == ("web", "v1", None)
    assert parse_image("1.dkr.ecr.us-east-1.amazonaws.com/team/web@sha256:" + "a" * 64) == (
        "team/web",
        None,
        "sha256:" + "a" * 64,
    )
    assert parse_image("1.dkr.ecr.us-east-1.amazonaws.com/web") == ("web", "latest", None)
    with pytest.raises(CliError, match="not in Amazon ECR"):
        parse_image("nginx:1.27")
