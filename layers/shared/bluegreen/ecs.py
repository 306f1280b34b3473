"""ECS services, task sets and task definitions (EXTERNAL deployment controller)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code, transient_errors
from .errors import InvalidServiceConfig, ServiceNotFound
from .models import ServiceConfig, TaskSetRef

LIVE_STATUSES = ("PRIMARY", "ACTIVE")

# Fields of DescribeTaskDefinition that RegisterTaskDefinition accepts back.
_REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)


def describe_service(ecs: Any, config: ServiceConfig) -> dict[str, Any]:
    try:
        with transient_errors():
            response = ecs.describe_services(cluster=config.cluster, services=[config.service])
    except ClientError as error:
        if error_code(error) == "ClusterNotFoundException":
            raise ServiceNotFound(f"ECS cluster {config.cluster} does not exist.") from error
        raise
    services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
    if not services:
        raise ServiceNotFound(
            f"ECS service {config.service} in cluster {config.cluster} does not exist or is not ACTIVE."
        )
    return services[0]


def live_task_sets(ecs: Any, config: ServiceConfig) -> list[dict[str, Any]]:
    """Task sets that run tasks (PRIMARY or ACTIVE; DRAINING ones are on their way out)."""
    with transient_errors():
        task_sets = ecs.describe_task_sets(cluster=config.cluster, service=config.service)["taskSets"]
    return [ts for ts in task_sets if ts.get("status") in LIVE_STATUSES]


def target_group_of(task_set: dict[str, Any]) -> str | None:
    balancers = task_set.get("loadBalancers") or []
    return balancers[0].get("targetGroupArn") if balancers else None


def task_sets_on(task_sets: list[dict[str, Any]], target_group_arn: str) -> list[dict[str, Any]]:
    return [ts for ts in task_sets if target_group_of(ts) == target_group_arn]


def find_by_external_id(task_sets: list[dict[str, Any]], external_id: str) -> dict[str, Any] | None:
    return next((ts for ts in task_sets if ts.get("externalId") == external_id), None)


def desired_count(service: dict[str, Any], task_set: dict[str, Any]) -> int:
    """Tasks the task set should run: its computed count, or the service's count times the scale."""
    if task_set.get("computedDesiredCount"):
        return int(task_set["computedDesiredCount"])
    scale = task_set.get("scale") or {"value": 100.0, "unit": "PERCENT"}
    return max(1, math.ceil(service.get("desiredCount", 1) * float(scale["value"]) / 100))


def to_ref(ecs: Any, task_set: dict[str, Any], container_name: str | None = None) -> TaskSetRef:
    image = container_image(ecs, task_set["taskDefinition"], container_name) if container_name else None
    return TaskSetRef(
        id=task_set["id"],
        arn=task_set["taskSetArn"],
        taskDefinition=task_set["taskDefinition"],
        targetGroupArn=target_group_of(task_set) or "",
        image=image,
    )


def describe_task_definition(ecs: Any, arn: str) -> dict[str, Any]:
    with transient_errors():
        return ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])


def container_image(ecs: Any, task_definition_arn: str, container_name: str) -> str | None:
    definition = describe_task_definition(ecs, task_definition_arn)["taskDefinition"]
    for container in definition["containerDefinitions"]:
        if container["name"] == container_name:
            return container["image"]
    return None


def register_with_image(
    ecs: Any, base_task_definition: str, container_name: str, image: str, tags: dict[str, str]
) -> str:
    """Register a new revision of ``base_task_definition`` with only ``container_name``'s image replaced."""
    described = describe_task_definition(ecs, base_task_definition)
    definition = described["taskDefinition"]
    arguments = {key: definition[key] for key in _REGISTER_FIELDS if definition.get(key) not in (None, [], {})}
    containers = arguments["containerDefinitions"]
    matches = [c for c in containers if c["name"] == container_name]
    if not matches:
        names = ", ".join(c["name"] for c in containers)
        raise InvalidServiceConfig(
            f"Task definition {base_task_definition} has no container named '{container_name}' "
            f"(it has: {names}). Fix 'containerName' in the service configuration."
        )
    matches[0]["image"] = image
    merged_tags = {t["key"]: t["value"] for t in described.get("tags") or []}
    merged_tags.update(tags)
    arguments["tags"] = [{"key": k, "value": v} for k, v in merged_tags.items()]
    with transient_errors():
        registered = ecs.register_task_definition(**arguments)
    return registered["taskDefinition"]["taskDefinitionArn"]


def create_task_set_like(
    ecs: Any,
    config: ServiceConfig,
    template: dict[str, Any],
    task_definition: str,
    target_group_arn: str,
    external_id: str,
) -> dict[str, Any]:
    """Create a task set that copies ``template``'s network and capacity setup onto another target group."""
    balancer = dict((template.get("loadBalancers") or [{}])[0])
    balancer["targetGroupArn"] = target_group_arn
    balancer.setdefault("containerName", config.containerName)
    if config.containerPort:
        balancer["containerPort"] = config.containerPort
    arguments: dict[str, Any] = {
        "cluster": config.cluster,
        "service": config.service,
        "taskDefinition": task_definition,
        "externalId": external_id,
        "loadBalancers": [balancer],
        "scale": {"unit": "PERCENT", "value": 100.0},
        "clientToken": hashlib.sha256(external_id.encode()).hexdigest()[:32],
    }
    for key in ("networkConfiguration", "platformVersion", "serviceRegistries"):
        if template.get(key):
            arguments[key] = template[key]
    if template.get("capacityProviderStrategy"):
        arguments["capacityProviderStrategy"] = template["capacityProviderStrategy"]
    elif template.get("launchType"):
        arguments["launchType"] = template["launchType"]
    with transient_errors():
        return ecs.create_task_set(**arguments)["taskSet"]


def make_primary(ecs: Any, config: ServiceConfig, task_set_arn: str) -> None:
    with transient_errors():
        ecs.update_service_primary_task_set(cluster=config.cluster, service=config.service, primaryTaskSet=task_set_arn)


def delete_task_set(ecs: Any, config: ServiceConfig, task_set_id: str) -> None:
    try:
        with transient_errors():
            ecs.delete_task_set(cluster=config.cluster, service=config.service, taskSet=task_set_id, force=True)
    except ClientError as error:
        if error_code(error) != "TaskSetNotFoundException":
            raise


def register_definition(ecs: Any, definition: dict[str, Any], tags: dict[str, str]) -> str:
    """Issue 10: register green's task definition exactly as Validate computed it (images pinned by digest)."""
    arguments = dict(definition)
    if tags:
        arguments["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    with transient_errors():
        registered = ecs.register_task_definition(**arguments)
    return registered["taskDefinition"]["taskDefinitionArn"]
