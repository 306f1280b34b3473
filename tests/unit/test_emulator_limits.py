"""The emulator refuses what AWS refuses (moto accepts it): task definition tags, Step Functions causes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bluegreen.aws import ecs
from bluegreen_emulator import patches

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


# --- metric-math alarms ---------------------------------------------------------------------------
def _metric(metric_id: str) -> dict:
    stat = {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"}, "Period": 60, "Stat": "Sum"}
    return {"Id": metric_id, "MetricStat": stat, "ReturnData": False}


@pytest.mark.parametrize(
    ("metrics", "why"),
    [
        ([_metric(f"m{i}") for i in range(11)] + [{"Id": "e", "Expression": "m1", "ReturnData": True}], "at most 10"),
        ([_metric("m1"), {"Id": "e", "Expression": "m1", "ReturnData": False}], "ReturnData"),
        ([_metric("m1"), {"Id": "e", "Expression": "ANOMALY_DETECTION_BAND(m1)", "ReturnData": True}], "not modelled"),
        ([_metric("m1"), {"Id": "e", "Expression": "m1 + m2", "ReturnData": True}], "unknown id"),
    ],
    ids=["11 metrics", "nothing returns data", "unmodelled function", "unknown id"],
)
def test_put_metric_alarm_refuses_metrics_cloudwatch_refuses(patched, metrics: list, why: str):
    client = patched.session.client("cloudwatch")
    # When a metric-math alarm breaks PutMetricAlarm's rules
    with pytest.raises(ClientError) as raised:
        client.put_metric_alarm(
            AlarmName="bad-math",
            Metrics=metrics,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    # Then it is refused, saying why, and no alarm exists
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert why in raised.value.response["Error"]["Message"]
    assert client.describe_alarms(AlarmNames=["bad-math"])["MetricAlarms"] == []
