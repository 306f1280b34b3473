"""Pure decisions that keep our requests within what AWS accepts (no moto, no AWS)."""

from __future__ import annotations

import argparse

import pytest

from bluegreen.aws import decisions, ecs, elbv2
from bluegreen_cli.main import _reason

OIDC = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"ClientId": "c", "Issuer": "i"}}
FORWARD = {"Type": "forward", "Order": 2, "TargetGroupArn": "arn:tg"}


def test_a_described_oidc_action_is_sent_back_reusing_the_secret_elb_keeps() -> None:
    # Given actions as DescribeRules returns them (no ClientSecret)
    described = [OIDC, FORWARD]
    # When they are prepared for ModifyRule
    sent = elbv2.resendable(described)
    # Then the OIDC action asks to reuse the existing secret, nothing else changes, the input is untouched
    assert sent[0]["AuthenticateOidcConfig"] == {"ClientId": "c", "Issuer": "i", "UseExistingClientSecret": True}
    assert sent[1] == FORWARD
    assert "UseExistingClientSecret" not in described[0]["AuthenticateOidcConfig"]
    # ... and an action that carries its secret is sent as it is
    given = {**OIDC, "AuthenticateOidcConfig": {"ClientId": "c", "ClientSecret": "s"}}
    assert elbv2.resendable([given]) == [given]


def test_copied_tags_drop_aws_reserved_ones_and_stay_within_50_ours_first() -> None:
    # Given a base revision with CloudFormation's aws: tags and 60 user tags
    inherited = {"aws:cloudformation:stack-name": "web", "team": "aws:core"} | {f"k{i}": str(i) for i in range(60)}
    own = {"bluegreen:execution": "web-v2", "bluegreen:image-tag": "v2"}
    # When the new revision's tags are chosen
    tags = ecs.copyable_tags(inherited, own)
    # Then ours come first, no aws:-prefixed key or value is copied, and there are at most 50
    assert list(tags)[:2] == list(own)
    assert not [k for k, v in tags.items() if k.lower().startswith("aws:") or v.lower().startswith("aws:")]
    assert len(tags) == ecs.MAX_TAGS
    assert list(tags)[2:5] == ["k0", "k1", "k2"]  # inherited ones in their order


@pytest.mark.parametrize(
    ("desired_count", "scale", "expected"),
    [(0, 100.0, 0), (0, 50.0, 0), (2, 100.0, 2), (3, 50.0, 2), (1, 0.0, 0)],
)
def test_a_service_scaled_to_zero_waits_for_no_task(desired_count: int, scale: float, expected: int) -> None:
    # Given a service's desired count and a task set's scale (no computed count yet)
    task_set = {"scale": {"unit": "PERCENT", "value": scale}}
    # Then the task set should run ceil(count x scale): zero for a service scaled to zero, not one
    assert ecs.desired_count({"desiredCount": desired_count}, task_set) == expected
    # ... and ECS's own computed count wins, zero included
    assert ecs.desired_count({"desiredCount": 4}, {**task_set, "computedDesiredCount": 0}) == 0


def test_causes_and_reasons_stay_within_step_functions_limits() -> None:
    # Given a reason far longer than anything Step Functions takes
    reason = "x" * 100_000
    # Then the cause sent with SendTaskFailure fits 32,768 characters and says it was cut
    cause = decisions._cause("reject", "cli:me", reason)
    assert len(cause) <= decisions.SFN_CAUSE_MAX and cause.endswith("(truncated)")
    assert decisions.bounded("short", 10) == "short"
    # ... and the CLI refuses a --reason over the bound instead of cutting it silently
    assert _reason("ok") == "ok"
    with pytest.raises(argparse.ArgumentTypeError):
        _reason("y" * (decisions.MAX_REASON + 1))
