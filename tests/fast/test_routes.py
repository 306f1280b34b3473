"""Routes: pure rules per route kind, and the thin describe/modify helpers against a fake client."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bluegreen.aws import routes
from bluegreen.domain import errors
from bluegreen.domain.models import RuleSnapshot

P = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
TG_A, TG_B, TG_C = (f"{P}:targetgroup/web-{x}/{x * 16}" for x in "abc")
RULE = f"{P}:listener-rule/app/web/1111/2222/3333"
RULE_2 = f"{P}:listener-rule/app/web/1111/2222/4444"
LISTENER_80 = f"{P}:listener/app/web/1111/5555"
LISTENER_8080 = f"{P}:listener/app/web/1111/6666"
NLB_80 = f"{P}:listener/net/tcp/7777/8888"
NLB_8080 = f"{P}:listener/net/tcp/7777/9999"
OTHER_LB = f"{P}:listener-rule/app/other/1111/2222/3333"

OIDC = {
    "Type": "authenticate-oidc",
    "Order": 1,
    "AuthenticateOidcConfig": {
        "Issuer": "https://idp.example.com",
        "AuthorizationEndpoint": "https://idp.example.com/auth",
        "TokenEndpoint": "https://idp.example.com/token",
        "UserInfoEndpoint": "https://idp.example.com/userinfo",
        "ClientId": "client",
    },
}


def forward(*groups: tuple[str, int]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": g, "Weight": w} for g, w in groups]},
    }


def snapshot(arn: str, actions: list[dict[str, Any]], protocol: str | None = None) -> RuleSnapshot:
    kind = routes.kind_of(arn)
    name, lb_type = routes.load_balancer_of(arn)
    return RuleSnapshot(ruleArn=arn, actions=actions, kind=kind, loadBalancerType=lb_type, protocol=protocol)


# --- ARNs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arn", "kind", "balancer"),
    [
        (RULE, "rule", ("web", "application")),
        (LISTENER_80, "listener", ("web", "application")),
        (NLB_80, "listener", ("tcp", "network")),
    ],
)
def test_route_kind_and_load_balancer_come_from_the_arn(arn, kind, balancer):
    # Given a route ARN / When it is parsed / Then its kind and load balancer are known without an AWS call
    assert routes.kind_of(arn) == kind
    assert routes.load_balancer_of(arn) == balancer


def test_an_arn_that_is_no_route_is_refused():
    # Given a target group ARN used as a route / Then it is RouteNotFound
    with pytest.raises(errors.RouteNotFound):
        routes.kind_of(TG_A)


# --- Validate's refusals without AWS -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("production", "test", "allowed", "error"),
    [
        pytest.param([RULE], RULE_2, ("web",), None, id="ok"),
        pytest.param([RULE], RULE_2, ("*",), None, id="any-load-balancer"),
        pytest.param([RULE], RULE_2, (), None, id="no-list-any"),
        pytest.param([OTHER_LB], RULE_2, ("web",), errors.RouteOutsideAllowedLoadBalancers, id="other-lb"),
        pytest.param([LISTENER_80], NLB_8080, ("*",), errors.RoutesMixLoadBalancerTypes, id="alb-and-nlb"),
        pytest.param([RULE, LISTENER_80], RULE, ("*",), errors.TestRouteIsProduction, id="test-is-production"),
        pytest.param([RULE, RULE], RULE_2, ("*",), errors.TestRouteIsProduction, id="duplicate"),
        pytest.param([TG_A], RULE_2, ("*",), errors.RouteNotFound, id="not-a-route"),
    ],
)
def test_route_arns_are_checked_before_any_call(production, test, allowed, error):
    if error is None:
        routes.check_arns(production, test, allowed)
        return
    with pytest.raises(error) as raised:
        routes.check_arns(production, test, allowed)
    # The class name is the Step Functions error name; each refusal has its own
    assert type(raised.value) is error


@pytest.mark.parametrize(
    ("production", "test", "shift", "error"),
    [
        pytest.param(
            [snapshot(RULE, [forward((TG_A, 1))])], snapshot(RULE_2, [forward((TG_B, 1))]), "CANARY", None, id="rule"
        ),
        pytest.param(
            [snapshot(NLB_80, [forward((TG_A, 1))], "TCP")],
            snapshot(NLB_8080, [forward((TG_B, 1))], "TCP"),
            "CANARY",
            None,
            id="nlb-tcp-canary",
        ),
        pytest.param(
            [snapshot(NLB_80, [forward((TG_A, 1))], "UDP")],
            snapshot(NLB_8080, [forward((TG_B, 1))], "UDP"),
            "CANARY",
            errors.RouteNotWeightable,
            id="nlb-udp-canary",
        ),
        pytest.param(
            [snapshot(NLB_80, [forward((TG_A, 1))], "UDP")],
            snapshot(NLB_8080, [forward((TG_B, 1))], "UDP"),
            "ALL_AT_ONCE",
            None,
            id="nlb-udp-all-at-once",
        ),
        pytest.param(
            [snapshot(LISTENER_80, [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS"}}], "HTTP")],
            snapshot(LISTENER_8080, [forward((TG_B, 1))], "HTTP"),
            "ALL_AT_ONCE",
            errors.RouteNotForward,
            id="redirect-default-action",
        ),
        pytest.param(
            [snapshot(RULE, [forward((TG_C, 1))])],
            snapshot(RULE_2, [forward((TG_B, 1))]),
            "ALL_AT_ONCE",
            errors.RouteForwardsElsewhere,
            id="forwards-elsewhere",
        ),
        pytest.param(
            [snapshot(RULE, [forward((TG_A, 1))]), snapshot(LISTENER_80, [forward((TG_B, 1))], "HTTP")],
            snapshot(RULE_2, [forward((TG_B, 1))]),
            "ALL_AT_ONCE",
            errors.ListenerRulesInvalid,
            id="production-routes-disagree",
        ),
    ],
)
def test_described_routes_are_checked(production, test, shift, error):
    if error is None:
        assert routes.check_routes(production, test, [TG_A, TG_B], shift) == (TG_A, TG_B)
        return
    with pytest.raises(error) as raised:
        routes.check_routes(production, test, [TG_A, TG_B], shift)
    assert type(raised.value) is error


# --- actions per weight --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "target", "expected_forward"),
    [
        pytest.param(
            snapshot(RULE, [OIDC, forward((TG_A, 1))]), {TG_B: 10, TG_A: 90}, forward((TG_B, 10), (TG_A, 90)), id="rule"
        ),
        pytest.param(
            snapshot(LISTENER_80, [forward((TG_A, 1))], "HTTPS"),
            {TG_B: 100, TG_A: 0},
            forward((TG_B, 100), (TG_A, 0)),
            id="alb-listener",
        ),
        pytest.param(
            snapshot(NLB_80, [forward((TG_A, 1))], "TLS"),
            {TG_B: 10, TG_A: 90},
            forward((TG_B, 10), (TG_A, 90)),
            id="nlb-tls-weighted",
        ),
        pytest.param(
            snapshot(NLB_80, [forward((TG_A, 1))], "UDP"), {TG_B: 100, TG_A: 0}, forward((TG_B, 1)), id="nlb-udp-single"
        ),
    ],
)
def test_actions_for_a_weight_change_only_the_forward(route, target, expected_forward):
    # When the route's actions are computed for green's weight
    actions = routes.actions_for(route, target)
    # Then the forward sends traffic by the weights (a single group where the listener cannot weight) and every
    # other action is kept as it was
    assert actions[-1] == expected_forward
    assert actions[:-1] == route.actions[:-1]


def test_a_partial_weight_on_a_route_that_cannot_weight_is_refused():
    route = snapshot(NLB_80, [forward((TG_A, 1))], "UDP")
    with pytest.raises(errors.RouteNotWeightable):
        routes.actions_for(route, {TG_B: 10, TG_A: 90})


def test_described_oidc_actions_are_sent_back_with_the_existing_secret():
    # Given an authenticate-oidc action as DescribeRules returns it (no client secret)
    actions = [OIDC, forward((TG_A, 1))]
    # When it is prepared for ModifyRule / ModifyListener
    sent = routes.sendable(actions)
    # Then it asks AWS to keep the existing secret, and the saved actions are untouched
    assert sent[0]["AuthenticateOidcConfig"]["UseExistingClientSecret"] is True
    assert "UseExistingClientSecret" not in actions[0]["AuthenticateOidcConfig"]


# --- the thin AWS helpers against a fake ELBv2 client ---------------------------------------------------
class FakeElbv2:
    """Rules and listeners in memory; records every modifying call."""

    def __init__(self, rules: dict[str, list], listeners: dict[str, tuple[str, list]]) -> None:
        self.rules = copy.deepcopy(rules)
        self.listeners = copy.deepcopy(listeners)
        self.calls: list[tuple[str, str]] = []

    def describe_rules(self, RuleArns: list[str]) -> dict:  # noqa: N803 - boto3's names
        return {"Rules": [{"RuleArn": arn, "Actions": copy.deepcopy(self.rules[arn])} for arn in RuleArns]}

    def describe_listeners(self, ListenerArns: list[str]) -> dict:  # noqa: N803
        return {
            "Listeners": [
                {
                    "ListenerArn": arn,
                    "Protocol": self.listeners[arn][0],
                    "DefaultActions": copy.deepcopy(self.listeners[arn][1]),
                }
                for arn in ListenerArns
            ]
        }

    def modify_rule(self, RuleArn: str, Actions: list) -> None:  # noqa: N803
        self.calls.append(("ModifyRule", RuleArn))
        self.rules[RuleArn] = Actions

    def modify_listener(self, ListenerArn: str, DefaultActions: list) -> None:  # noqa: N803
        self.calls.append(("ModifyListener", ListenerArn))
        self.listeners[ListenerArn] = (self.listeners[ListenerArn][0], DefaultActions)


@pytest.mark.parametrize(
    ("arn", "operation", "protocol"),
    [(RULE, "ModifyRule", None), (LISTENER_80, "ModifyListener", "HTTP"), (NLB_80, "ModifyListener", "TCP")],
)
def test_each_route_kind_moves_in_one_call_and_is_restored_verbatim(arn, operation, protocol):
    # Given a route of each kind forwarding to blue
    saved_actions = [forward((TG_A, 1))]
    fake = FakeElbv2(
        {arn: saved_actions} if operation == "ModifyRule" else {},
        {arn: (protocol, saved_actions)} if operation == "ModifyListener" else {},
    )
    saved = routes.describe(fake, arn)
    assert saved.kind == routes.kind_of(arn) and saved.protocol == protocol

    # When it moves to 10% green, then 100%, then is restored
    assert routes.move(fake, saved, {TG_B: 10, TG_A: 90})
    assert not routes.move(fake, routes.describe(fake, arn), {TG_B: 10, TG_A: 90})  # already there: no call
    assert routes.move(fake, routes.describe(fake, arn), {TG_B: 100, TG_A: 0})
    assert routes.restore(fake, saved)

    # Then each change was one call of the route's own operation, and the actions are the saved ones byte for byte
    assert fake.calls == [(operation, arn)] * 3
    assert routes.describe(fake, arn).actions == saved_actions
    assert not routes.restore(fake, saved)  # nothing left to restore


def test_a_route_that_does_not_exist_is_route_not_found():
    from botocore.exceptions import ClientError

    class Missing(FakeElbv2):
        def describe_listeners(self, ListenerArns: list[str]) -> dict:  # noqa: N803
            raise ClientError({"Error": {"Code": "ListenerNotFound", "Message": "gone"}}, "DescribeListeners")

    with pytest.raises(errors.RouteNotFound):
        routes.describe(Missing({}, {}), LISTENER_80)
