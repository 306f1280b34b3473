"""``bluegreen local snapshot SERVICE``: what a release of one service touches, read from an account.

The snapshot is a versioned JSON document (:class:`Snapshot`, ``format: 1``) that ``bluegreen local
serve --snapshot FILE`` seeds the emulator with, so a release can be rehearsed offline on the account's
real shape (same account id, region, names and ARNs).

Only describe/list/get calls are made (the read-only policy is :data:`READ_ONLY_ACTIONS`, documented in
docs/rehearsal.md). Nothing secret is read: the Slack secret is never opened, the task definitions keep
their ``secrets`` references (ARNs) and never their values, the hook functions' environment values are
left out, and the file lists what it left out in ``omitted``.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .common import UsageError

FORMAT = 1
OMITTED_SECRETS = [
    "the Slack secret (Secrets Manager) is never read",
    "no credentials: the caller's keys and session are not written",
    "task definition 'secrets' keep their valueFrom references (ARNs), never the values",
    "hook functions' environment variables: names only, values left out",
    "hook functions' code (unless --with-hook-code) and its download URL (presigned: a credential)",
    "ECR image layers and manifests (tags and digests only)",
]
# Every action the snapshot calls (the read-only IAM policy docs/rehearsal.md shows).
READ_ONLY_ACTIONS = (
    "ssm:GetParameter",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:DescribeTaskSets",
    "ecs:DescribeTaskDefinition",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "cloudwatch:DescribeAlarms",
    "ecr:DescribeRepositories",
    "ecr:DescribeImages",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunction",  # only with --with-hook-code
    "sts:GetCallerIdentity",
    "cloudformation:DescribeStacks",  # the deployment stack's scoping parameters
)
# The deployment stack's parameters a snapshot keeps: they scope its IAM policies, which a rehearsal enforces.
SCOPING_PARAMETERS = (
    "ConfigParameterPrefix",
    "EcsClusterName",
    "LoadBalancerName",
    "SecondLoadBalancerName",
    "RepositoryNamePattern",
    "TaskRoleNamePattern",
    "HookFunctionNamePattern",
    "TaskDefinitionFamilyPattern",
)


class SnapshotInvalid(UsageError):
    """The file is not a snapshot this version can read (malformed JSON or fields)."""

    name = "SnapshotInvalid"


class SnapshotFormatTooNew(UsageError):
    """The file was written by a newer bluegreen (a format this one does not know)."""

    name = "SnapshotFormatTooNew"


class RepositoryImages(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: dict[str, Any]  # DescribeRepositories entry
    images: list[dict[str, Any]] = Field(default_factory=list)  # imageTags, imageDigest, imagePushedAt


class TargetGroupState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targetGroup: dict[str, Any]  # DescribeTargetGroups entry (health-check settings)
    attributes: dict[str, str] = Field(default_factory=dict)  # deregistration delay, stickiness...


class HookFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration: dict[str, Any]  # GetFunctionConfiguration, environment values left out
    code: str | None = None  # base64 of the deployment package, only with --with-hook-code


class Network(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vpcs: list[dict[str, Any]] = Field(default_factory=list)
    subnets: list[dict[str, Any]] = Field(default_factory=list)
    securityGroups: list[dict[str, Any]] = Field(default_factory=list)


class Snapshot(BaseModel):
    """Format 1 of the snapshot file: AWS's own describe shapes, per resource."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1]
    takenAt: str
    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    service: str = Field(min_length=1)
    configParameter: str  # the SSM parameter name
    config: dict[str, Any]  # the service configuration document
    cluster: dict[str, Any]
    ecsService: dict[str, Any]
    taskSets: list[dict[str, Any]] = Field(default_factory=list)
    taskDefinitions: list[dict[str, Any]] = Field(default_factory=list)
    loadBalancers: list[dict[str, Any]] = Field(default_factory=list)
    listeners: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    targetGroups: list[TargetGroupState] = Field(default_factory=list)
    alarms: list[dict[str, Any]] = Field(default_factory=list)
    repositories: list[RepositoryImages] = Field(default_factory=list)
    hookFunctions: list[HookFunction] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)
    # The deployment stack's parameters that scope its IAM policies (name patterns), when the stack was found.
    stackParameters: dict[str, str] = Field(default_factory=dict)
    omitted: list[str] = Field(default_factory=lambda: list(OMITTED_SECRETS))

    def service_config(self) -> Any:
        from bluegreen.domain.models import ServiceConfig

        return ServiceConfig.model_validate(self.config)


# --- reading a file --------------------------------------------------------------------------------------
def load(path: str | Path) -> Snapshot:
    """The snapshot in ``path``, or :class:`SnapshotInvalid` / :class:`SnapshotFormatTooNew` saying what to do."""
    where = str(path)
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise SnapshotInvalid(f"SnapshotInvalid: cannot read {where}: {error.strerror or error}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise SnapshotInvalid(
            f"SnapshotInvalid: {where} is not JSON ({error})",
            "take it again with bluegreen local snapshot SERVICE --output FILE",
        ) from error
    return parse(raw, where)


