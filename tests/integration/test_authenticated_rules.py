"""Listener rules that authenticate (OIDC, Cognito) before the forward.

ELB never returns an OIDC client secret in DescribeRules, and ModifyRule refuses a described OIDC action sent
back without ``UseExistingClientSecret: true``. Swap, ShiftTraffic and Rollback must work on such rules and
restore them exactly (the secret ELB keeps included).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bluegreen.aws import elbv2
from bluegreen_emulator import patches

SECRET = "oidc-client-secret"
OIDC = {
    "Type": "authenticate-oidc",
    "Order": 1,
    "AuthenticateOidcConfig": {
        "Issuer": "https://idp.example.com",
        "AuthorizationEndpoint": "https://idp.example.com/authorize",
        "TokenEndpoint": "https://idp.example.com/token",
        "UserInfoEndpoint": "https://idp.example.com/userinfo",
        "ClientId": "bluegreen-demo",
        "ClientSecret": SECRET,
        "OnUnauthenticatedRequest": "authenticate",
        "Scope": "openid",
    },
}
COGNITO = {
    "Type": "authenticate-cognito",
    "Order": 1,
    "AuthenticateCognitoConfig": {
        "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_demo",
        "UserPoolClientId": "client-demo",
        "UserPoolDomain": "demo-auth",
        "OnUnauthenticatedRequest": "deny",
    },
}


def authenticate(emulator, demo):
    """Put OIDC before production's forward and Cognito before the test rule's (as an operator would)."""
    client = emulator.client("elbv2")
    for rule, auth, group in ((demo.production_rule_arn, OIDC, 0), (demo.test_rule_arn, COGNITO, 1)):
        forward = {"Type": "forward", "Order": 2, "TargetGroupArn": demo.target_groups[group]}
        client.modify_rule(RuleArn=rule, Actions=[auth, forward])
    return {rule: emulator.rule_actions(rule) for rule in (demo.production_rule_arn, demo.test_rule_arn)}


def as_bytes(actions):
    return json.dumps(actions, sort_keys=True).encode()


def auth_actions(actions):
    return [a for a in actions if a["Type"] != "forward"]


def test_the_emulator_never_returns_the_secret_and_refuses_a_described_oidc_action_sent_back(emulator):
    # Given a production rule with an OIDC action
    demo = emulator.seed_service()
    saved = authenticate(emulator, demo)
    described = saved[demo.production_rule_arn]
    # Then DescribeRules hides the secret, ELB keeps it
    assert "ClientSecret" not in described[0]["AuthenticateOidcConfig"]
    assert patches.oidc_secret(demo.production_rule_arn) == SECRET
    # When the described actions are sent back as they are, ModifyRule refuses them, as ELB does
    with pytest.raises(ClientError) as raised:
        emulator.client("elbv2").modify_rule(RuleArn=demo.production_rule_arn, Actions=described)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    # ... and accepts them with UseExistingClientSecret, keeping the secret
    emulator.client("elbv2").modify_rule(RuleArn=demo.production_rule_arn, Actions=elbv2.resendable(described))
    assert emulator.rule_actions(demo.production_rule_arn) == described
    assert patches.oidc_secret(demo.production_rule_arn) == SECRET


def test_swap_keeps_the_authentication_actions_of_both_rules(emulator):
    # Given production authenticating with OIDC and the test rule with Cognito
    demo = emulator.seed_service()
    saved = authenticate(emulator, demo)

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then production forwards to green behind the same authentication, the secret kept
    assert result.status == "SUCCEEDED", result.cause
    production = emulator.rule_actions(demo.production_rule_arn)
    assert as_bytes(auth_actions(production)) == as_bytes(auth_actions(saved[demo.production_rule_arn]))
    assert elbv2.receiving(elbv2.forward_weights(production)) == {demo.target_groups[1]}
    test = emulator.rule_actions(demo.test_rule_arn)
    assert as_bytes(auth_actions(test)) == as_bytes(auth_actions(saved[demo.test_rule_arn]))
    assert patches.oidc_secret(demo.production_rule_arn) == SECRET
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]


def test_a_canary_rolled_back_restores_authenticated_rules_byte_for_byte(emulator):
    # Given authenticated rules and a linear shift whose image fails from 40% of production
    demo = emulator.seed_service(
        config_overrides={"trafficShift": {"type": "LINEAR", "percent": 20, "intervalSeconds": 120}}
    )
    emulator.plane.alarm_min_weight = 40
    saved = authenticate(emulator, demo)

    # When the deployment shifts (Swap, ShiftTraffic) and the alarm rolls it back
    result = emulator.run(demo.name, "v2-5xx")

    # Then both rules are exactly as saved (the secret, which no API returns, kept by ELB), blue alone serves
    assert result.error == "RolledBack", result.cause
    assert [w for _, w in emulator.weight_steps(demo.name)] == [20, 40, 0]
    for rule, actions in saved.items():
        assert as_bytes(emulator.rule_actions(rule)) == as_bytes(actions)
    assert patches.oidc_secret(demo.production_rule_arn) == SECRET
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
