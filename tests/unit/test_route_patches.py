"""The emulator refuses route changes AWS refuses (moto gaps filled in the emulator's patches)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen_emulator.patches import Patcher, route_rules


@pytest.fixture
def elbv2():
    with mock_aws():
        patcher = Patcher()
        route_rules(patcher)
        try:
            yield boto3.client("elbv2", region_name="us-east-1")
        finally:
            patcher.restore()


def network(kind: str, protocol: str, client) -> tuple[str, list[str]]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    balancer = client.create_load_balancer(Name=f"lb-{kind}", Subnets=[subnet], Type=kind)["LoadBalancers"][0]
    tg_protocol = {"application": "HTTP"}.get(kind, protocol)
    groups = [
        client.create_target_group(Name=f"tg-{x}", Protocol=tg_protocol, Port=80, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for x in "ab"
    ]
    listener = client.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol=protocol,
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
    )["Listeners"][0]["ListenerArn"]
    return listener, groups


def weighted(groups: list[str], weights: list[int]) -> list[dict]:
    pairs = [{"TargetGroupArn": g, "Weight": w} for g, w in zip(groups, weights, strict=True)]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": pairs}}]


def code(call) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_a_default_rule_cannot_be_changed_with_modify_rule(elbv2):
    # Given an ALB listener and its default rule
    listener, groups = network("application", "HTTP", elbv2)
    default = next(r for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if r["IsDefault"])
    # When ModifyRule targets the default rule / Then AWS's refusal; ModifyListener works
    assert code(lambda: elbv2.modify_rule(RuleArn=default["RuleArn"], Actions=weighted(groups, [1, 1]))) == (
        "OperationNotPermitted"
    )
    elbv2.modify_listener(ListenerArn=listener, DefaultActions=weighted(groups, [10, 90]))
    described = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    assert described[0]["ForwardConfig"]["TargetGroups"][0]["Weight"] == 10


@pytest.mark.parametrize(
    ("protocol", "weights", "error"),
    [
        ("TCP", [10, 90], None),
        ("TCP", [1000, 0], "ValidationError"),
        ("UDP", [10, 90], "InvalidLoadBalancerAction"),
    ],
)
def test_nlb_listener_weights_follow_aws(elbv2, protocol, weights, error):
    listener, groups = network("network", protocol, elbv2)
    assert ":listener/net/" in listener  # AWS's ARN of an NLB listener (moto gap filled)
    change = lambda: elbv2.modify_listener(ListenerArn=listener, DefaultActions=weighted(groups, weights))  # noqa: E731
    if error is None:
        change()
    else:
        assert code(change) == error


def test_a_forward_to_a_missing_target_group_is_refused(elbv2):
    listener, groups = network("application", "HTTP", elbv2)
    missing = groups[0][:-4] + "0000"
    assert code(lambda: elbv2.modify_listener(ListenerArn=listener, DefaultActions=weighted([missing], [1]))) == (
        "TargetGroupNotFound"
    )
