"""ECS services, task sets and task definitions (EXTERNAL deployment controller)."""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.domain.errors import InvalidServiceConfig, ServiceNotFound, TooManyTaskSets
from bluegreen.domain.models import ServiceConfig, TaskSetRef

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

LIVE_STATUSES = ("PRIMARY", "ACTIVE")

# Fields of DescribeTaskDefinition that RegisterTaskDefinition accepts back.
REGISTER_FIELDS = (
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


def describe_service(ecs: ECSClient, config: ServiceConfig) -> dict[str, Any]:
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
    return cast(dict[str, Any], services[0])


def all_task_sets(ecs: ECSClient, config: ServiceConfig) -> list[dict[str, Any]]:
    """Every task set of the service, DRAINING ones included, as DescribeServices lists them.

    Not DescribeTaskSets: its API reference marks ``taskSets`` optional, but ECS answers a call without it
    with ``InvalidParameterException: TaskSets cannot be empty`` (aws/aws-cli#5380). DescribeServices lists an
    EXTERNAL service's task sets in ``taskSets`` ("Information about a set of Amazon ECS tasks in either an
    CodeDeploy or an EXTERNAL deployment", ECS API reference, Service data type).
    """
    return [cast(dict[str, Any], ts) for ts in describe_service(ecs, config).get("taskSets") or []]


def live_task_sets(ecs: ECSClient, config: ServiceConfig) -> list[dict[str, Any]]:
    """Task sets that run tasks (PRIMARY or ACTIVE; DRAINING ones are on their way out)."""
    return [ts for ts in all_task_sets(ecs, config) if ts.get("status") in LIVE_STATUSES]


def target_group_of(task_set: dict[str, Any]) -> str | None:
    balancers = task_set.get("loadBalancers") or []
    return balancers[0].get("targetGroupArn") if balancers else None


def task_sets_on(task_sets: list[dict[str, Any]], target_group_arn: str) -> list[dict[str, Any]]:
    return [ts for ts in task_sets if target_group_of(ts) == target_group_arn]


def find_by_external_id(task_sets: list[dict[str, Any]], external_id: str) -> dict[str, Any] | None:
    return next((ts for ts in task_sets if ts.get("externalId") == external_id), None)


def desired_count(service: dict[str, Any], task_set: dict[str, Any]) -> int:
    """Tasks the task set should run: its computed count, or the service's count times the scale.

    A service scaled to zero runs no task: 0, not "one task".
    """
    if task_set.get("computedDesiredCount") is not None:
        return int(task_set["computedDesiredCount"])
    scale = task_set.get("scale") or {"value": 100.0, "unit": "PERCENT"}
    return math.ceil(int(service.get("desiredCount", 0)) * float(scale["value"]) / 100)


def to_ref(ecs: ECSClient, task_set: dict[str, Any], container_name: str | None = None) -> TaskSetRef:
    image = container_image(ecs, task_set["taskDefinition"], container_name) if container_name else None
    return TaskSetRef(
        id=task_set["id"],
        arn=task_set["taskSetArn"],
        taskDefinition=task_set["taskDefinition"],
        targetGroupArn=target_group_of(task_set) or "",
        image=image,
    )


def describe_task_definition(ecs: ECSClient, arn: str) -> dict[str, Any]:
    with transient_errors():
        return cast(dict[str, Any], ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]))


def container_image(ecs: ECSClient, task_definition_arn: str, container_name: str) -> str | None:
    definition = describe_task_definition(ecs, task_definition_arn)["taskDefinition"]
    for container in definition["containerDefinitions"]:
        if container["name"] == container_name:
            return container["image"]
    return None


MAX_TAGS = 50  # tags per ECS resource (aws:-prefixed ones excepted)


def reserved_tag(key: str, value: str) -> bool:
    """``aws:`` (any case) prefixes keys and values reserved for AWS: they cannot be set on a new resource."""
    return key.lower().startswith("aws:") or value.lower().startswith("aws:")


def copyable_tags(inherited: dict[str, str], own: dict[str, str]) -> dict[str, str]:
    """The tags a new revision can carry: ours, then the base revision's user tags, at most 50 in all.

    AWS refuses ``aws:`` tags on RegisterTaskDefinition (they are AWS's, e.g. CloudFormation's) and more than
    50 tags; ours (bookkeeping) come first, inherited ones fill the rest in their original order.
    """
    merged = {k: v for k, v in own.items() if not reserved_tag(k, v)}
    for key, value in inherited.items():
        if len(merged) >= MAX_TAGS:
            break
        if key not in merged and not reserved_tag(key, value):
            merged[key] = value
    return merged


