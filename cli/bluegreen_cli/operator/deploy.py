"""``bluegreen deploy`` and ``bluegreen plan``: start a release, or show what it would change."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bluegreen.aws import ecr
from bluegreen.domain.errors import (
    BlueGreenError,
    ImageNotFound,
    MutableTagRefused,
)

from ..common import (
    CliError,
    UsageError,
)
from ..release_args import label as release_label
from .base import _NAME_UNSAFE, console_url, shorten

if TYPE_CHECKING:
    from bluegreen.domain.models import ExecutionInput, ServiceConfig
    from bluegreen.domain.plan import Plan


class DeployCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    # --- deploy ---------------------------------------------------------------------------------------
    def deploy(
        self, service: str, tag: str | None = None, digest: str | None = None, release: dict[str, Any] | None = None
    ) -> str:
        if release and "imageTag" not in release:  # Images, taskDefinition or taskDefinitionOverrides
            return self._deploy_release(service, release)
        if release:
            tag, digest = release["imageTag"], release.get("imageDigest")
        if not tag:
            raise UsageError("nothing to deploy", "give TAG, --image, --task-definition or an override option")
        from pydantic import ValidationError

        from bluegreen.domain.models import ExecutionInput
        from bluegreen.steps.validate import check_tag

        try:
            ExecutionInput(service=service, imageTag=tag, imageDigest=digest)
        except ValidationError as error:
            problem = error.errors()[0]
            field_name = ".".join(str(p) for p in problem["loc"])
            text = str(problem["msg"]).removeprefix("Value error, ")
            raise UsageError(
                f"invalid {field_name} {problem.get('input')!r}: {text}", "see bluegreen deploy --help"
            ) from error
        config = self.load_config(service)
        try:
            check_tag(config, tag)
        except MutableTagRefused as error:
            raise UsageError(
                f"tag '{tag}' is a moving tag and deployments must name one release",
                "deploy an immutable tag (a version or commit id), or set allowMutableTags in its configuration",
            ) from error
        try:
            resolved, _ = ecr.resolve_digest(self.clients.ecr, config.repository, tag)
        except ImageNotFound as error:
            raise UsageError(
                f"image {config.repository}:{tag} not found in ECR (repository '{config.repository}')",
                f"push it first, or check the tag (aws ecr describe-images --repository-name {config.repository})",
            ) from error
        if digest and digest != resolved:
            raise UsageError(
                f"tag {tag} points to {resolved}, not to {digest}",
                "the tag was moved after the build: deploy the right tag, or omit --digest",
            )
        holder = self.store.lock_holder(service)
        if holder and self._status_of(holder) == "RUNNING":
            raise CliError(
                f"'{service}' is already being deployed by {holder}",
                f"wait for it (bluegreen follow {holder}) or stop it, then deploy again",
            )
        requested_by = self.caller_arn[:200]
        request = ExecutionInput(service=service, imageTag=tag, imageDigest=resolved, requestedBy=requested_by)
        arn = self.clients.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=self.execution_name(service, tag),
            input=json.dumps(request.model_dump(mode="json", exclude_none=True)),
        )["executionArn"]
        self.print(f"Deploying {service}: {config.repository}:{tag} ({resolved}), requested by {requested_by}")
        self.print(f"Execution: {arn}")
        self.print(f"Console:   {console_url(arn)}")
        return arn

    def _deploy_release(self, service: str, release: dict[str, Any]) -> str:
        """Start a whole release; Validate checks it (bluegreen plan shows it first)."""
        from pydantic import ValidationError

        from bluegreen.aws.release import release_kind
        from bluegreen.domain.models import ExecutionInput

        requested_by = self.caller_arn[:200]
        raw = {"service": service, **release, "requestedBy": requested_by}
        try:
            release_kind(raw)
            ExecutionInput.model_validate(raw)
        except BlueGreenError as error:
            raise UsageError(shorten(error.message, 400), "see bluegreen deploy --help") from error
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise UsageError(f"invalid {where}: {problem['msg']}", "see bluegreen deploy --help") from error
        self.load_config(service)
        holder = self.store.lock_holder(service)
        if holder and self._status_of(holder) == "RUNNING":
            raise CliError(
                f"'{service}' is already being deployed by {holder}",
                f"wait for it (bluegreen follow {holder}) or stop it, then deploy again",
            )
        arn = self.clients.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=self.execution_name(service, release_label(release)),
            input=json.dumps(raw),
        )["executionArn"]
        self.print(f"Deploying {service}: {', '.join(release)} ({release_label(release)}), requested by {requested_by}")
        self.print(f"Execution: {arn}")
        self.print(f"Console:   {console_url(arn)}")
        return arn

    # --- plan ---------------------------------------------------------------------------------
    def plan(self, service: str, release: dict[str, Any]) -> int:
        """What the release would change, computed like Validate does; changes nothing."""
        from pydantic import ValidationError

        from bluegreen.aws.release import release_kind
        from bluegreen.domain.models import ExecutionInput
        from bluegreen.domain.plan import render as render_plan

        config = self.load_config(service)
        raw = {"service": service, **release}
        try:
            kind = release_kind(raw)
            request = ExecutionInput.model_validate(raw)
            plan = self._plan(config, request, kind)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise UsageError(f"invalid {where}: {problem['msg']}", "see bluegreen plan --help") from error
        except BlueGreenError as error:
            raise CliError(f"{type(error).__name__}: {shorten(error.message, 600)}", "nothing was changed") from error
        self.print(render_plan(plan))
        return 0

    def _plan(self, config: ServiceConfig, request: ExecutionInput, kind: str) -> Plan:
        from bluegreen.aws import ecs, elbv2, release, routes

        service = ecs.describe_service(self.clients.ecs, config)
        production = routes.describe_all(self.clients.elbv2, config.production_route_arns())
        groups = elbv2.receiving(routes.merged_weights(production))
        if len(groups) != 1 or not groups <= set(config.targetGroupArns):
            raise CliError("the production rule does not forward to exactly one configured target group", "")
        blue_group = next(iter(groups))
        green_group = next(arn for arn in config.targetGroupArns if arn != blue_group)
        serving = ecs.task_sets_on(ecs.live_task_sets(self.clients.ecs, config), blue_group)
        if len(serving) != 1:
            raise CliError(f"{len(serving)} task sets serve production; expected one", "see bluegreen status")
        registry = release.Registry(ecr=self.clients.ecr, ecs=self.clients.ecs)
        _, plan, _ = release.plan_release(
            registry, config, request, kind, service, serving[0], blue_group, green_group, self.role_pattern()
        )
        return plan

    def role_pattern(self) -> str:
        """The stack's TaskRoleNamePattern (BLUEGREEN_TASK_ROLE_PATTERN overrides; '*' if unreadable)."""
        value = os.environ.get("BLUEGREEN_TASK_ROLE_PATTERN")
        if value:
            return value
        try:
            stacks = self.clients.cloudformation.describe_stacks(StackName=self.outputs.stack)["Stacks"]
        except ClientError:
            return "*"
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])}
        return parameters.get("TaskRoleNamePattern") or "*"

    @staticmethod
    def execution_name(service: str, tag: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        base = _NAME_UNSAFE.sub("-", f"{service}-{tag}")[:56]
        return f"{base}-{stamp}-{secrets.token_hex(2)}"
