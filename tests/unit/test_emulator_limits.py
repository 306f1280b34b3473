"""Issue 11: the emulator refuses what AWS refuses (moto accepts it): task definition tags, Step Functions causes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bluegreen import ecs
from bluegreen_cli.local import patches

CONTAINER = [{"name": "web", "image": "repo@sha256:1", "memory": 512}]


@pytest.fixture
def patched(world):
    with patches.installed(), patches.task_definition_rules():  # as the emulator installs them
        yield world


def test_register_task_definition_refuses_aws_tags_and_more_than_50(patched):
    client = patched.session.client("ecs")
    # When a revision is registered with an aws:-prefixed tag, or 51 tags
    for tags in (
        [{"key": "aws:cloudformation:stack-name", "value": "web"}],
        [{"key": f"k{i}", "value": "v"} for i in range(51)],
    ):
        with pytest.raises(ClientError) as raised:
            client.register_task_definition(family="limits", containerDefinitions=CONTAINER, tags=tags)
        # Then ECS refuses it, and no revision is registered
        assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert client.list_task_definitions(familyPrefix="limits")["taskDefinitionArns"] == []


def test_register_with_image_copies_a_base_revision_that_carries_aws_tags(patched):
    # Given a base revision created by CloudFormation (aws: tags, set by AWS) with 55 user tags
    client = patched.session.client("ecs")
    base = client.register_task_definition(
        family="cfn-web", containerDefinitions=CONTAINER, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)]
    )["taskDefinition"]["taskDefinitionArn"]
    # (as CloudFormation does; moto's TagResource lets the test play AWS's part)
    client.tag_resource(resourceArn=base, tags=[{"key": "aws:cloudformation:stack-name", "value": "web"}])
    # When green's revision is registered from it
    arn = ecs.register_with_image(client, base, "web", "repo@sha256:2", {"bluegreen:execution": "web-v2"})
    # Then it is registered with our tag, no aws: tag, and at most 50 tags
    tags = client.describe_task_definition(taskDefinition=arn, include=["TAGS"])["tags"]
    keys = [t["key"] for t in tags]
    assert "bluegreen:execution" in keys and len(tags) <= 50
    assert not [k for k in keys if k.startswith("aws:")]


def test_send_task_failure_refuses_a_cause_over_32768_characters(patched):
    sfn = patched.session.client("stepfunctions")
    with pytest.raises(ClientError) as raised:
        sfn.send_task_failure(taskToken="t", error="Rejected", cause="x" * 32_769)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_failure(taskToken="t", error="E" * 257, cause="short")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken="t", output=json.dumps("x" * 262_144))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
