"""CloudFormation on the emulator: a user's own template (``aws cloudformation deploy`` against ``local serve``).

moto's CloudFormation creates most of what a service deployable by bluegreen declares (VPC, subnets, security
groups, load balancers, listeners, listener rules, target groups, repositories, clusters, task definitions,
roles, alarms, SSM parameters). The patches below fill the gaps that matter here, each marked ``# moto gap:``,
written for the moto version :mod:`.patches` checks on import:

- an ECS service with ``DeploymentController: EXTERNAL`` (no task definition, as AWS requires of such a
  service) fails in moto with ``KeyError: 'TaskDefinition'``, and moto drops the controller, the launch type,
  the network configuration and the load balancers of every service;
- a target group's ``TargetGroupAttributes`` (deregistration delay, stickiness) are ignored;
- a resource of a type moto does not model is skipped with a log line and the stack still ends
  ``CREATE_COMPLETE``; a resource whose creation raises makes the API call itself fail. AWS instead records a
  ``CREATE_FAILED`` event naming the resource, rolls the stack back and ends it ``ROLLBACK_COMPLETE``
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html); so does the
  emulator, with a reason that names the type and says the emulator does not support it.
"""

from __future__ import annotations

from typing import Any

from . import patches
from .patches import MOTO_VERSION

patches.check_moto_version()

import boto3  # noqa: E402
from moto.cloudformation import parsing  # noqa: E402 - after the version check
from moto.cloudformation.models import Stack  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.ecs.models import Cluster, TaskDefinition, ecs_backends  # noqa: E402