def register_with_image(
    ecs: ECSClient, base_task_definition: str, container_name: str, image: str, tags: dict[str, str]
) -> str:
    """Register a new revision of ``base_task_definition`` with only ``container_name``'s image replaced."""
    described = describe_task_definition(ecs, base_task_definition)
    definition = described["taskDefinition"]
    arguments = {key: definition[key] for key in REGISTER_FIELDS if definition.get(key) not in (None, [], {})}
    containers = arguments["containerDefinitions"]
    matches = [c for c in containers if c["name"] == container_name]
    if not matches:
        names = ", ".join(c["name"] for c in containers)
        raise InvalidServiceConfig(
            f"Task definition {base_task_definition} has no container named '{container_name}' "
            f"(it has: {names}). Fix 'containerName' in the service configuration."
        )
    matches[0]["image"] = image
    inherited = {t["key"]: t["value"] for t in described.get("tags") or []}
    merged_tags = copyable_tags(inherited, tags)
    if merged_tags:
        arguments["tags"] = [{"key": k, "value": v} for k, v in merged_tags.items()]
    with transient_errors():
        registered = ecs.register_task_definition(**arguments)
    return registered["taskDefinition"]["taskDefinitionArn"]


def create_task_set_like(
    ecs: ECSClient,
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
    try:
        with transient_errors():
            return cast(dict[str, Any], ecs.create_task_set(**arguments)["taskSet"])
    except ClientError as error:
        # Validate checked the room; a task set created since then (another tool) can still fill it.
        message = str(error.response.get("Error", {}).get("Message", ""))
        if error_code(error) == "InvalidParameterException" and "deployments exist on the service" in message:
            raise TooManyTaskSets(
                f"ECS refused green's task set for {config.service}: {message} DRAINING task sets count; deploy "
                f"again once they are gone (their target group's deregistration delay)."
            ) from error
        raise


def make_primary(ecs: ECSClient, config: ServiceConfig, task_set_arn: str) -> None:
    with transient_errors():
        ecs.update_service_primary_task_set(cluster=config.cluster, service=config.service, primaryTaskSet=task_set_arn)


def delete_task_set(ecs: ECSClient, config: ServiceConfig, task_set_id: str) -> None:
    try:
        with transient_errors():
            ecs.delete_task_set(cluster=config.cluster, service=config.service, taskSet=task_set_id, force=True)
    except ClientError as error:
        if error_code(error) != "TaskSetNotFoundException":
            raise


def register_definition(ecs: Any, definition: dict[str, Any], tags: dict[str, str]) -> str:
    """Register green's task definition exactly as Validate computed it (images pinned by digest)."""
    arguments = dict(definition)
    if tags:
        arguments["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    with transient_errors():
        registered = ecs.register_task_definition(**arguments)
    return registered["taskDefinition"]["taskDefinitionArn"]


# --- a task set's own tasks (startedBy = the task set id) --------------------------------
def _describe_tasks(ecs: Any, config: ServiceConfig, arns: list[str]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):  # DescribeTasks takes at most 100 tasks
        with transient_errors():
            tasks += ecs.describe_tasks(cluster=config.cluster, tasks=arns[start : start + 100])["tasks"]
    return tasks


def task_address(task: dict[str, Any]) -> str | None:
    """The private IPv4 address of the task's ENI (awsvpc), which is its target id in an ip target group."""
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == "privateIPv4Address":
                return detail.get("value")
    return None


def running_tasks(ecs: Any, config: ServiceConfig, task_set_id: str) -> list[dict[str, Any]]:
    """The task set's tasks ECS wants running (ListTasks: startedBy must be the only filter)."""
    arns: list[str] = []
    with transient_errors():
        for page in ecs.get_paginator("list_tasks").paginate(cluster=config.cluster, startedBy=task_set_id):
            arns += page["taskArns"]
    return _describe_tasks(ecs, config, arns) if arns else []


def stopped_tasks(ecs: Any, config: ServiceConfig, task_set_id: str, family: str) -> list[dict[str, Any]]:
    """The task set's recently stopped tasks (ECS keeps them listed for about an hour)."""
    arns: list[str] = []
    with transient_errors():
        pages = ecs.get_paginator("list_tasks").paginate(cluster=config.cluster, family=family, desiredStatus="STOPPED")
        for page in pages:
            arns += page["taskArns"]
    tasks = _describe_tasks(ecs, config, arns) if arns else []
    return [t for t in tasks if t.get("startedBy") == task_set_id]


def family_of(task_definition_arn: str) -> str:
    """``arn:...:task-definition/web:42`` -> ``web``."""
    return task_definition_arn.rsplit("/", 1)[-1].split(":", 1)[0]


def is_primary(ecs: Any, config: ServiceConfig, task_set_id: str) -> bool:
    """Does DescribeServices already show the task set as primary? (It may lag a switch by a few seconds.)"""
    return any(ts["id"] == task_set_id and ts["status"] == "PRIMARY" for ts in live_task_sets(ecs, config))
