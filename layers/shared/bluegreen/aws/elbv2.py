"""Listener rules and target health (Elastic Load Balancing v2)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.domain.errors import ListenerRulesInvalid
from bluegreen.domain.models import RuleSnapshot

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

HEALTHY = "healthy"


def describe_rule(elbv2: ElasticLoadBalancingv2Client, rule_arn: str) -> RuleSnapshot:
    try:
        with transient_errors():
            rules = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"]
    except ClientError as error:
        if error_code(error) in ("RuleNotFound", "RuleNotFoundException", "ValidationError"):
            raise ListenerRulesInvalid(
                f"Listener rule {rule_arn} does not exist ({error_code(error)}). Fix the rule ARN in the service "
                f"configuration."
            ) from error
        raise
    if not rules:
        raise ListenerRulesInvalid(f"Listener rule {rule_arn} does not exist.")
    return RuleSnapshot(ruleArn=rule_arn, actions=rules[0]["Actions"], conditions=rules[0].get("Conditions", []))


def rule_url(rule: RuleSnapshot) -> str | None:
    """A URL that reaches the rule: from its host-header and path-pattern conditions."""
    hosts: list[str] = []
    paths: list[str] = []
    for condition in rule.conditions:
        if condition.get("Field") == "host-header":
            hosts += (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []
        if condition.get("Field") == "path-pattern":
            paths += (condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values") or []
    if not hosts:
        return None
    path = paths[0].rstrip("*") if paths else "/"
    return f"https://{hosts[0]}{path if path.startswith('/') else '/' + path}"


def _forward_action(actions: list[dict[str, Any]], rule_arn: str = "") -> dict[str, Any]:
    forwards = [action for action in actions if action.get("Type") == "forward"]
    if len(forwards) != 1:
        raise ListenerRulesInvalid(
            f"Listener rule {rule_arn} must have exactly one 'forward' action; it has {len(forwards)}."
        )
    return forwards[0]


def forward_weights(actions: list[dict[str, Any]], rule_arn: str = "") -> dict[str, int]:
    """Target group ARN -> weight of the rule's forward action."""
    action = _forward_action(actions, rule_arn)
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return {group["TargetGroupArn"]: int(group.get("Weight", 1)) for group in groups}
    if action.get("TargetGroupArn"):
        return {action["TargetGroupArn"]: 1}
    raise ListenerRulesInvalid(f"Listener rule {rule_arn} forwards to no target group.")


def receiving(weights: dict[str, int]) -> set[str]:
    """Target groups that receive traffic (weight above zero)."""
    return {arn for arn, weight in weights.items() if weight > 0}


def with_forward_weights(actions: list[dict[str, Any]], weights: dict[str, int]) -> list[dict[str, Any]]:
    """A copy of ``actions`` whose forward action sends traffic by ``weights``.

    Other actions (authentication, ordering) are kept as they are, so one
    ``ModifyRule`` call changes only where the traffic goes.
    """
    new_actions = copy.deepcopy(actions)
    action = _forward_action(new_actions)
    forward_config: dict[str, Any] = {
        "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]
    }
    stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig")
    if stickiness:
        forward_config["TargetGroupStickinessConfig"] = stickiness
    action.pop("TargetGroupArn", None)
    action["ForwardConfig"] = forward_config
    return new_actions


def resendable(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``actions`` as DescribeRules returned them, made acceptable to ModifyRule.

    DescribeRules never returns an ``authenticate-oidc`` action's client secret, and ModifyRule refuses an OIDC
    action without one unless ``UseExistingClientSecret`` is true: set it, so the secret ELB keeps is reused.
    """
    sent = copy.deepcopy(actions)
    for action in sent:
        config = action.get("AuthenticateOidcConfig")
        if action.get("Type") == "authenticate-oidc" and config is not None and not config.get("ClientSecret"):
            config["UseExistingClientSecret"] = True
    return sent


def modify_rule(elbv2: ElasticLoadBalancingv2Client, rule_arn: str, actions: list[dict[str, Any]]) -> None:
    with transient_errors():
        elbv2.modify_rule(RuleArn=rule_arn, Actions=cast(Any, resendable(actions)))


def target_health(elbv2: ElasticLoadBalancingv2Client, target_group_arn: str) -> list[dict[str, Any]]:
    with transient_errors():
        response = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    return cast(list[dict[str, Any]], response["TargetHealthDescriptions"])


def healthy_count(descriptions: list[dict[str, Any]]) -> int:
    return sum(1 for d in descriptions if d["TargetHealth"]["State"] == HEALTHY)


def describe_health(descriptions: list[dict[str, Any]]) -> str:
    """A short human summary such as ``2 healthy, 1 unhealthy (Target.ResponseCodeMismatch)``."""
    if not descriptions:
        return "no registered targets"
    counts: dict[str, int] = {}
    reasons: set[str] = set()
    for description in descriptions:
        health = description["TargetHealth"]
        counts[health["State"]] = counts.get(health["State"], 0) + 1
        if health.get("Reason"):
            reasons.add(health["Reason"])
    text = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    return f"{text} ({', '.join(sorted(reasons))})" if reasons else text
