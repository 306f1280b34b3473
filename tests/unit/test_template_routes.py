"""ModifyRule / ModifyListener only on the configured load balancers' rules and listeners."""

from __future__ import annotations

from typing import Any

from .test_template import FUNCTION_GLOBALS, TEMPLATE, actions_of, all_statements, as_list


def sub_text(resource: Any) -> str:
    return resource["Fn::Sub"] if isinstance(resource, dict) else str(resource)


def test_modify_listener_is_scoped_to_the_configured_load_balancers_listeners():
    # Given every statement granting ModifyListener
    granting = [(owner, s) for owner, s in all_statements() if "elasticloadbalancing:ModifyListener" in actions_of(s)]

    # Then only Swap, Rollback and the paths that roll back an ended execution (its end event, the reconciler)
    # have it, and only on listener/{app,net}/<configured name>/*
    assert sorted(owner for owner, _ in granting) == [
        "ExecutionEndedFunction",
        "ReconcilerFunction",
        "RollbackFunction",
        "SwapFunction",
    ]
    for _, statement in granting:
        resources = sorted(sub_text(r) for r in as_list(statement["Resource"]))
        assert all(":listener/app/${" in r or ":listener/net/${" in r for r in resources), resources
        assert {r.split("/")[2] for r in resources} == {"${LoadBalancerName}", "${SecondLoadBalancerName}"}
        assert actions_of(statement) == ["elasticloadbalancing:ModifyListener"]


def test_modify_rule_stays_on_listener_rules_of_the_configured_load_balancers():
    for _, statement in all_statements():
        if "elasticloadbalancing:ModifyRule" in actions_of(statement):
            resources = [sub_text(r) for r in as_list(statement["Resource"])]
            assert all(":listener-rule/app/${" in r for r in resources), resources


def test_several_load_balancer_names_reach_the_functions():
    # Given the stack parameters / Then a second name exists, defaults to none, and Validate sees both
    parameter = TEMPLATE["Parameters"]["SecondLoadBalancerName"]
    assert parameter["Default"] == "-"
    variables = FUNCTION_GLOBALS["Environment"]["Variables"]
    assert sub_text(variables["LOAD_BALANCER_NAMES"]) == "${LoadBalancerName},${SecondLoadBalancerName}"


def test_the_load_balancer_names_setting_drops_none_markers():
    from bluegreen.domain.settings import Settings

    assert Settings.model_validate({"LOAD_BALANCER_NAMES": "web-alb,-"}).loadBalancerNames == ("web-alb",)
    assert Settings.model_validate({"LOAD_BALANCER_NAMES": "*,-"}).loadBalancerNames == ("*",)
