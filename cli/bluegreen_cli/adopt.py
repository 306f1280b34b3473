"""``bluegreen adopt``: move a service on the ECS (rolling) or CODE_DEPLOY controller to this tool.

ECS cannot switch an existing service to the EXTERNAL deployment controller in place (UpdateService's
``deploymentController`` covers the CODE_DEPLOY -> ECS migration; CloudFormation replaces the service
when ``DeploymentController`` changes), so adoption is side by side, without dropping traffic:

1. ``bluegreen adopt OLD --cluster C --production-rule P --test-rule T`` checks that production forwards
   to the old service's target group and the test rule to an empty (idle) one, creates a new EXTERNAL
   service (``OLD-bg`` or ``--new-name``) with no task set, writes its configuration document to SSM
   (network, task definition and container copied from the old service) and starts a **first
   deployment** of the image the old service runs. That execution creates the first task set behind
   the idle target group, waits until it is healthy (approval as configured), points production at
   it in one ``ModifyRule`` and bakes; a failure or an alarm restores the rules (production back on
   the old service).
2. ``bluegreen adopt OLD --cluster C --confirm`` (after the deployment succeeded) scales the old
   service to 0, only when production forwards to the new service's healthy task set.

Deleting the old service, and moving the new one into your IaC, stay manual (see README).
The planning below is pure (pydantic in, pydantic out); AWS calls go through the operator's clients.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from bluegreen.aws import elbv2, routes
from bluegreen.aws.clients import error_code
from bluegreen.aws.config import parameter_name
from bluegreen.aws.first_deploy import serving_groups
from bluegreen.domain.models import Model, NetworkConfig, RuleSnapshot, ServiceConfig

from .common import CliError, UsageError

ADOPTABLE = ("ECS", "CODE_DEPLOY")
SUFFIX = "-bg"


class OldService(Model):
    """What the old service runs, from DescribeServices (service fields, else its primary task set)."""

    name: str
    arn: str
    controller: str
    desiredCount: int
    taskDefinition: str
    targetGroupArn: str
    containerName: str
    containerPort: int | None = None
    network: NetworkConfig


class AdoptionPlan(Model):
    oldService: str
    newService: str
    image: str  # the old service's container image
    repository: str
    tag: str | None  # None: the image is pinned by digest; the tag is looked up in ECR
    digest: str | None
    config: ServiceConfig


def _fail(message: str, hint: str) -> CliError:
    return CliError(message, hint)


def describe_old(service: dict[str, Any]) -> OldService:
    """The old service in a typed shape; refuses services that cannot be adopted."""
    name = service["serviceName"]
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    if controller == "EXTERNAL":
        raise _fail(
            f"service '{name}' already uses the EXTERNAL deployment controller",
            "configure it (README, 'Service configuration') and deploy it directly; a service without task set "
            "gets a first deployment from the 'network' option",
        )
    if controller not in ADOPTABLE:
        raise _fail(f"service '{name}' uses the {controller} controller", "only ECS and CODE_DEPLOY can be adopted")
    source = service
    if not service.get("taskDefinition"):  # CODE_DEPLOY: the primary task set carries them
        source = next((ts for ts in service.get("taskSets") or [] if ts.get("status") == "PRIMARY"), service)
    balancers = [lb for lb in source.get("loadBalancers") or [] if lb.get("targetGroupArn")]
    if len(balancers) != 1:
        raise _fail(
            f"service '{name}' has {len(balancers)} target groups; adoption needs exactly one",
            "a task set registers with one target group; adopt services behind one Application Load Balancer "
            "target group",
        )
    awsvpc = (source.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if not awsvpc:
        raise _fail(
            f"service '{name}' does not use the awsvpc network mode",
            "the first task set needs subnets and security groups: move the service to awsvpc first",
        )
    network: dict[str, Any] = {
        "subnets": awsvpc["subnets"],
        "securityGroups": awsvpc.get("securityGroups") or [],
        "assignPublicIp": awsvpc.get("assignPublicIp") or "DISABLED",
    }
    if source.get("capacityProviderStrategy"):
        network["capacityProviderStrategy"] = source["capacityProviderStrategy"]
    else:
        network["launchType"] = source.get("launchType") or "FARGATE"
    if source.get("platformVersion") and source.get("platformVersion") != "LATEST":
        network["platformVersion"] = source["platformVersion"]
    return OldService(
        name=name,
        arn=service["serviceArn"],
        controller=controller,
        desiredCount=int(service.get("desiredCount", 1)),
        taskDefinition=source["taskDefinition"],
        targetGroupArn=balancers[0]["targetGroupArn"],
        containerName=balancers[0]["containerName"],
        containerPort=balancers[0].get("containerPort"),
        network=NetworkConfig.model_validate(network),
    )


def parse_image(image: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of an ECR image reference ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/repo:tag``."""
    host, _, rest = image.partition("/")
    if ".dkr.ecr." not in host or not rest:
        raise _fail(
            f"image '{image}' is not in Amazon ECR",
            "this tool deploys ECR images (pinned by digest): push the image to ECR and deploy it there first",
        )
    if "@" in rest:
        repository, _, digest = rest.partition("@")
        return repository, None, digest
    repository, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return repository, tag or "latest", None


