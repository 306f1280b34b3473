"""Routes: where a service's traffic enters, and how each step moves it.

A route is a listener rule ARN (its actions, changed with ``ModifyRule``) or a listener ARN (its
default actions, changed with ``ModifyListener``: a listener's default rule cannot be changed with
``ModifyRule``). A service has one or more production routes and one test route, all on Application
Load Balancers or all on one kind of Network Load Balancer listener.

The pure part (what each route's actions become for a weight, and Validate's refusal rules) takes
:class:`RouteSnapshot` models; the AWS part (:func:`describe`, :func:`modify`) is two thin helpers, so
Validate, Swap, Rollback, Cleanup and DeleteOld call one interface for every route kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from botocore.exceptions import ClientError

from bluegreen.aws import elbv2
from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.domain import policy
from bluegreen.domain.errors import (
    RouteForwardsElsewhere,
    RouteNotForward,
    RouteNotFound,
    RouteNotWeightable,
    RouteOutsideAllowedLoadBalancers,
    RoutesMixLoadBalancerTypes,
    TestRouteIsProduction,
)
from bluegreen.domain.models import RuleSnapshot

RouteKind = Literal["rule", "listener"]
# Route ARNs: ...:listener-rule/{app|net}/<lb-name>/<lb-id>/<listener-id>/<rule-id>
#             ...:listener/{app|net}/<lb-name>/<lb-id>/<listener-id>
_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):elasticloadbalancing:(?P<region>[^:]*):(?P<account>\d*):"
    r"(?P<kind>listener-rule|listener)/(?P<type>app|net)/(?P<name>[^/]+)/(?P<id>[^/]+)/[^/]+(?:/[^/]+)?$"
)
# Listener protocols whose forward action takes weighted target groups. ALB: every listener (HTTP,
# HTTPS). NLB: weighted target groups were launched in November 2025 ("Network Load Balancers now support
# Weighted Target Groups", AWS Networking blog; weights 0-999, set with ModifyListener) and the tool uses
# them on TCP and TLS listeners; on UDP, TCP_UDP, QUIC and TCP_QUIC listeners it moves traffic all at once
# (a forward to a single target group, which every NLB listener supports).
WEIGHTED_PROTOCOLS = {"HTTP", "HTTPS", "TCP", "TLS"}
LOAD_BALANCER_TYPES = {"app": "application", "net": "network"}


def kind_of(arn: str) -> RouteKind:
    """``rule`` or ``listener`` from the ARN; :class:`RouteNotFound` if it is neither."""
    match = _ARN.match(arn)
    if not match:
        raise RouteNotFound(
            f"{arn!r} is neither a listener rule ARN nor a listener ARN of an Application or Network Load "
            f"Balancer. Fix the route in the service configuration."
        )
    return "rule" if match["kind"] == "listener-rule" else "listener"


def load_balancer_of(arn: str) -> tuple[str, str]:
    """``(load balancer name, type)`` of a route ARN, type ``application`` or ``network``."""
    kind_of(arn)
    match = _ARN.match(arn)
    assert match is not None
    return match["name"], LOAD_BALANCER_TYPES[match["type"]]


def load_balancer_arn_of(arn: str) -> str:
    match = _ARN.match(arn)
    if not match:
        kind_of(arn)
    assert match is not None
    return (
        f"arn:{match['partition']}:elasticloadbalancing:{match['region']}:{match['account']}:loadbalancer/"
        f"{match['type']}/{match['name']}/{match['id']}"
    )


# --- pure: weights and actions -----------------------------------------------------------------------
def weightable(route: RuleSnapshot) -> bool:
    """Whether the route's forward action may split traffic between two target groups."""
    return route.kind == "rule" or (route.protocol or "HTTP") in WEIGHTED_PROTOCOLS


def weights(route: RuleSnapshot) -> dict[str, int]:
    """Target group ARN -> weight of the route's forward action."""
    return elbv2.forward_weights(route.actions, route.ruleArn)


def merged_weights(routes: Iterable[RuleSnapshot]) -> dict[str, int]:
    """Every target group that any of ``routes`` forwards to, with its largest weight."""
    merged: dict[str, int] = {}
    for route in routes:
        for group, weight in weights(route).items():
            merged[group] = max(weight, merged.get(group, 0))
    return merged


def actions_for(route: RuleSnapshot, target: Mapping[str, int]) -> list[dict[str, Any]]:
    """The route's actions with its forward sending traffic by ``target``, every other action unchanged.

    A route that cannot be weighted gets a forward to the one receiving target group (all at once).
    """
    if weightable(route):
        return elbv2.with_forward_weights(route.actions, dict(target))
    receiving = sorted(policy.receiving(target))
    if len(receiving) != 1:
        raise RouteNotWeightable(
            f"Route {route.ruleArn} ({route.protocol} listener) cannot split traffic between target groups; "
            f"asked for {dict(target)}. Use trafficShift ALL_AT_ONCE for this service."
        )
    return elbv2.with_forward_weights(route.actions, {receiving[0]: 1})


def needs_change(route: RuleSnapshot, target: Mapping[str, int]) -> bool:
    if weightable(route):
        return weights(route) != dict(target)
    return policy.receiving(weights(route)) != policy.receiving(target)


