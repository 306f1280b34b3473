"""Release resolution (bluegreen.aws.release): the pure decisions, without AWS."""

from __future__ import annotations

import json

import pytest

from bluegreen.aws import release
from bluegreen.domain.errors import (
    AmbiguousRelease,
    IncompatibleTaskDefinition,
    InvalidInput,
    InvalidTaskDefinition,
    InvalidTaskSize,
    LoadBalancedContainerMissing,
    RoleNotAllowed,
    TaskDefinitionTooLarge,
    UnknownContainer,
)
from bluegreen.domain.release_models import TaskDefinitionOverrides

FARGATE = release.LaunchTarget(fargate=True, awsvpc=True, label="launch type FARGATE", launch_type="FARGATE")
EC2_BRIDGE = release.LaunchTarget(fargate=False, awsvpc=False, label="launch type EC2", launch_type="EC2")


def definition(**changes) -> dict:
    base = {
        "family": "web",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [
            {
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "a" * 64,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "STAGE", "value": "demo"}],
            }
        ],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"imageTag": "v2"}, "imageTag"),
        ({"images": {"web": "v2"}}, "images"),
        ({"taskDefinition": "web:3"}, "taskDefinition"),
        ({"taskDefinitionOverrides": {"memory": "1024"}}, "taskDefinitionOverrides"),
    ],
)
def test_one_description_of_the_release_is_accepted(raw, kind):
    assert release.release_kind({"service": "web", **raw}) == kind


def test_two_descriptions_are_ambiguous_and_none_is_invalid():
    with pytest.raises(AmbiguousRelease, match="exactly one"):
        release.release_kind({"imageTag": "v2", "taskDefinition": "web:3"})
    with pytest.raises(AmbiguousRelease, match="imageDigest goes with imageTag"):
        release.release_kind({"images": {"web": "v2"}, "imageDigest": "sha256:" + "a" * 64})
    with pytest.raises(InvalidInput, match="does not say what to deploy"):
        release.release_kind({"service": "web"})


def test_describe_output_is_accepted_inline_and_its_read_only_fields_dropped():
    described = {
        "taskDefinition": {**definition(), "taskDefinitionArn": "arn:x", "revision": 4, "status": "ACTIVE"},
        "tags": [{"key": "team", "value": "a"}],
    }
    parsed, tags = release.parse_inline(described)
    assert parsed == definition()
    assert tags == {"team": "a"}
    assert release.parse_inline(json.dumps(definition()))[0] == definition()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"family": "web",', "not valid JSON"),
        ([1, 2], "must be a JSON object"),
        ({"family": "web"}, "containerDefinitions"),
        ({"containerDefinitions": [{"name": "a", "image": "b"}]}, "family"),
        ({"family": "web", "containerDefinitions": [{"name": "a"}]}, "needs an 'image'"),
        ({**definition(), "color": "blue"}, "color"),
        ({**definition(), "containerDefinitions": definition()["containerDefinitions"] * 2}, "unique"),
    ],
)
def test_what_is_not_a_task_definition_is_refused(value, message):
    with pytest.raises(InvalidTaskDefinition, match=message):
        release.parse_inline(value)


def test_registered_references_name_a_revision():
    assert release.registered_reference("web:3") == "web:3"
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"
    assert release.registered_reference(arn) == arn
    with pytest.raises(InvalidTaskDefinition, match="Name a revision"):
        release.registered_reference("web")
    with pytest.raises(InvalidTaskDefinition, match="not valid JSON"):
        release.registered_reference("{oops")


def test_overrides_set_and_remove_env_and_secrets_and_change_size():
    overrides = TaskDefinitionOverrides.model_validate(
        {
            "cpu": 512,
            "memory": "1024",
            "containers": {
                "web": {
                    "environment": {"NEW": "1", "STAGE": "prod"},
                    "secrets": {"DB": "arn:aws:ssm:us-east-1:123456789012:parameter/db"},
                    "image": "v2",
                }
            },
        }
    )
    patched = release.apply_overrides(definition(), overrides, lambda name, ref: f"repo-of-{name}:{ref}")
    web = patched["containerDefinitions"][0]
    assert web["environment"] == [{"name": "STAGE", "value": "prod"}, {"name": "NEW", "value": "1"}]
    assert web["secrets"] == [{"name": "DB", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}]
    assert web["image"] == "repo-of-web:v2"
    assert (patched["cpu"], patched["memory"]) == ("512", "1024")
    assert definition()["containerDefinitions"][0]["environment"] == [{"name": "STAGE", "value": "demo"}]

    removal = TaskDefinitionOverrides.model_validate({"containers": {"web": {"removeEnvironment": ["STAGE"]}}})
    assert release.apply_overrides(definition(), removal, None)["containerDefinitions"][0]["environment"] == []