def parse(raw: Any, where: str = "snapshot") -> Snapshot:
    if not isinstance(raw, dict) or "format" not in raw:
        raise SnapshotInvalid(
            f"SnapshotInvalid: {where} has no 'format' field: it is not a bluegreen snapshot",
            "take one with bluegreen local snapshot SERVICE --output FILE",
        )
    version = raw["format"]
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT:
        raise SnapshotFormatTooNew(
            f"SnapshotFormatTooNew: {where} is snapshot format {version}; this bluegreen reads format {FORMAT}",
            "upgrade ecs-bluegreen (pip install -U 'ecs-bluegreen[local]') or take the snapshot again with this one",
        )
    try:
        snapshot = Snapshot.model_validate(raw)
        snapshot.service_config()
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        raise SnapshotInvalid(
            f"SnapshotInvalid: {where}: {field}: {problem['msg']}",
            "the file was edited or truncated; take it again with bluegreen local snapshot SERVICE --output FILE",
        ) from error
    return snapshot


# --- taking one -------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """boto3's answer as JSON: datetimes as ISO 8601, ResponseMetadata dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _listener_of(rule_arn: str) -> str:
    """``...:listener-rule/app/NAME/LB/LISTENER/RULE`` -> ``...:listener/app/NAME/LB/LISTENER``."""
    return rule_arn.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]


def _awsvpc(task_set: dict[str, Any]) -> dict[str, Any]:
    return (task_set.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}


def _stack_parameters(session: Any, stack: str | None) -> dict[str, str]:
    """The deployment stack's scoping parameters (none when it is not found or not readable)."""
    if not stack:
        return {}
    cloudformation = session.client("cloudformation")
    try:
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return {}
    return {
        p["ParameterKey"]: p["ParameterValue"]
        for p in described.get("Parameters") or []
        if p["ParameterKey"] in SCOPING_PARAMETERS and "ParameterValue" in p
    }