def plan(
    old: OldService,
    definition: dict[str, Any],
    production: RuleSnapshot,
    test: RuleSnapshot,
    new_name: str,
    cluster: str,
    extra: dict[str, Any],
) -> AdoptionPlan:
    """The new service's configuration, checked against the live rules (pure)."""
    production_groups = serving_groups(production)
    if production_groups != {old.targetGroupArn}:
        raise _fail(
            f"the production rule forwards to {sorted(production_groups) or 'nothing'}, not only to the old "
            f"service's target group {old.targetGroupArn}",
            "pass the rule that sends production traffic to the old service (--production-rule)",
        )
    test_groups = elbv2.receiving(elbv2.forward_weights(test.actions, test.ruleArn))
    if len(test_groups) != 1 or old.targetGroupArn in test_groups:
        raise _fail(
            f"the test rule forwards to {sorted(test_groups) or 'nothing'}",
            "point the test rule at one idle target group (same port and health check as the old one), "
            "which the new service's first task set will use",
        )
    idle = next(iter(test_groups))
    container = next((c for c in definition["containerDefinitions"] if c["name"] == old.containerName), None)
    if container is None:
        raise _fail(f"task definition {old.taskDefinition} has no container '{old.containerName}'", "check the service")
    repository, tag, digest = parse_image(container["image"])
    document: dict[str, Any] = {
        "cluster": cluster,
        "service": new_name,
        "containerName": old.containerName,
        "repository": repository,
        "productionRuleArn": production.ruleArn,
        "testRuleArn": test.ruleArn,
        "targetGroupArns": [old.targetGroupArn, idle],
        "network": old.network.dump(),
        "taskDefinition": old.taskDefinition,
    }
    if old.containerPort:
        document["containerPort"] = old.containerPort
    document.update(extra)
    try:
        config = ServiceConfig.model_validate(document)
    except ValidationError as error:
        raise UsageError(f"the new service configuration is invalid: {error}", "fix --config") from error
    return AdoptionPlan(
        oldService=old.name,
        newService=new_name,
        image=container["image"],
        repository=repository,
        tag=tag,
        digest=digest,
        config=config,
    )