def test_overrides_refuse_unknown_containers_and_variables_and_secret_values():
    with pytest.raises(UnknownContainer, match="'worker'"):
        release.apply_overrides(
            definition(), TaskDefinitionOverrides.model_validate({"containers": {"worker": {}}}), None
        )
    with pytest.raises(UnknownContainer, match="NOPE"):
        release.apply_overrides(
            definition(),
            TaskDefinitionOverrides.model_validate({"containers": {"web": {"removeEnvironment": ["NOPE"]}}}),
            None,
        )
    for value in ("hunter2", "hunter2 with spaces", "arn:aws:iam::123456789012:role/x"):
        with pytest.raises(ValueError, match="never the secret's value"):
            TaskDefinitionOverrides.model_validate({"containers": {"web": {"secrets": {"DB": value}}}})


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [("256", "512"), ("256", "2048"), ("1024", "8192"), ("4096", "30720"), ("8192", "61440"), ("16384", "122880"),
     ("1 vCPU", "2 GB"), (".5 vcpu", "4GB")],
)  # fmt: skip
def test_fargate_sizes_from_the_table_are_accepted(cpu, memory):
    release.check_task_size(definition(cpu=cpu, memory=memory, containerDefinitions=[]), fargate=True)


@pytest.mark.parametrize(
    ("cpu", "memory", "hint"),
    [("256", "4096", "512, 1024, 2048"), ("512", "512", "1024"), ("2048", "17408", "4096..16384"),
     ("8192", "18432", "16384..61440 in steps of 4096"), ("300", "1024", "cpu must be one of"),
     (None, "512", "set both")],
)  # fmt: skip
def test_fargate_sizes_outside_the_table_are_refused(cpu, memory, hint):
    with pytest.raises(InvalidTaskSize, match=hint.replace(".", r"\.")):
        release.check_task_size(definition(cpu=cpu, memory=memory), fargate=True)


def test_ec2_sizes_are_not_checked_but_a_container_above_the_task_is():
    release.check_task_size(definition(cpu="300", memory="700", requiresCompatibilities=["EC2"]), fargate=False)
    big = definition(containerDefinitions=[{"name": "web", "image": "x", "memory": 1024}])
    with pytest.raises(InvalidTaskSize, match="more than the task's 512"):
        release.check_task_size(big, fargate=True)


def test_roles_must_match_the_pass_role_pattern_in_the_account():
    ok = definition(taskRoleArn="arn:aws:iam::123456789012:role/demo-task", executionRoleArn="demo-exec")
    release.check_roles(ok, "demo-*", "123456789012")
    with pytest.raises(RoleNotAllowed, match="TaskRoleNamePattern"):
        release.check_roles(definition(taskRoleArn="arn:aws:iam::123456789012:role/admin"), "demo-*", "123456789012")
    with pytest.raises(RoleNotAllowed, match="executionRoleArn"):
        release.check_roles(definition(executionRoleArn="arn:aws:iam::999999999999:role/demo-x"), "*", "123456789012")


def test_the_definition_must_fit_the_launch_type_and_network_mode():
    release.check_compatibility(definition(), FARGATE)
    with pytest.raises(IncompatibleTaskDefinition, match="FARGATE"):
        release.check_compatibility(definition(requiresCompatibilities=["EC2"]), FARGATE)
    with pytest.raises(IncompatibleTaskDefinition, match="awsvpc"):
        release.check_compatibility(definition(networkMode="bridge"), FARGATE)
    release.check_compatibility(definition(networkMode="bridge", requiresCompatibilities=["EC2"]), EC2_BRIDGE)
    with pytest.raises(IncompatibleTaskDefinition, match="network mode"):
        release.check_compatibility(definition(requiresCompatibilities=["EC2"]), EC2_BRIDGE)


def test_launch_target_of_a_task_set():
    spot = {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
    assert release.LaunchTarget.of(spot).fargate
    assert not release.LaunchTarget.of({"capacityProviderStrategy": [{"capacityProvider": "my-asg"}]}).fargate
    network = {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s"]}}}
    assert release.LaunchTarget.of({"launchType": "FARGATE", **network}) == FARGATE


def test_the_load_balanced_container_and_port_must_stay():
    release.load_balanced_port(definition(), "web", 8080)
    with pytest.raises(LoadBalancedContainerMissing, match="port 9090"):
        release.load_balanced_port(definition(), "web", 9090)
    with pytest.raises(LoadBalancedContainerMissing, match="no container 'api'"):
        release.load_balanced_port(definition(), "api", 8080)


def test_state_data_above_the_step_functions_limit_is_refused_with_how_to_register():
    big = definition(containerDefinitions=[{"name": "web", "image": "x", "command": ["y" * 130_000]}])
    release.check_state_size({"taskDefinition": definition()}, {"greenDefinition": definition()}, "taskDefinition")
    with pytest.raises(TaskDefinitionTooLarge, match="register-task-definition.*family:revision"):
        release.check_state_size({"taskDefinition": big}, {"greenDefinition": big}, "taskDefinition")


def test_green_tags_drop_aws_tags_and_keep_at_most_fifty():
    base = {"aws:cloudformation:stack-name": "x", **{f"k{i}": "v" for i in range(60)}}
    tags = release.green_tags(base, {"bluegreen:execution": "e"})
    assert len(tags) == 50
    assert "aws:cloudformation:stack-name" not in tags
    assert tags["bluegreen:execution"] == "e"
