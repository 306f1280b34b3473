"""Elastic Load Balancing v2: target health from the data plane, listener default actions and NLB
weights, OIDC client secrets never described."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.elbv2.exceptions import ValidationError
from moto.elbv2.models import (
    FakeHealthStatus,
    FakeTargetGroup,
)

from .core import _LOCK, Patcher

HealthLookup = Callable[[FakeTargetGroup, dict[str, Any]], "tuple[str, str | None] | None"]


def simulate_target_health(patcher: Patcher, lookup: HealthLookup) -> None:
    """``DescribeTargetHealth`` answers what ``lookup(target_group, target)`` says, else what moto says."""
    # moto gap: moto runs no containers and reports every registered target healthy; the
    # simulated data plane decides each target's health (initial, healthy, unhealthy + reason).
    original_health_for = FakeTargetGroup.health_for

    def health_for(tg: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        known = lookup(tg, target)
        if known is None or target["Id"] not in tg.targets:
            return original_health_for(tg, target, ec2_backend)
        state, reason = known
        port = tg.targets[target["Id"]].get("Port", tg.port)
        return FakeHealthStatus(target["Id"], port, tg.health_check_port, state, reason, None)

    patcher.replace(FakeTargetGroup, "health_for", health_for)


NOT_WEIGHTABLE_NLB_PROTOCOLS = ("UDP", "TCP_UDP", "QUIC", "TCP_QUIC")


NLB_MAX_WEIGHT = 999  # "Network Load Balancers now support Weighted Target Groups": weights 0-999


def route_rules(patcher: Patcher) -> None:
    """ModifyRule and ModifyListener refuse what AWS refuses for the routes the workflow changes."""
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend, FakeAction

    original_rule = ELBv2Backend.modify_rule
    original_listener = ELBv2Backend.modify_listener

    # moto gap: moto lets ModifyRule change a listener's default rule. AWS changes a default rule's actions only
    # with ModifyListener (ELBv2 API reference, ModifyRule: "To modify the actions for the default rule, use
    # ModifyListener"), so the emulator refuses it with OperationNotPermitted.
    def modify_rule(self: Any, rule_arn: str, conditions: Any, actions: Any) -> Any:
        found = self.describe_rules(listener_arn=None, rule_arns=[rule_arn])
        if found and getattr(found[0], "is_default", False):
            raise ELBClientError(
                "OperationNotPermitted", f"Default rule '{rule_arn}' cannot be modified; use ModifyListener"
            )
        return original_rule(self, rule_arn, conditions, actions)

    # moto gap: moto's ModifyListener does not validate the default actions ("Is currently not validated"): AWS
    # refuses a forward to a target group that does not exist, NLB weights above 999, and more than one target
    # group on an NLB listener whose protocol cannot weight (the tool's all-at-once protocols).
    def modify_listener(self: Any, arn: str, port: Any = None, protocol: Any = None, *args: Any) -> Any:
        actions = args[2] if len(args) > 2 else None
        if actions:
            self._validate_actions([FakeAction(action) for action in actions])
            listener = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
            network = ":listener/net/" in arn
            for action in actions:
                groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
                if network and any(int(group.get("Weight", 1)) > NLB_MAX_WEIGHT for group in groups):
                    raise ELBClientError("ValidationError", f"Target group weights must be 0-{NLB_MAX_WEIGHT}")
                protocol_now = protocol or listener.protocol
                if network and protocol_now in NOT_WEIGHTABLE_NLB_PROTOCOLS and len(groups) > 1:
                    raise ELBClientError(
                        "InvalidLoadBalancerAction", f"A {protocol_now} listener forwards to one target group"
                    )
        return original_listener(self, arn, port, protocol, *args)

    original_create = ELBv2Backend.create_load_balancer

    # moto gap: moto names every load balancer loadbalancer/app/...; AWS names a Network Load Balancer
    # loadbalancer/net/... (and its listeners listener/net/...), which IAM scoping and Validate read.
    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original_create(self, *args, **kwargs)
        if getattr(balancer, "type", None) == "network" and ":loadbalancer/app/" in balancer.arn:
            old = balancer.arn
            tags = self.tagging_service.list_tags_for_resource(old).get("Tags") or []
            balancer.arn = old.replace(":loadbalancer/app/", ":loadbalancer/net/", 1)
            self.load_balancers[balancer.arn] = self.load_balancers.pop(old)
            if tags:
                self.tagging_service.tag_resource(balancer.arn, tags)
        return balancer

    patcher.replace(ELBv2Backend, "modify_rule", modify_rule)
    patcher.replace(ELBv2Backend, "modify_listener", modify_listener)
    patcher.replace(ELBv2Backend, "create_load_balancer", create_load_balancer)


# Rule ARN -> OIDC client secret: ELB keeps it, DescribeRules never returns it.
_OIDC_SECRETS: dict[str, str] = {}


def _oidc_configs(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["AuthenticateOidcConfig"] for a in actions if a.get("Type") == "authenticate-oidc"]


def _keep_oidc_secret(rule_arn: str | None, actions: list[dict[str, Any]], creating: bool) -> str | None:
    """Validate OIDC actions as ELB does; strip the secret from what is stored (DescribeRules never shows it)."""
    # moto gap: moto stores and returns the OIDC ClientSecret in DescribeRules and accepts a described action back
    # without it. ELB never returns the secret; ModifyRule needs ClientSecret or UseExistingClientSecret: true.
    secret: str | None = None
    for config in _oidc_configs(actions):
        use_existing = bool(config.pop("UseExistingClientSecret", False))
        given = config.pop("ClientSecret", None)
        if given:
            secret = given
        elif use_existing and not creating:
            with _LOCK:
                secret = _OIDC_SECRETS.get(rule_arn or "")
            if secret is None:
                raise ValidationError("UseExistingClientSecret is set but the rule has no client secret to reuse")
        else:
            raise ValidationError(
                "A client secret must be specified for an authenticate-oidc action"
                + ("" if creating else " (or set UseExistingClientSecret to true to keep the existing one)")
            )
    return secret


def _remember(rule_arn: str, secret: str | None, actions: list[dict[str, Any]]) -> None:
    with _LOCK:
        if secret is not None:
            _OIDC_SECRETS[rule_arn] = secret
        elif not _oidc_configs(actions):
            _OIDC_SECRETS.pop(rule_arn, None)


def oidc_secret(rule_arn: str) -> str | None:
    """The client secret ELB keeps for a rule (tests compare it; no API returns it)."""
    with _LOCK:
        return _OIDC_SECRETS.get(rule_arn)