class Adopter:
    """The two AWS-facing halves of ``bluegreen adopt``, on top of an :class:`~bluegreen_cli.operator.Operator`."""

    def __init__(self, operator: Any) -> None:
        self.operator = operator
        self.ecs = operator.clients.ecs
        self.elbv2 = operator.clients.elbv2

    def _service(self, cluster: str, name: str) -> dict[str, Any] | None:
        try:
            services = self.ecs.describe_services(cluster=cluster, services=[name])["services"]
        except ClientError as error:
            if error_code(error) == "ClusterNotFoundException":
                raise UsageError(f"cluster '{cluster}' not found", "check --cluster") from error
            raise
        return next((s for s in services if s.get("status") == "ACTIVE"), None)

    def start(
        self,
        service: str,
        cluster: str,
        production_rule: str,
        test_rule: str,
        new_name: str | None = None,
        tag: str | None = None,
        extra: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> str:
        described = self._service(cluster, service)
        if described is None:
            raise UsageError(f"service '{service}' not found in cluster '{cluster}'", "check the names")
        old = describe_old(described)
        definition = self.ecs.describe_task_definition(taskDefinition=old.taskDefinition)["taskDefinition"]
        production = elbv2.describe_rule(self.elbv2, production_rule)
        test = elbv2.describe_rule(self.elbv2, test_rule)
        new_name = new_name or f"{service}{SUFFIX}"
        current = self._service(cluster, new_name)
        if current is not None and (current.get("deploymentController") or {}).get("type") != "EXTERNAL":
            raise CliError(f"service '{new_name}' exists and is not EXTERNAL", "pass another --new-name")
        if current is not None and self._live_task_sets(cluster, new_name):
            raise CliError(
                f"service '{new_name}' already has a task set: its first deployment has run",
                f"bluegreen status {new_name}; then bluegreen adopt {service} --cluster {cluster} --confirm",
            )

        adoption = plan(old, definition, production, test, new_name, cluster, extra or {})
        idle = adoption.config.targetGroupArns[1]
        registered = [d for d in elbv2.target_health(self.elbv2, idle) if d["TargetHealth"]["State"] != "draining"]
        if registered:
            raise CliError(
                f"the idle target group {idle} has registered targets ({elbv2.describe_health(registered)})",
                "deregister them (or use an empty target group) so only the new service's task set registers there",
            )
        release_tag = tag or adoption.tag or self._tag_of(adoption.repository, adoption.digest or "")

        # The service configuration document (written before the service, so a rerun finds both).
        name = parameter_name(new_name)
        document = adoption.config.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        text = json.dumps(document, indent=2)
        self.operator.print(f"Service configuration {name}:\n{text}")
        existing = self._parameter(name)
        if existing is not None and json.loads(existing) != document and not overwrite:
            raise CliError(f"SSM parameter {name} exists with another configuration", "pass --overwrite to replace it")
        if existing is None or overwrite:
            self.operator.clients.ssm.put_parameter(Name=name, Type="String", Value=text, Overwrite=overwrite)

        if current is None:
            self.ecs.create_service(
                cluster=cluster,
                serviceName=new_name,
                desiredCount=old.desiredCount,
                deploymentController={"type": "EXTERNAL"},
                tags=[{"key": "bluegreen:adopted-from", "value": old.arn}],
            )
            self.operator.print(f"Created EXTERNAL service {new_name} (no task set) in {cluster}.")
        arn = self.operator.deploy(new_name, release_tag)
        self.operator.print(
            f"First deployment of {new_name} started: its task set starts behind {idle}; production moves to it "
            f"once it is healthy. When it has succeeded: bluegreen adopt {service} --cluster {cluster} --confirm"
        )
        return arn

    def confirm(self, service: str, cluster: str, new_name: str | None = None) -> int:
        new_name = new_name or f"{service}{SUFFIX}"
        config = self.operator.load_config(new_name)
        old = self._service(cluster, service)
        if old is None:
            raise UsageError(f"service '{service}' not found in cluster '{cluster}'", "it may already be deleted")
        # Every production route (listener rules or listeners) must forward only to the new service
        groups = set().union(
            *(serving_groups(r) for r in routes.describe_all(self.elbv2, config.production_route_arns()))
        )
        new_groups = {
            (ts.get("loadBalancers") or [{}])[0].get("targetGroupArn") for ts in self._live_task_sets(cluster, new_name)
        }
        old_group = describe_old(old).targetGroupArn
        if not groups or not groups <= new_groups or old_group in groups:
            raise CliError(
                f"production does not forward only to {new_name}'s task set yet (it forwards to "
                f"{sorted(groups) or 'nothing'}); {service} keeps running",
                f"wait for the first deployment of {new_name} to succeed (bluegreen status {new_name})",
            )
        unhealthy = [g for g in groups if elbv2.healthy_count(elbv2.target_health(self.elbv2, g)) == 0]
        if unhealthy:
            raise CliError(f"{new_name}'s target group {unhealthy[0]} has no healthy targets", "nothing was changed")
        self.ecs.update_service(cluster=cluster, service=service, desiredCount=0)
        self.operator.print(
            f"{service} scaled to 0; production is on {new_name}. Delete {service} (and remove it from your IaC) "
            f"when you no longer need it; deploy with: bluegreen deploy {new_name} TAG"
        )
        return 0

    def _live_task_sets(self, cluster: str, name: str) -> list[dict[str, Any]]:
        # DescribeServices lists the task sets (DescribeTaskSets refuses a call without their ids).
        services = self.ecs.describe_services(cluster=cluster, services=[name])["services"]
        task_sets = (services[0].get("taskSets") or []) if services else []
        return [ts for ts in task_sets if ts.get("status") in ("PRIMARY", "ACTIVE")]

    def _parameter(self, name: str) -> str | None:
        try:
            return self.operator.clients.ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise

    def _tag_of(self, repository: str, digest: str) -> str:
        """A tag that points at ``digest`` (an execution names its release by tag)."""
        try:
            details = self.operator.clients.ecr.describe_images(
                repositoryName=repository, imageIds=[{"imageDigest": digest}]
            )["imageDetails"]
        except ClientError as error:
            raise CliError(
                f"image {repository}@{digest} not found in ECR ({error_code(error)})", "pass --tag"
            ) from error
        tags = sorted(details[0].get("imageTags") or []) if details else []
        if not tags:
            raise CliError(f"image {repository}@{digest} has no tag", "tag it in ECR, or pass --tag")
        return tags[0]
