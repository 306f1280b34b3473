"""A route's actions as the emulator sees them (a listener rule, or a listener's default actions)."""

from __future__ import annotations

from typing import Any


def is_listener(arn: str) -> bool:
    return ":listener/" in arn


def backend_actions(backend: Any, arn: str) -> list[dict[str, Any]]:
    """The route's actions read straight from moto's ELBv2 backend (no API call recorded)."""
    if is_listener(arn):
        listener = backend.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
        return [action.data for action in listener.default_actions]
    rule = backend.describe_rules(listener_arn=None, rule_arns=[arn])[0]
    return [action.data for action in rule.actions]


def client_actions(elbv2: Any, arn: str) -> list[dict[str, Any]]:
    """The route's actions through the ELBv2 API (what the product code sees)."""
    if is_listener(arn):
        return elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0]["DefaultActions"]
    return elbv2.describe_rules(RuleArns=[arn])["Rules"][0]["Actions"]