def sendable(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Actions as they may be sent back: a described ``authenticate-oidc`` action has no client secret, so
    it must carry ``UseExistingClientSecret`` (DescribeRules and DescribeListeners never return the secret)."""
    return elbv2.resendable(actions)


# --- pure: Validate's rules --------------------------------------------------------------------------
def check_arns(production: list[str], test: str, allowed: Iterable[str]) -> None:
    """Refusals that need no AWS call: kinds, allowed load balancers, one load balancer type, test apart."""
    arns = [*production, test]
    for arn in arns:
        kind_of(arn)
    allowed = {name for name in allowed if name}
    if allowed and "*" not in allowed:
        for arn in arns:
            name, _ = load_balancer_of(arn)
            if name not in allowed:
                raise RouteOutsideAllowedLoadBalancers(
                    f"Route {arn} is on load balancer {name}, which this stack may not change (allowed: "
                    f"{', '.join(sorted(allowed))}). Fix the route, or add the load balancer to the stack's "
                    f"LoadBalancerName parameters."
                )
    types = {load_balancer_of(arn)[1] for arn in arns}
    if len(types) > 1:
        raise RoutesMixLoadBalancerTypes(
            f"The service's routes mix Application and Network Load Balancers ({', '.join(arns)}). "
            f"Use routes of one load balancer type for a service."
        )
    if test in production:
        raise TestRouteIsProduction(
            f"The test route {test} is also a production route. Give the service a test route of its own "
            f"(e.g. a listener on port 8080, or a rule with a test host name)."
        )
    if len(set(production)) != len(production):
        raise TestRouteIsProduction(f"A production route is listed twice in {production}; list each route once.")


def check_routes(
    production: list[RuleSnapshot], test: RuleSnapshot, target_groups: list[str], shift_type: str
) -> tuple[str, str]:
    """``(blue, green)`` target groups, refusing routes that are not forwards, forward elsewhere, cannot do
    the asked traffic shift, or disagree about which target group serves production."""
    for route in [*production, test]:
        forwards = [action for action in route.actions if action.get("Type") == "forward"]
        if route.kind == "listener" and not forwards:
            kinds = ", ".join(action.get("Type", "?") for action in route.actions)
            raise RouteNotForward(
                f"Listener {route.ruleArn} has a default action of type {kinds}, not a forward, so it cannot "
                f"be a route. Make its default action a forward to a target group of the service, or use a rule."
            )
        groups = policy.receiving(weights(route))
        if groups and not groups & set(target_groups):
            raise RouteForwardsElsewhere(
                f"Route {route.ruleArn} forwards to {sorted(groups)}, neither of the configured target groups "
                f"{target_groups}. Fix the route or 'targetGroupArns'."
            )
    if shift_type != "ALL_AT_ONCE":
        for route in production:
            if not weightable(route):
                raise RouteNotWeightable(
                    f"Route {route.ruleArn} is a {route.protocol} listener, whose forward action cannot split "
                    f"traffic between target groups, so a {shift_type} traffic shift is impossible. Use "
                    f"trafficShift ALL_AT_ONCE for this service."
                )
    blue_group, green_group = policy.check_routing(weights(production[0]), weights(test), target_groups)
    for route in production[1:]:
        policy.check_routing(weights(route), weights(test), target_groups)
        if policy.receiving(weights(route)) != {blue_group}:
            raise RouteForwardsElsewhere(
                f"Production routes disagree: {production[0].ruleArn} forwards to {blue_group}, {route.ruleArn} "
                f"to {sorted(policy.receiving(weights(route)))}. Point every production route at the same "
                f"target group."
            )
    return blue_group, green_group


# --- AWS ---------------------------------------------------------------------------------------------
def describe(client: Any, arn: str) -> RuleSnapshot:
    """The route's current actions (a rule's actions, or a listener's default actions)."""
    kind = kind_of(arn)
    name, lb_type = load_balancer_of(arn)
    try:
        with transient_errors():
            if kind == "rule":
                rule = client.describe_rules(RuleArns=[arn])["Rules"][0]
                actions, conditions, protocol = rule["Actions"], rule.get("Conditions", []), None
            else:
                listener = client.describe_listeners(ListenerArns=[arn])["Listeners"][0]
                actions, conditions, protocol = listener.get("DefaultActions", []), [], listener.get("Protocol")
    except ClientError as error:
        if error_code(error) in ("RuleNotFound", "ListenerNotFound", "ValidationError"):
            raise RouteNotFound(
                f"Route {arn} does not exist ({error_code(error)}). Fix the route in the service configuration."
            ) from error
        raise
    except IndexError as error:
        raise RouteNotFound(f"Route {arn} does not exist.") from error
    return RuleSnapshot(
        ruleArn=arn,
        actions=actions,
        conditions=conditions,
        kind=kind,
        loadBalancerType=lb_type,
        protocol=protocol,
    )


def describe_all(client: Any, arns: Iterable[str]) -> list[RuleSnapshot]:
    return [describe(client, arn) for arn in arns]


def modify(client: Any, route: RuleSnapshot, actions: list[dict[str, Any]]) -> None:
    """One call that replaces the route's actions: ``ModifyRule`` for a rule, ``ModifyListener`` for a listener."""
    with transient_errors():
        if route.kind == "rule":
            client.modify_rule(RuleArn=route.ruleArn, Actions=sendable(actions))
        else:
            client.modify_listener(ListenerArn=route.ruleArn, DefaultActions=sendable(actions))


def move(client: Any, route: RuleSnapshot, target: Mapping[str, int]) -> bool:
    """Point ``route`` at ``target`` in one call if it does not already; whether a call was made."""
    if not needs_change(route, target):
        return False
    modify(client, route, actions_for(route, target))
    return True


def restore(client: Any, saved: RuleSnapshot) -> bool:
    """Put the saved actions back verbatim (one call) unless the route already has them."""
    current = describe(client, saved.ruleArn)
    if current.actions == saved.actions:
        return False
    modify(client, saved, saved.actions)
    return True
