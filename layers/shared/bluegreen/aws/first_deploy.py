"""The first deployment: an EXTERNAL service with no task set yet.

Which target group is green
    The one the **test rule** forwards to, as in every deployment. Production, before the
    first deployment, either forwards to the other configured target group (empty, or served
    by something that is not a task set of this service, e.g. the old service being adopted),
    or answers with a **fixed response** (e.g. 503 "not live yet"); then the other configured
    target group is where the test rule points once green is live.

What changes
    CreateGreen registers a revision of the configured ``taskDefinition`` with the release's
    image and creates the first task set from the configured ``network``, behind the test
    target group. After the usual health gate (and approval), one ``ModifyRule`` points
    production at green only (a fixed-response action is replaced by a forward action; other
    actions, e.g. authentication, are kept). Traffic shifts are always ALL_AT_ONCE (there is
    no blue to share production with) and keep-old is off (there is no old task set).
    A rollback restores both saved rules exactly and deletes green.

Decisions are pure functions over :class:`RuleSnapshot` / :class:`ServiceConfig`; the AWS
calls are in :func:`check` and :func:`create_green`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.aws import ecs, elbv2
from bluegreen.aws.clients import AwsClients, error_code
from bluegreen.domain import policy
from bluegreen.domain.errors import (
    InvalidServiceConfig,
    ListenerRulesInvalid,
    NoServingTaskSet,
    TestTargetGroupBusy,
)
from bluegreen.domain.models import (
    DeploymentContext,
    FirstDeployment,
    KeepOldConfig,
    RuleSnapshot,
    ServiceConfig,
    TrafficShift,
)

FIXED_RESPONSE = "fixed-response"


# --- pure decisions --------------------------------------------------------------------------
def answers_fixed_response(actions: list[dict[str, Any]]) -> bool:
    """Does the rule end with a fixed response (and forward nowhere)?"""
    types = [action.get("Type") for action in actions]
    return FIXED_RESPONSE in types and "forward" not in types


def serving_groups(rule: RuleSnapshot) -> set[str]:
    """Target groups the rule sends traffic to; none when it answers with a fixed response."""
    if answers_fixed_response(rule.actions):
        return set()
    return elbv2.receiving(elbv2.forward_weights(rule.actions, rule.ruleArn))


def groups_served_by(routes: Iterable[RuleSnapshot]) -> set[str]:
    """Target groups any of ``routes`` sends traffic to (several routes)."""
    return set().union(*(serving_groups(route) for route in routes))


def target_groups(config: ServiceConfig, production: RuleSnapshot, test: RuleSnapshot) -> tuple[str, str]:
    """``(blue, green)`` target groups from the live rules; raises ``ListenerRulesInvalid``.

    A forwarding production rule follows :func:`policy.check_routing`. When production answers with a
    fixed response (before a first deployment), green is the configured target group the test rule
    forwards to and ``blue`` the other one (where the test rule points once green is live).
    """
    test_weights = elbv2.forward_weights(test.actions, test.ruleArn)
    if not answers_fixed_response(production.actions):
        production_weights = elbv2.forward_weights(production.actions, production.ruleArn)
        return policy.check_routing(production_weights, test_weights, config.targetGroupArns)
    test_groups = policy.receiving(test_weights)
    if len(test_groups) != 1 or not test_groups <= set(config.targetGroupArns):
        raise ListenerRulesInvalid(
            f"The production rule answers with a fixed response, so the test rule must forward to exactly one "
            f"of the configured target groups (green); it forwards to {sorted(test_groups) or 'nothing'}."
        )
    green_group = next(iter(test_groups))
    return next(arn for arn in config.targetGroupArns if arn != green_group), green_group


def routes_target_groups(config: ServiceConfig, production: list[RuleSnapshot], test: RuleSnapshot) -> tuple[str, str]:
    """:func:`target_groups` over every production route (rules or listeners); they must agree."""
    pairs = {target_groups(config, route, test) for route in production}
    if len(pairs) != 1:
        raise ListenerRulesInvalid(
            f"The production routes disagree about which target group serves production ({sorted(pairs)}). Point "
            f"every production route at the same target group, or make each answer the same fixed response."
        )
    return next(iter(pairs))


def is_first_deployment(task_sets: list[policy.TaskSetInfo], blue_group: str, green_group: str) -> bool:
    """No task set on either target group: nothing serves production yet."""
    return not policy.on_group(task_sets, blue_group) and not policy.on_group(task_sets, green_group)


def first_config(config: ServiceConfig) -> ServiceConfig:
    """A first deployment moves production at once and keeps no old task set (there is none)."""
    return config.model_copy(update={"trafficShift": TrafficShift(), "keepOld": KeepOldConfig()})


def forward_instead(actions: list[dict[str, Any]], green_group: str) -> list[dict[str, Any]]:
    """``actions`` with the fixed-response action replaced by a forward to ``green_group`` only."""
    new_actions = copy.deepcopy(actions)
    for index, action in enumerate(new_actions):
        if action.get("Type") == FIXED_RESPONSE:
            forward: dict[str, Any] = {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": green_group, "Weight": 100}]},
            }
            if "Order" in action:
                forward["Order"] = action["Order"]
            new_actions[index] = forward
            return new_actions
    raise ListenerRulesInvalid("The production rule has no fixed-response action to replace.")


def blue_must_be_healthy(context: DeploymentContext) -> bool:
    """Rollback needs healthy targets behind the saved production rule only if production was served before.

    A first deployment of a service that never served (fixed response or an empty target group)
    rolls back to exactly that; an adopted service (production was served by the old service)
    needs the old service still healthy.
    """
    return context.firstDeployment is None or context.firstDeployment.previouslyServed


def describe_blue(context: DeploymentContext) -> str:
    if context.blue is None:
        return "nothing (first deployment)"
    return context.blue.image or context.blue.taskDefinition


def container_port(definition: dict[str, Any], container_name: str) -> int | None:
    for container in definition.get("containerDefinitions", []):
        if container.get("name") == container_name:
            mappings = container.get("portMappings") or []
            return int(mappings[0]["containerPort"]) if mappings else None
    return None


def task_set_template(config: ServiceConfig, port: int | None) -> dict[str, Any]:
    """The configured network in the shape of a described task set (what ``ecs.create_task_set_like`` copies)."""
    network = config.network
    assert network is not None
    awsvpc: dict[str, Any] = {"subnets": network.subnets, "assignPublicIp": network.assignPublicIp}
    if network.securityGroups:
        awsvpc["securityGroups"] = network.securityGroups
    template: dict[str, Any] = {
        "networkConfiguration": {"awsvpcConfiguration": awsvpc},
        "loadBalancers": [{"containerName": config.containerName, **({"containerPort": port} if port else {})}],
    }
    if network.capacityProviderStrategy:
        template["capacityProviderStrategy"] = [item.dump() for item in network.capacityProviderStrategy]
    else:
        template["launchType"] = network.launchType
    if network.platformVersion:
        template["platformVersion"] = network.platformVersion
    return template


# --- AWS -------------------------------------------------------------------------------------
def check(
    clients: AwsClients,
    config: ServiceConfig,
    task_sets: list[dict[str, Any]],
    production: RuleSnapshot,
    blue_group: str,
    green_group: str,
) -> FirstDeployment:
    """Validate a first deployment; raises a distinct error for each thing the user must fix."""
    if config.network is None:
        raise NoServingTaskSet(
            f"No task set serves production through {blue_group} and the service configuration has no 'network', "
            f"so there is nowhere to start the first task set. Add 'network' (subnets, securityGroups, "
            f"assignPublicIp, launchType or capacityProviderStrategy, platformVersion) and 'taskDefinition' to the "
            f"service configuration (see README, 'First deployment'), then deploy again."
        )
    if task_sets:
        ids = ", ".join(ts["id"] for ts in task_sets)
        raise ListenerRulesInvalid(
            f"No task set serves production, yet task sets {ids} exist on other target groups. Delete them, or "
            f"point the production rule at the one that should serve, then deploy again."
        )
    waiting = [d for d in elbv2.target_health(clients.elbv2, green_group) if d["TargetHealth"]["State"] != "draining"]
    if waiting:
        raise TestTargetGroupBusy(
            f"The test target group {green_group} of a first deployment already has registered targets "
            f"({elbv2.describe_health(waiting)}) that are not task sets of this service. Deregister them, or point "
            f"the test rule at an empty target group."
        )
    try:
        definition = ecs.describe_task_definition(clients.ecs, config.taskDefinition or "")["taskDefinition"]
    except ClientError as error:
        if error_code(error) not in ("ClientException", "InvalidParameterException"):
            raise
        raise InvalidServiceConfig(
            f"Task definition '{config.taskDefinition}' from 'taskDefinition' does not exist ({error_code(error)}). "
            f"Register it, or fix 'taskDefinition' in the service configuration."
        ) from error
    names = [c["name"] for c in definition.get("containerDefinitions", [])]
    if config.containerName not in names:
        raise InvalidServiceConfig(
            f"Task definition {definition['taskDefinitionArn']} has no container named '{config.containerName}' "
            f"(it has: {', '.join(names)}). Fix 'containerName' or 'taskDefinition' in the service configuration."
        )
    if definition.get("networkMode") != "awsvpc":
        raise InvalidServiceConfig(
            f"Task definition {definition['taskDefinitionArn']} uses network mode "
            f"'{definition.get('networkMode', 'bridge')}'; the 'network' block (subnets, security groups) needs "
            f"'awsvpc'. Register the task definition with networkMode awsvpc."
        )
    fixed = answers_fixed_response(production.actions)
    served = False if fixed else elbv2.healthy_count(elbv2.target_health(clients.elbv2, blue_group)) > 0
    port = container_port(definition, config.containerName)
    return FirstDeployment(productionFixedResponse=fixed, previouslyServed=served, containerPort=port)


def create_green(
    clients: AwsClients, context: DeploymentContext, tags: dict[str, str], task_definition: str | None = None
) -> dict[str, Any]:
    """Create the first task set from the configured network.

    ``task_definition``: a revision the release already registered (a whole task definition given
    with the release); by default the release's image is registered on the configured base
    ``taskDefinition``.
    """
    config = context.config
    if task_definition is None:
        base = config.taskDefinition or ""
        task_definition = ecs.register_with_image(clients.ecs, base, config.containerName, context.image, tags)
    port = config.containerPort or (context.firstDeployment.containerPort if context.firstDeployment else None)
    if port is None:
        described = ecs.describe_task_definition(clients.ecs, task_definition)["taskDefinition"]
        port = container_port(described, config.containerName)
    return ecs.create_task_set_like(
        clients.ecs,
        config,
        task_set_template(config, port),
        task_definition,
        context.greenTargetGroupArn,
        context.executionName,
    )