def take(session: Any, service: str, with_hook_code: bool = False, stack: str | None = None) -> Snapshot:
    """Read everything a release of ``service`` touches (describe/list/get calls only)."""
    from bluegreen.aws.config import parameter_name
    from bluegreen.domain.hooks import LambdaHook
    from bluegreen.domain.models import ServiceConfig

    ssm, ecs, elbv2 = session.client("ssm"), session.client("ecs"), session.client("elbv2")
    ec2, cloudwatch, ecr = session.client("ec2"), session.client("cloudwatch"), session.client("ecr")
    lam = session.client("lambda")

    name = parameter_name(service)
    try:
        document = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound as error:
        raise UsageError(f"no service configuration {name}", "is the service name right (and the region)?") from error
    config = ServiceConfig.model_validate(document)

    account = session.client("sts").get_caller_identity()["Account"]
    (cluster,) = ecs.describe_clusters(clusters=[config.cluster])["clusters"] or [None]
    if cluster is None:
        raise UsageError(f"cluster {config.cluster} not found", "check the configuration document's 'cluster'")
    described = ecs.describe_services(cluster=config.cluster, services=[config.service])["services"]
    if not described:
        raise UsageError(f"service {config.service} not found in cluster {config.cluster}")
    ecs_service = described[0]
    task_set_arns = [ts["taskSetArn"] for ts in ecs_service.get("taskSets") or []]
    task_sets = (
        ecs.describe_task_sets(cluster=config.cluster, service=config.service, taskSets=task_set_arns)["taskSets"]
        if task_set_arns
        else []
    )
    definitions = [ts["taskDefinition"] for ts in task_sets]
    if config.taskDefinition:
        definitions.append(config.taskDefinition)
    task_definitions: list[dict[str, Any]] = []
    seen: set[str] = set()
    for definition in definitions:
        answer = ecs.describe_task_definition(taskDefinition=definition, include=["TAGS"])
        described_definition = answer["taskDefinition"]
        if described_definition["taskDefinitionArn"] in seen:
            continue
        seen.add(described_definition["taskDefinitionArn"])
        task_definitions.append({**described_definition, "tags": answer.get("tags") or []})

    routes = [*config.production_route_arns(), config.test_route_arn()]
    rule_arns = [route for route in routes if ":listener-rule/" in route]
    listener_arns = list(
        dict.fromkeys([route for route in routes if ":listener/" in route] + [_listener_of(rule) for rule in rule_arns])
    )
    rules = elbv2.describe_rules(RuleArns=rule_arns)["Rules"] if rule_arns else []
    listeners = elbv2.describe_listeners(ListenerArns=listener_arns)["Listeners"] if listener_arns else []
    balancer_arns = list(dict.fromkeys(listener["LoadBalancerArn"] for listener in listeners))
    balancers = elbv2.describe_load_balancers(LoadBalancerArns=balancer_arns)["LoadBalancers"] if balancer_arns else []
    groups = elbv2.describe_target_groups(TargetGroupArns=config.targetGroupArns)["TargetGroups"]
    target_groups = [
        TargetGroupState(
            targetGroup=_plain(group),
            attributes={
                a["Key"]: a["Value"]
                for a in elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
            },
        )
        for group in groups
    ]

    alarms: list[dict[str, Any]] = []
    if config.alarmNames:
        answer = cloudwatch.describe_alarms(AlarmNames=config.alarmNames, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        alarms = [{"type": "MetricAlarm", **a} for a in answer.get("MetricAlarms", [])]
        alarms += [{"type": "CompositeAlarm", **a} for a in answer.get("CompositeAlarms", [])]

    repositories = []
    for repository in dict.fromkeys([config.repository, *config.repositories.values()]):
        (described_repository,) = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
        images = []
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository):
            for image in page["imageDetails"]:
                if image.get("imageTags"):  # untagged images cannot be released by tag
                    images.append(
                        {
                            k: image[k]
                            for k in ("imageDigest", "imageTags", "imagePushedAt", "imageManifestMediaType")
                            if k in image
                        }
                    )
        repositories.append(RepositoryImages(repository=_plain(described_repository), images=_plain(images)))

    hook_functions = []
    for hook in config.hooks.all():
        if not isinstance(hook, LambdaHook):
            continue
        configuration = _plain(lam.get_function_configuration(FunctionName=hook.functionArn))
        variables = (configuration.get("Environment") or {}).get("Variables")
        if variables:  # a hook's environment may hold credentials: the names say what it needs, not the values
            configuration["Environment"] = {"VariableNames": sorted(variables)}
        code = None
        if with_hook_code:
            location = lam.get_function(FunctionName=hook.functionArn)["Code"].get("Location")
            if location and location.startswith("https://"):
                with urllib.request.urlopen(location, timeout=60) as download:  # noqa: S310 - https only
                    code = base64.b64encode(download.read()).decode("ascii")
        hook_functions.append(HookFunction(configuration=configuration, code=code))

    subnet_ids = {s for ts in task_sets for s in _awsvpc(ts).get("subnets") or []}
    group_ids = {g for ts in task_sets for g in _awsvpc(ts).get("securityGroups") or []}
    if config.network:
        subnet_ids |= set(config.network.subnets)
        group_ids |= set(config.network.securityGroups)
    for balancer in balancers:
        subnet_ids |= {zone["SubnetId"] for zone in balancer.get("AvailabilityZones") or [] if zone.get("SubnetId")}
        group_ids |= set(balancer.get("SecurityGroups") or [])
    subnets = ec2.describe_subnets(SubnetIds=sorted(subnet_ids))["Subnets"] if subnet_ids else []
    security_groups = ec2.describe_security_groups(GroupIds=sorted(group_ids))["SecurityGroups"] if group_ids else []
    vpc_ids = {s["VpcId"] for s in subnets}
    vpc_ids |= {group.targetGroup["VpcId"] for group in target_groups if group.targetGroup.get("VpcId")}
    vpcs = ec2.describe_vpcs(VpcIds=sorted(vpc_ids))["Vpcs"] if vpc_ids else []
    for vpc in vpcs:  # DescribeVpcs leaves out the DNS attributes
        for attribute, key in (("enableDnsHostnames", "EnableDnsHostnames"), ("enableDnsSupport", "EnableDnsSupport")):
            answer = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
            vpc[key] = answer.get(key, {}).get("Value")

    return Snapshot(
        format=FORMAT,
        takenAt=datetime.now(UTC).isoformat(timespec="seconds"),
        account=account,
        region=session.region_name,
        service=service,
        configParameter=name,
        config=document,
        cluster=_plain(cluster),
        ecsService=_plain(ecs_service),
        taskSets=_plain(task_sets),
        taskDefinitions=_plain(task_definitions),
        loadBalancers=_plain(balancers),
        listeners=_plain(listeners),
        rules=_plain(rules),
        targetGroups=target_groups,
        alarms=_plain(alarms),
        repositories=repositories,
        hookFunctions=hook_functions,
        network=Network(vpcs=_plain(vpcs), subnets=_plain(subnets), securityGroups=_plain(security_groups)),
        stackParameters=_stack_parameters(session, stack),
    )


def write(snapshot: Snapshot, path: str | Path) -> None:
    text = json.dumps(snapshot.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"
    Path(path).write_text(text)


def main(
    service: str, output: str, with_hook_code: bool = False, region: str | None = None, stack: str | None = None
) -> int:
    import boto3

    session = boto3.session.Session(region_name=region)
    snapshot = take(session, service, with_hook_code=with_hook_code, stack=stack)
    write(snapshot, output)
    sys.stdout.write(
        f"Snapshot of {service} ({snapshot.account}, {snapshot.region}) written to {output}: "
        f"{len(snapshot.taskSets)} task set(s), {len(snapshot.taskDefinitions)} task definition(s), "
        f"{len(snapshot.rules) + len(snapshot.listeners)} route(s), {len(snapshot.targetGroups)} target group(s), "
        f"{len(snapshot.alarms)} alarm(s), {sum(len(r.images) for r in snapshot.repositories)} image(s). "
        "No secret was read.\n"
    )
    return 0