class ResourceFailed(Exception):
    """One resource of a stack could not be created (the stack rolls back)."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


def unsupported_reason(resource_type: str) -> str:
    return (
        f"Resource type {resource_type} is not supported by the bluegreen emulator (moto {MOTO_VERSION}'s "
        "CloudFormation has no model of it): leave it out of the template you deploy locally, or deploy to AWS"
    )


def supported(resource_type: str) -> bool:
    return (
        resource_type in parsing.NULL_MODELS
        or resource_type.startswith("Custom::")
        or resource_type in parsing.get_model_map()
    )


def _name(value: Any, kind: type) -> Any:
    """A resolved ``Ref``: moto hands the resource object itself for some types."""
    if isinstance(value, kind):
        return value.name if kind is Cluster else value.family if kind is TaskDefinition else value
    return value


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property names -> the ECS API's camelCase ones."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lower_keys(item) for item in value]
    return value


def create_service(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    """AWS::ECS::Service with its deployment controller, launch type, network and load balancers."""
    # moto gap: moto's AWS::ECS::Service requires TaskDefinition (an EXTERNAL service has none) and passes
    # neither DeploymentController nor LaunchType, NetworkConfiguration, LoadBalancers, PlatformVersion.
    properties = cloudformation_json["Properties"]
    cluster = _name(properties.get("Cluster", "default"), Cluster)
    task_definition = properties.get("TaskDefinition")
    network = properties.get("NetworkConfiguration")
    awsvpc = (network or {}).get("AwsvpcConfiguration")
    return ecs_backends[account_id][region_name].create_service(
        cluster,
        resource_name,
        properties.get("DesiredCount", 1 if task_definition else 0),
        task_definition_str=_name(task_definition, TaskDefinition) if task_definition else None,
        load_balancers=_lower_keys(properties.get("LoadBalancers")) or None,
        deployment_controller=_lower_keys(properties.get("DeploymentController")) or None,
        launch_type=properties.get("LaunchType"),
        platform_version=properties.get("PlatformVersion"),
        network_configuration={"awsvpcConfiguration": _lower_keys(awsvpc)} if awsvpc else None,
        tags=_lower_keys(properties.get("Tags")) or None,
    )


# PutMetricAlarm's parameters, as a template's AWS::CloudWatch::Alarm and DescribeAlarms name them (rehearsal.py
# recreates snapshotted alarms with the same list).
ALARM_PROPERTIES = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
_NUMBERS = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}


def _typed(value: Any, key: str = "") -> Any:
    """Template values are strings where the API wants numbers or booleans (Period, ReturnData...)."""
    if isinstance(value, dict):
        return {k: _typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, key) for v in value]
    if key in _NUMBERS and isinstance(value, str):
        return _NUMBERS[key](value)
    if key in ("ReturnData", "ActionsEnabled") and isinstance(value, str):
        return value.lower() == "true"
    return value


class MetricAlarmResource(CloudFormationModel):
    """AWS::CloudWatch::Alarm (a metric alarm): Ref is its name, GetAtt Arn its ARN."""

    # moto gap: moto's CloudFormation has no model of AWS::CloudWatch::Alarm (the stack would skip it).
    def __init__(self, name: str, arn: str, region_name: str) -> None:
        self.name, self.arn, self.region_name = name, arn, region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-alarm.html
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> MetricAlarmResource:
        properties = cloudformation_json["Properties"]
        # Through the API (in this process): the alarm is validated as PutMetricAlarm validates it.
        client = boto3.client("cloudwatch", region_name=region_name)
        arguments = {key: _typed(properties[key], key) for key in ALARM_PROPERTIES if key in properties}
        client.put_metric_alarm(AlarmName=resource_name, **arguments)
        alarm = client.describe_alarms(AlarmNames=[resource_name])["MetricAlarms"][0]
        return cls(resource_name, alarm["AlarmArn"], region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        boto3.client("cloudwatch", region_name=region_name).delete_alarms(AlarmNames=[resource_name])


def create_task_definition(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    """AWS::ECS::TaskDefinition with all its task-level properties."""
    # moto gap: moto's AWS::ECS::TaskDefinition passes only the family, containers, volumes and memory: a
    # Fargate (awsvpc) definition became a 'bridge' one without its roles, CPU or compatibilities.
    properties = cloudformation_json["Properties"]
    family = properties.get("Family") or resource_name
    optional = {
        "network_mode": properties.get("NetworkMode"),
        "requires_compatibilities": properties.get("RequiresCompatibilities"),
        "cpu": properties.get("Cpu"),
        "memory": properties.get("Memory"),
        "task_role_arn": properties.get("TaskRoleArn"),
        "execution_role_arn": properties.get("ExecutionRoleArn"),
        "placement_constraints": _lower_keys(properties.get("PlacementConstraints")),
        "tags": _lower_keys(properties.get("Tags")),
        "runtime_platform": _lower_keys(properties.get("RuntimePlatform")),
        "pid_mode": properties.get("PidMode"),
        "ipc_mode": properties.get("IpcMode"),
        "ephemeral_storage": _lower_keys(properties.get("EphemeralStorage")),
        "proxy_configuration": _lower_keys(properties.get("ProxyConfiguration")),
    }
    return ecs_backends[account_id][region_name].register_task_definition(
        family=family,
        container_definitions=_lower_keys(properties.get("ContainerDefinitions") or []),
        volumes=_lower_keys(properties.get("Volumes") or []),
        **{key: value for key, value in optional.items() if value is not None},
    )


def configured_services(stack: Stack, template: dict[str, Any]) -> list[str]:
    """The services whose configuration document (an SSM parameter under the prefix) ``stack`` declares."""
    from bluegreen.aws.config import config_prefix

    prefix = config_prefix().rstrip("/") + "/"
    names = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::SSM::Parameter":
            continue
        name = getattr(stack.resource_map[logical_id], "name", "")
        if name.startswith(prefix) and "/" not in name[len(prefix) :]:
            names.append(name[len(prefix) :])
    return names


def watch_configured(emu: Any, service: str) -> Any:
    """A service a user's template created (its configuration document in SSM): simulated by the data plane
    (its task sets run tasks, its alarm follows their 5xx) and watched by the auto-approver, as seeded ones are."""
    import json

    from bluegreen.aws.config import parameter_name
    from bluegreen.domain.models import ServiceConfig

    from .dataplane import WatchedService
    from .seed import DemoService

    document = json.loads(emu.client("ssm").get_parameter(Name=parameter_name(service))["Parameter"]["Value"])
    config = ServiceConfig.model_validate(document)
    ecr = emu.client("ecr")
    images = ecr.describe_images(repositoryName=config.repository)["imageDetails"]
    routes = config.production_route_arns()
    alarm = config.alarmNames[0] if config.alarmNames else None
    port = config.containerPort or 8080
    emu.plane.watch(WatchedService(config.cluster, config.service, routes[0], alarm, port))
    described = emu.client("ecs").describe_services(cluster=config.cluster, services=[config.service])["services"]
    primary = next((ts["id"] for ts in described[0].get("taskSets") or [] if ts["status"] == "PRIMARY"), "")
    demo = DemoService(
        name=config.service,
        cluster=config.cluster,
        repository=config.repository,
        repository_uri=ecr.describe_repositories(repositoryNames=[config.repository])["repositories"][0][
            "repositoryUri"
        ],
        digests={tag: image["imageDigest"] for image in images for tag in image.get("imageTags") or []},
        production_rule_arn=routes[0],
        test_rule_arn=config.test_route_arn(),
        target_groups=list(config.targetGroupArns),
        alarm_name=alarm or "",
        blue_task_set=primary,
        config=document,
        production_routes=routes,
    )
    emu.services[config.service] = demo
    emu._table_written.set()
    return demo
