"""A user's own CloudFormation template (examples/user-service.yaml) deploys on the emulator, and releases run
on what it created: the first one creates the first task set, the next one replaces it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen_emulator.cfn import unsupported_reason
from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.seed import push_image

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "user-service.yaml"


def _events(emu: Emulator, stack: str) -> list[dict[str, Any]]:
    return list(reversed(emu.client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]))


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Emulator, dict[str, str]]]:
    """Given the example template created as stack 'web' on the emulator."""
    with Emulator() as emu:
        cloudformation = emu.client("cloudformation")
        cloudformation.create_stack(StackName="web", TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"])
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName="web")["StackResourceSummaries"]
        }
        yield emu, resources


def test_the_template_creates_working_resources(deployed: tuple[Emulator, dict[str, str]]) -> None:
    emu, resources = deployed
    # Then the stack is complete
    (stack,) = emu.client("cloudformation").describe_stacks(StackName="web")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # And the service is an EXTERNAL shell with no task set yet
    (service,) = emu.client("ecs").describe_services(cluster="web-cluster", services=["web"])["services"]
    assert service["deploymentController"] == {"type": "EXTERNAL"}
    assert service["taskSets"] == [] and service["desiredCount"] == 2
    # And the rules, target group attributes and alarm are as declared
    elbv2 = emu.client("elbv2")
    (production,) = elbv2.describe_rules(RuleArns=[resources["ProductionRule"]])["Rules"]
    assert production["Priority"] == "10" and production["Actions"][0]["Type"] == "fixed-response"
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=resources["TargetGroupA"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attributes
    (alarm,) = emu.client("cloudwatch").describe_alarms(AlarmNames=["web-5xx"])["MetricAlarms"]
    dimensions = alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
    assert dimensions[1]["Value"] == resources["TargetGroupA"].split(":")[-1]  # TargetGroupFullName
    # And the service configuration document names them
    config = json.loads(emu.client("ssm").get_parameter(Name="/bluegreen/services/web")["Parameter"]["Value"])
    assert config["productionRuleArn"] == resources["ProductionRule"]
    assert config["targetGroupArns"] == [resources["TargetGroupA"], resources["TargetGroupB"]]


def test_a_first_release_then_another_deploy_on_it(deployed: tuple[Emulator, dict[str, str]]) -> None:
    emu, resources = deployed
    ecr = emu.client("ecr")
    for tag in ("v1", "v2"):
        push_image(ecr, "web", tag)
    demo = emu.services["web"]  # the stack declared its configuration: the emulator follows it (watch_configured)
    # When the first release runs (no task set yet)
    first = emu.run("web", "v1")
    # Then it created the first task set and production forwards to it
    assert first.outcome == "deployed", (first.error, first.cause)
    (blue,) = emu.task_sets("web")
    assert blue["imageTag"] == "v1"
    assert {g for g, w in emu.production_weights("web").items() if w} == {blue["targetGroupArn"]}
    # When the next release runs
    second = emu.run("web", "v2")
    # Then v2 replaced it
    assert second.outcome == "deployed", (second.error, second.cause)
    (green,) = emu.task_sets("web")
    assert green["imageTag"] == "v2" and green["targetGroupArn"] != blue["targetGroupArn"]
    assert {g for g, w in emu.production_weights("web").items() if w} == {green["targetGroupArn"]}
    assert demo.production_rule_arn == resources["ProductionRule"]


def test_an_unsupported_type_fails_the_stack_naming_it(deployed: tuple[Emulator, dict[str, str]]) -> None:
    emu, _ = deployed
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "web-alarms"}},
            "Scaling": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {"MaxCapacity": 4, "MinCapacity": 2, "ServiceNamespace": "ecs"},
            },
        }
    }
    # When a template with a type moto does not model is created
    emu.client("cloudformation").create_stack(StackName="scaling", TemplateBody=json.dumps(template))
    # Then the stack rolled back, and its events say which resource, which type and why
    (stack,) = emu.client("cloudformation").describe_stacks(StackName="scaling")["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in _events(emu, "scaling") if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [(e["LogicalResourceId"], e["ResourceType"]) for e in failed] == [
        ("Scaling", "AWS::ApplicationAutoScaling::ScalableTarget")
    ]
    reason = failed[0]["ResourceStatusReason"]
    assert reason == unsupported_reason("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (
        "AWS::ApplicationAutoScaling::ScalableTarget" in reason and "not supported by the bluegreen emulator" in reason
    )
    statuses = [e["ResourceStatus"] for e in _events(emu, "scaling") if e["LogicalResourceId"] == "scaling"]
    assert statuses[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
