"""The AWS reads of ``bluegreen doctor`` (read-only): they fill :class:`~bluegreen_cli.doctor.ServiceFacts`.

Every call here is a Describe/Get/List or ``iam:SimulatePrincipalPolicy``; nothing is changed. The checks are
in :mod:`bluegreen_cli.doctor`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from rich import box
from rich.table import Table

from bluegreen.aws import routes
from bluegreen.aws.clients import error_code
from bluegreen.aws.config import parameter_name
from bluegreen.domain import clock
from bluegreen.domain.errors import BlueGreenError
from bluegreen.domain.hooks import LambdaHook
from bluegreen.domain.models import ServiceConfig

from .doctor import (
    Account,
    AlarmFacts,
    Check,
    HookFacts,
    ImageFacts,
    Permission,
    PermissionResult,
    RouteFacts,
    ServiceFacts,
    TargetGroupFacts,
    Workload,
    exit_status,
    required_permissions,
    run_checks,
)

STYLES = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}


class Reader:
    """Reads what the checks need through the operator's session (``--profile``, ``--region``, endpoint)."""

    def __init__(self, operator: Any, stack: str) -> None:
        self.operator = operator
        self.clients = operator.clients
        self.session = operator.clients.session
        self.stack = stack
        self._made: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        if name not in self._made:
            self._made[name] = self.session.client(name)
        return self._made[name]

    # --- the service -----------------------------------------------------------------------------------------
    def facts(self, config: ServiceConfig) -> ServiceFacts:
        facts = ServiceFacts(
            service=config.service,
            cluster=config.cluster,
            targetGroupArns=list(config.targetGroupArns),
            healthWaitTimeoutSeconds=config.healthWaitTimeoutSeconds,
            bakeSeconds=config.bakeSeconds,
            now=clock.now(),
        )
        services = self.clients.ecs.describe_services(cluster=config.cluster, services=[config.service])
        active = [s for s in services.get("services", []) if s.get("status") == "ACTIVE"]
        if not active:
            facts.exists = False
            return facts
        service = active[0]
        facts.deploymentController = (service.get("deploymentController") or {}).get("type", "ECS")
        task_sets = service.get("taskSets") or []
        facts.taskSets = [str(ts.get("status")) for ts in task_sets]
        primary = next((ts for ts in task_sets if ts.get("status") == "PRIMARY"), None)
        definition = self._definition(primary["taskDefinition"]) if primary else {}
        facts.routes = [self._route(arn, "production") for arn in config.production_route_arns()]
        facts.routes.append(self._route(config.test_route_arn(), "test"))
        facts.targetGroups = [self._target_group(arn) for arn in config.targetGroupArns]
        facts.alarms = self._alarms(config.alarmNames)
        hooks = sorted({h.functionArn for h in config.hooks.all() if isinstance(h, LambdaHook)})
        facts.hooks = [self._hook(arn) for arn in hooks]
        facts.images = self._images(config, definition)
        workload = Workload(
            taskDefinitionFamily=definition.get("family") or config.taskDefinition,
            nextRevision=int(definition.get("revision") or 0) + 1,
            taskRoles=sorted({definition[f] for f in ("taskRoleArn", "executionRoleArn") if definition.get(f)}),
            parameterName=parameter_name(config.service),
            lambdaHooks=hooks,
            routes={route.arn: routes.kind_of(route.arn) for route in facts.routes if route.exists},
        )
        repositories = sorted({config.repository, *config.repositories.values()})
        needed = required_permissions(
            self.account(), config.cluster, config.service, repositories, config.alarmNames, workload
        )
        facts.permissions = self.simulate(needed)
        return facts

    def _definition(self, arn: str) -> dict[str, Any]:
        try:
            return dict(self.clients.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])
        except ClientError:
            return {}

    def _route(self, arn: str, role: str) -> RouteFacts:
        try:
            snapshot = routes.describe(self.clients.elbv2, arn)
        except BlueGreenError as error:
            return RouteFacts(arn=arn, role=role, exists=False, error=error.message)  # type: ignore[arg-type]
        forwards = [a for a in snapshot.actions if a.get("Type") == "forward"]
        groups: dict[str, int] = {}
        stickiness: dict[str, Any] = {}
        for action in forwards:
            forward = action.get("ForwardConfig") or {}
            for group in forward.get("TargetGroups") or []:
                groups[group["TargetGroupArn"]] = int(group.get("Weight", 1))
            if action.get("TargetGroupArn") and not forward.get("TargetGroups"):
                groups[action["TargetGroupArn"]] = 1
            stickiness = forward.get("TargetGroupStickinessConfig") or stickiness
        return RouteFacts(
            arn=arn,
            role=role,  # type: ignore[arg-type]
            targetGroups=groups,
            stickiness=bool(stickiness.get("Enabled")),
            stickinessSeconds=stickiness.get("DurationSeconds"),
        )

    def _target_group(self, arn: str) -> TargetGroupFacts:
        elbv2 = self.clients.elbv2
        try:
            group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
            attributes = elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        except (ClientError, IndexError):
            return TargetGroupFacts(arn=arn, exists=False)
        values = {a["Key"]: a["Value"] for a in attributes}
        delay = values.get("deregistration_delay.timeout_seconds")
        return TargetGroupFacts(
            arn=arn,
            intervalSeconds=group.get("HealthCheckIntervalSeconds"),
            healthyThreshold=group.get("HealthyThresholdCount"),
            deregistrationDelaySeconds=int(delay) if delay is not None else None,
        )

    def _alarms(self, names: list[str]) -> list[AlarmFacts]:
        if not names:
            return []
        found: dict[str, dict[str, Any]] = {}
        cloudwatch = self.client("cloudwatch")
        for start in range(0, len(names), 100):
            response = cloudwatch.describe_alarms(
                AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
                found[alarm["AlarmName"]] = alarm
        return [
            AlarmFacts(
                name=name,
                exists=name in found,
                state=found.get(name, {}).get("StateValue"),
                stateSince=found.get(name, {}).get("StateUpdatedTimestamp"),
            )
            for name in names
        ]

    def _hook(self, arn: str) -> HookFacts:
        try:
            self.client("lambda").get_function_configuration(FunctionName=arn)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return HookFacts(functionArn=arn, exists=False)
            raise
        return HookFacts(functionArn=arn)

    def _images(self, config: ServiceConfig, definition: dict[str, Any]) -> list[ImageFacts]:
        images = []
        for container in definition.get("containerDefinitions") or []:
            repository = config.repository_of(container.get("name", ""))
            if not repository:
                continue
            image = str(container.get("image", ""))
            if "@" in image:
                reference, image_id = image.split("@", 1)[1], {"imageDigest": image.split("@", 1)[1]}
            else:
                reference = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else "latest"
                image_id = {"imageTag": reference}
            images.append(self._image(repository, reference, image_id))
        if not images:  # no task set yet: the repository must exist at least
            images.append(self._image(config.repository, "(no running image)", None))
        return images

    def _image(self, repository: str, reference: str, image_id: dict[str, str] | None) -> ImageFacts:
        ecr = self.clients.ecr
        try:
            if image_id is None:
                ecr.describe_images(repositoryName=repository, maxResults=1)
            else:
                ecr.describe_images(repositoryName=repository, imageIds=[image_id])
        except ClientError as error:
            code = error_code(error)
            if code == "RepositoryNotFoundException":
                return ImageFacts(repository=repository, reference=reference, repositoryExists=False, found=False)
            if code == "ImageNotFoundException":
                return ImageFacts(repository=repository, reference=reference, found=False)
            raise
        return ImageFacts(repository=repository, reference=reference)

    # --- IAM ---------------------------------------------------------------------------------------------------
    def account(self) -> Account:
        arn = self.clients.sts.get_caller_identity()["Arn"]
        _, partition, _, _, account, _ = arn.split(":", 5)
        return Account(partition=partition, region=self.session.region_name or "us-east-1", account=account)

    def function_roles(self) -> dict[str, str]:
        """Logical id -> role ARN of each function of the stack."""
        names: dict[str, str] = {}
        try:
            paginator = self.client("cloudformation").get_paginator("list_stack_resources")
            for page in paginator.paginate(StackName=self.stack):
                for resource in page.get("StackResourceSummaries", []):
                    if resource.get("ResourceType") == "AWS::Lambda::Function":
                        names[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
        except ClientError as error:
            if error_code(error) != "ValidationError":
                raise
            # No such stack (e.g. the emulator deploys no CloudFormation stack): SAM names the functions
            # <stack>-<LogicalId>[-<suffix>].
            for page in self.client("lambda").get_paginator("list_functions").paginate():
                for function in page.get("Functions", []):
                    name = function["FunctionName"]
                    if name.startswith(f"{self.stack}-"):
                        logical = name[len(self.stack) + 1 :].split("-", 1)[0]
                        names.setdefault(logical, name)
        roles = {}
        for logical, name in names.items():
            roles[logical] = self.client("lambda").get_function_configuration(FunctionName=name)["Role"]
        return roles

    def simulate(self, needed: list[Permission]) -> list[PermissionResult]:
        roles = self.function_roles()
        iam = self.client("iam")
        results = []
        for permission in needed:
            role = roles.get(permission.function)
            if role is None:
                results.append(PermissionResult(permission=permission))
                continue
            entries = [
                {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
                for key, value in sorted(permission.context.items())
            ]
            try:
                answer = iam.simulate_principal_policy(
                    PolicySourceArn=role,
                    ActionNames=[permission.action],
                    ResourceArns=[permission.resource],
                    ContextEntries=entries,
                )
            except ClientError as error:
                results.append(
                    PermissionResult(permission=permission, role=role, decision="error", error=str(error)[:300])
                )
                continue
            decisions = [r.get("EvalDecision", "implicitDeny") for r in answer.get("EvaluationResults", [])]
            decision = "allowed" if decisions and all(d == "allowed" for d in decisions) else (decisions or ["?"])[0]
            results.append(PermissionResult(permission=permission, role=role, decision=decision))
        return results


def table(service: str, checks: list[Check]) -> Table:
    failed = sum(1 for c in checks if c.result == "FAIL")
    title = f"bluegreen doctor {service}: " + (f"{failed} check(s) failed" if failed else "all checks pass")
    view = Table(title=title, box=box.SIMPLE, title_justify="left")
    view.add_column("Check", no_wrap=True)
    view.add_column("Result", no_wrap=True)
    view.add_column("Detail")
    view.add_column("How to fix")
    for check in checks:
        view.add_row(check.name, check.result, check.detail, check.fix or "-", style=STYLES.get(check.result))
    return view


def doctor(operator: Any, service: str, stack: str) -> int:
    """Read, check, print one table; 0 when every check passes (warnings allowed), 1 when any fails."""
    config = operator.load_config(service)
    checks = run_checks(Reader(operator, stack).facts(config))
    operator.out.print(table(service, checks), soft_wrap=False)
    return exit_status(checks)
