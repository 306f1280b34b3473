"""Target group stickiness on production routes: found on the forward action, refused with the route and the fix."""

from __future__ import annotations

import pytest

from bluegreen.domain.errors import ListenerRulesInvalid, StickyProductionRoute
from bluegreen.domain.models import RuleSnapshot
from bluegreen.domain.stickiness import refuse_sticky, sticky_forwards

RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3"
GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1"


def route(stickiness: dict | None, arn: str = RULE) -> RuleSnapshot:
    forward: dict = {"TargetGroups": [{"TargetGroupArn": GROUP, "Weight": 1}]}
    if stickiness is not None:
        forward["TargetGroupStickinessConfig"] = stickiness
    actions = [{"Type": "authenticate-oidc", "Order": 1}, {"Type": "forward", "Order": 2, "ForwardConfig": forward}]
    return RuleSnapshot(ruleArn=arn, actions=actions)


def test_stickiness_is_read_from_the_forward_action():
    assert sticky_forwards(route({"Enabled": True, "DurationSeconds": 3600})) == 3600
    assert sticky_forwards(route({"Enabled": False, "DurationSeconds": 3600})) is None
    assert sticky_forwards(route(None)) is None


def test_a_sticky_production_route_is_refused_with_the_route_and_the_fix():
    # Given two production routes, the second with target group stickiness on
    sticky = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/4"
    routes = [route(None), route({"Enabled": True, "DurationSeconds": 600}, sticky)]

    # Then they are refused with their own error (a kind of invalid listener rules), naming the route and the fix
    with pytest.raises(StickyProductionRoute) as refused:
        refuse_sticky(routes)
    assert isinstance(refused.value, ListenerRulesInvalid)
    message = str(refused.value)
    assert sticky in message and "DurationSeconds 600" in message
    assert "Enabled=false" in message and "Nothing was changed" in message


def test_routes_without_stickiness_pass():
    refuse_sticky([route(None), route({"Enabled": False})])
