"""The operator commands of ``bluegreen``: deploy, status, history, gates and follow.

Argument parsing lives in :mod:`bluegreen_cli.main`; everything here takes its AWS
clients, the deployments :class:`~bluegreen.store.Store` and the output console
as arguments, so tests (and the emulator) can substitute them.

Errors a user can act on are raised as :class:`~bluegreen_cli.common.CliError` (exit
status 1) or :class:`~bluegreen_cli.common.UsageError` (exit status 2), each with a
one-line message and a hint.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bluegreen import clock, ecr
from bluegreen.aws import error_code
from bluegreen.config import config_prefix, parameter_name
from bluegreen.decisions import ACTIONS, decide
from bluegreen.errors import (
    AlreadyDecided,
    BlueGreenError,
    GateExpired,
    ImageNotFound,
    InvalidServiceConfig,
    MutableTagRefused,
    UnknownGate,
    UnknownService,
)
from bluegreen.gates import kind_label, status_past
from bluegreen.release_models import RELEASE_FIELDS
from bluegreen.steps import BAKE, GATE_STATES, STATES, WAIT_HEALTHY, WATCH_STEP
from bluegreen.store import Store

# Start-up (#16): what `bluegreen status` and every command need is imported above; a module that only some
# commands need (the models and Validate's rules for deploy, the history for stats, Powertools parameters for
# reading a configuration, rich's live view for follow) is imported in the command that uses it.
if TYPE_CHECKING:
    from rich.console import Group

    from bluegreen.gates import Gate
    from bluegreen.models import ExecutionInput, ServiceConfig
    from bluegreen.plan import Plan

from .common import (
    DEFAULT_INTERVAL,
    DEFAULT_STACK,
    FAILED_EVENTS_ENV,
    FAILED_EVENTS_OUTPUT,
    STACK_ENV,
    STATE_MACHINE_ENV,
    STATE_MACHINE_OUTPUT,
    TABLE_ENV,
    TABLE_OUTPUT,
    CliError,
    UsageError,
)
from .release_args import label as release_label

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# States that wait on a gate the user can answer (the gate id comes with the state's TaskSubmitted event):
# GATE_STATES, from the steps table (bluegreen.steps), which a test ties to the state machine.
# The gate states whose function opens the gate after the task starts (a note shows until it is open).
OPENING_STATES = frozenset(state for state, step in STATES.items() if step.gate and step.module == "open_gate")


@dataclass(frozen=True)
class TimedWait:
    """A state that lasts up to a configured time: shown as a progress bar on a terminal."""

    label: str
    note: str  # for plain output; {duration} is the configured length
    seconds: Callable[[dict[str, Any]], Any]  # from the service configuration the execution runs with
    suffix: str  # {left} is the time left


TIMED_WAITS = {
    WAIT_HEALTHY.state: TimedWait(
        "waiting for healthy green",
        "waiting for green to become healthy (timeout {duration})",
        lambda config: config.get("healthWaitTimeoutSeconds"),
        "timeout in {left}",
    ),
    BAKE.state: TimedWait(
        "bake",
        "baking {duration} with production on green",
        lambda config: config.get("bakeSeconds"),
        "{left} left",
    ),
    WATCH_STEP.state: TimedWait(
        "traffic step",
        "watching this traffic step for {duration}",
        lambda config: (config.get("trafficShift") or {}).get("intervalSeconds"),
        "next step in {left}",
    ),
}
DONE_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


# --- AWS access --------------------------------------------------------------------------------
def _client(service: str) -> cached_property:
    """A client of the session's for ``service``, created on first use."""
    return cached_property(lambda self: self.session.client(service))


class Clients:
    """boto3 clients created on first use from one session (``--profile`` / ``--region``)."""

    sfn = _client("stepfunctions")
    ssm = _client("ssm")
    ecr = _client("ecr")
    ecs = _client("ecs")
    elbv2 = _client("elbv2")
    sts = _client("sts")
    cloudformation = _client("cloudformation")
    sqs = _client("sqs")  # bluegreen events replay: the failed-events queue
    lambda_ = _client("lambda")  # bluegreen events replay: re-delivers each kept event to its function

    def __init__(self, session: Any) -> None:
        self.session = session

    @cached_property
    def dynamodb(self) -> Any:
        return self.session.resource("dynamodb")


class StackOutputs:
    """The stack's outputs, read once; ``BLUEGREEN_*`` environment variables take precedence."""

    def __init__(self, cloudformation: Callable[[], Any], stack: str) -> None:
        self._cloudformation = cloudformation
        self.stack = stack
        self._outputs: dict[str, str] | None = None

    def get(self, key: str, env: str) -> str:
        value = os.environ.get(env)
        if value:
            return value
        if self._outputs is None:
            try:
                stacks = self._cloudformation().describe_stacks(StackName=self.stack)["Stacks"]
            except ClientError as error:
                if error_code(error) == "ValidationError" and "does not exist" in str(error):
                    raise UsageError(
                        f"stack '{self.stack}' not found",
                        f"pass --stack (or set {STACK_ENV}), or set {STATE_MACHINE_ENV} and {TABLE_ENV}",
                    ) from error
                raise
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        if key not in self._outputs:
            raise CliError(
                f"stack '{self.stack}' has no output {key}",
                f"is it the ecs-bluegreen stack? Otherwise set {env}",
            )
        return self._outputs[key]


# --- execution history ---------------------------------------------------------------------------
@dataclass
class StateVisit:
    name: str
    entered: datetime
    input: dict[str, Any] | None
    gate: dict[str, Any] | None = None  # {"gateId", "kind"} of a waitForTaskToken gate state
    exited: datetime | None = None


@dataclass
class ExecutionView:
    """What an execution did so far, from DescribeExecution and GetExecutionHistory."""

    arn: str
    status: str
    started: datetime
    stopped: datetime | None
    request: dict[str, Any]
    visits: list[StateVisit] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None

    @property
    def service(self) -> str:
        return str(self.request.get("service", "?"))

    @property
    def tag(self) -> str:
        if self.request.get("imageTag"):
            return str(self.request["imageTag"])
        return release_label(self.request) if any(k in self.request for k in RELEASE_FIELDS) else "?"

    @property
    def current(self) -> StateVisit | None:
        if self.status != "RUNNING" or not self.visits or self.visits[-1].exited:
            return None
        return self.visits[-1]

    def config(self) -> dict[str, Any]:
        """The service configuration the execution runs with (Validate puts it in ``context.config``)."""
        for visit in reversed(self.visits):
            config = ((visit.input or {}).get("context") or {}).get("config")
            if isinstance(config, dict):
                return config
        return {}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_history(description: dict[str, Any], events: list[dict[str, Any]]) -> ExecutionView:
    view = ExecutionView(
        arn=description["executionArn"],
        status=description["status"],
        started=description["startDate"],
        stopped=description.get("stopDate"),
        request=_json(description.get("input")) or {},
        error=description.get("error"),
        cause=description.get("cause"),
        output=_json(description.get("output")),
    )
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            view.visits.append(StateVisit(details.get("name", "?"), event["timestamp"], _json(details.get("input"))))
        elif kind.endswith("StateExited") and view.visits:
            view.visits[-1].exited = event["timestamp"]
        elif kind == "TaskSubmitted" and view.visits:
            # lambda:invoke.waitForTaskToken: the gate function's result ({"gateId", "kind"}) is the Payload.
            output = _json(event.get("taskSubmittedEventDetails", {}).get("output")) or {}
            payload = _json(output.get("Payload")) if isinstance(output, dict) else None
            if isinstance(payload, dict) and payload.get("gateId"):
                view.visits[-1].gate = {"gateId": payload["gateId"], "kind": payload.get("kind")}
        elif kind == "ExecutionFailed":
            details = event.get("executionFailedEventDetails", {})
            view.error = view.error or details.get("error")
            view.cause = view.cause or details.get("cause")
    return view


# --- formatting ------------------------------------------------------------------------------------
def console_url(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: Any, now: datetime | None = None) -> str:
    """``2025-06-16 09:54 UTC (5m ago)`` / ``(in 2h10m)``."""
    moment = _parse_time(value)
    if moment is None:
        return "-"
    now = now or clock.now()
    delta = (now - moment).total_seconds()
    relative = f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({relative})"


def identity(requested_by: Any) -> str:
    """``user/jane`` or ``assumed-role/Deployer/jane`` for an IAM or STS ARN; anything else as is."""
    text = str(requested_by or "unknown")
    if text.startswith("arn:") and text.count(":") >= 5:
        return text.split(":", 5)[5]
    return text


def shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_console(stderr: bool = False) -> Console:
    """Colours only on a terminal; elsewhere plain text, wide enough for ARNs and tables."""
    console = Console(stderr=stderr, highlight=False, markup=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, markup=False, emoji=False, width=160)
    return console


_NEEDS_REASON = ("reject", "rollback")


def _gate_commands(service: str, kind: str) -> str:
    """The commands that answer a gate of ``kind``, from the actions of :mod:`bluegreen.decisions`."""
    actions = [action for action, (kinds, _, _) in ACTIONS.items() if kind in kinds and action != "alarm"]
    return "  |  ".join(
        f"bluegreen {action} {service}" + (" --reason TEXT" if action in _NEEDS_REASON else "") for action in actions
    )


def describe_gate_outcome(gate: Gate) -> str:
    verb = status_past(gate.status)
    who = gate.decidedBy or ""
    by = f" by {who}" if who and who not in ("step-functions", "timeout") else ""
    return f"{verb}{by} at {gate.decidedAt or '?'}"


# --- the operations -----------------------------------------------------------------------------
class Operator:
    def __init__(
        self,
        clients: Any,
        *,
        stack: str = DEFAULT_STACK,
        out: Console | None = None,
        store: Store | None = None,
        state_machine_arn: str | None = None,
        interval: float = DEFAULT_INTERVAL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clients = clients
        self.out = out or make_console()
        self.outputs = StackOutputs(lambda: clients.cloudformation, stack)
        self._store = store
        self._state_machine_arn = state_machine_arn
        self.interval = interval
        self.sleep = sleep

    # --- resolved lazily: each command touches only what it needs ---------------------------------
    @property
    def state_machine_arn(self) -> str:
        if self._state_machine_arn is None:
            self._state_machine_arn = self.outputs.get(STATE_MACHINE_OUTPUT, STATE_MACHINE_ENV)
        return self._state_machine_arn

    @property
    def store(self) -> Store:
        if self._store is None:
            table = self.outputs.get(TABLE_OUTPUT, TABLE_ENV)
            self._store = Store(table=self.clients.dynamodb.Table(table), sfn=self.clients.sfn)
        return self._store

    @cached_property
    def caller_arn(self) -> str:
        return self.clients.sts.get_caller_identity()["Arn"]

    def print(self, *parts: Any, style: str | None = None) -> None:
        self.out.print(*parts, style=style, soft_wrap=True)

    # --- configuration ------------------------------------------------------------------------------
    def load_config(self, service: str) -> ServiceConfig:
        from aws_lambda_powertools.utilities.parameters import SSMProvider
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        from bluegreen.config import load_service_config

        try:
            return load_service_config(service, SSMProvider(boto3_client=self.clients.ssm), max_age=0)
        except UnknownService as error:
            raise self._unknown(service) from error
        except InvalidServiceConfig as error:
            raise CliError(
                f"the configuration of '{service}' is invalid: {shorten(error.message, 300)}",
                f"fix the SSM parameter {parameter_name(service)}",
            ) from error
        except GetParameterError as error:
            raise CliError(f"cannot read {parameter_name(service)}: {error}", "check your AWS credentials") from error

    def _unknown(self, service: str) -> UsageError:
        return UsageError(
            f"unknown service '{service}' (no SSM parameter {parameter_name(service)})",
            "check the name or create its configuration",
        )

    def service_exists(self, service: str) -> bool:
        try:
            self.clients.ssm.get_parameter(Name=parameter_name(service))
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return False
            raise
        return True

    def configured_services(self) -> list[str]:
        prefix = config_prefix()
        names = []
        for page in self.clients.ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix):
            names.extend(p["Name"][len(prefix) :].lstrip("/") for p in page.get("Parameters", []))
        return sorted(names)

    # --- deploy ---------------------------------------------------------------------------------------
    def deploy(
        self, service: str, tag: str | None = None, digest: str | None = None, release: dict[str, Any] | None = None
    ) -> str:
        if release and "imageTag" not in release:  # issue 10: images, taskDefinition or taskDefinitionOverrides
            return self._deploy_release(service, release)
        if release:
            tag, digest = release["imageTag"], release.get("imageDigest")
        if not tag:
            raise UsageError("nothing to deploy", "give TAG, --image, --task-definition or an override option")
        from pydantic import ValidationError

        from bluegreen.models import ExecutionInput
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
        """Issue 10: start a whole release; Validate checks it (bluegreen plan shows it first)."""
        from pydantic import ValidationError

        from bluegreen.models import ExecutionInput
        from bluegreen.release import release_kind

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

    # --- plan (issue 10) ---------------------------------------------------------------------------------
    def plan(self, service: str, release: dict[str, Any]) -> int:
        """What the release would change, computed like Validate does; changes nothing."""
        from pydantic import ValidationError

        from bluegreen.models import ExecutionInput
        from bluegreen.plan import render as render_plan
        from bluegreen.release import release_kind

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
        from bluegreen import ecs, elbv2, release, routes

        service = ecs.describe_service(self.clients.ecs, config)
        production = routes.describe_all(self.clients.elbv2, config.production_route_arns())  # issue #14
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

    def _status_of(self, execution_arn: str) -> str | None:
        try:
            return self.clients.sfn.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return None
            raise

    def current_state(self, execution_arn: str) -> str | None:
        """The state a running execution is in (newest ``StateEntered`` event)."""
        events = self.clients.sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=100)[
            "events"
        ]
        for event in sorted(events, key=lambda e: e["id"], reverse=True):
            if event["type"].endswith("StateEntered"):
                return event.get("stateEnteredEventDetails", {}).get("name")
        return None

    def view(self, execution_arn: str) -> ExecutionView:
        sfn = self.clients.sfn
        description = sfn.describe_execution(executionArn=execution_arn)
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return parse_history(description, events)

    # --- status and history ---------------------------------------------------------------------------
    def _services(self, service: str | None) -> list[str]:
        """The service asked about (refused if unknown), else every configured service."""
        if not service:
            return self.configured_services()
        if not self.service_exists(service) and not self.store.deployments(service, limit=1):
            raise self._unknown(service)
        return [service]

    def status(self, service: str | None = None) -> int:
        names = self._services(service)
        if not names:
            self.print(f"No services are configured under {config_prefix()}.")
            return 0
        table = _table()
        for column in ("Service", "Deployment", "Image", "Requested by", "Since", "Pending gate"):
            table.add_column(column, overflow="fold")
        pending = []
        now = clock.now()
        for name in names:
            latest = next(iter(self.store.deployments(name, limit=1)), None)
            gate = self.store.open_gate_of(name)
            if gate:
                pending.append((name, gate))
            gate_text = f"{gate.gateId} {gate.kind}, expires {when(gate.expiresAt, now)}" if gate else "-"
            if latest is None:
                table.add_row(name, "never deployed", "-", "-", "-", gate_text)
                continue
            running = latest["status"] == "RUNNING"
            since = latest["startedAt"] if running else latest.get("endedAt") or latest["startedAt"]
            table.add_row(
                name,
                self._deployment_state(latest),
                str(latest.get("imageTag", "?")),
                identity(latest.get("requestedBy")),
                when(since, now),
                gate_text,
            )
        self.out.print(table)
        for name, gate in pending:
            self.print(f"{name}: {gate.kind} {gate.gateId} is waiting: {_gate_commands(name, gate.kind)}")
        for line in self._repair_lines(names):  # what lost events left behind, repaired by the reconciler
            self.print(line)
        if service and latest is not None and latest.get("planText"):  # issue 10: what that release changes
            self.print(str(latest["planText"]))
        if service and latest is not None:  # issue 13: the verification hooks' results
            from bluegreen.hooks import hook_lines

            for line in hook_lines(latest):
                self.print(line)
            if latest.get("analysis"):  # issue 13: was green judged by the built-in analysis at all
                self.print(str(latest["analysis"]))
        return 0

    def _repair_lines(self, names: list[str]) -> list[str]:
        """The reconciler's recent repairs (and unseen pushes) of each service, newest first."""
        lines = []
        now = clock.now()
        for name in names:
            try:
                repairs = self.store.repairs_of(name, limit=3)
            except ClientError:  # a table without the reconciler's records (older stack): nothing to show
                continue
            for repair in repairs:
                lines.append(
                    f"{name}: reconciler {when(repair.get('at'), now)}: {repair.get('kind')}: {repair.get('action')}"
                )
        return lines

    # --- bluegreen events replay ------------------------------------------------------------------
    def events_replay(self, dry_run: bool = False) -> int:
        """Re-deliver the events the stack kept after their retries (``--dry-run``: list them)."""
        from .replay import replay

        queue = self.outputs.get(FAILED_EVENTS_OUTPUT, FAILED_EVENTS_ENV)
        report = replay(self.clients.sqs, self.clients.lambda_, queue, dry_run=dry_run)
        if not report.listed and not report.unreadable:
            self.print("No failed events are kept: nothing to replay.")
            return 0
        for failure in report.listed:
            verb = "would replay" if dry_run else "replayed" if failure in report.replayed else "FAILED again"
            self.print(
                f"{verb}: {failure.what} to {failure.function_name} ({failure.kind}, {shorten(failure.error, 160)})"
            )
        for failure, error in report.failed:
            self.print(f"  {failure.function_name} answered: {shorten(error, 300)}", style="red")
        for message_id in report.unreadable:
            self.print(f"left in the queue: message {message_id} is neither an invocation record nor a dead letter")
        if dry_run:
            self.print(f"{len(report.listed)} kept failure(s); run without --dry-run to re-deliver them.")
            return 0
        self.print(f"{len(report.replayed)} replayed and removed, {len(report.failed)} failed again (kept).")
        return 1 if report.failed else 0

    def _deployment_state(self, item: dict[str, Any], with_error: bool = True) -> str:
        if item["status"] != "RUNNING":
            outcome = str(item["status"]).replace("_", " ")
            return f"{outcome} ({item['error']})" if item.get("error") and with_error else outcome
        status = self._status_of(item["executionArn"])
        if status == "RUNNING":
            return f"running: {self.current_state(item['executionArn']) or 'starting'}"
        return (status or "unknown").lower().replace("_", " ")

    def history(self, service: str, limit: int = 10) -> int:
        from bluegreen.hooks import hook_lines

        items = self.store.deployments(service, limit=limit)
        if not items:
            if not self.service_exists(service):
                raise self._unknown(service)
            self.print(f"{service} has not been deployed with bluegreen yet.")
            return 0
        table = _table()
        table.add_column("Started (UTC)", no_wrap=True)
        table.add_column("Image", overflow="fold")
        table.add_column("Outcome", overflow="fold")
        table.add_column("Took", no_wrap=True)
        table.add_column("Requested by", overflow="fold")
        table.add_column("Execution", no_wrap=True)
        table.add_column("Details", no_wrap=True, overflow="ellipsis", max_width=60)
        marks = self.release_marks(items)  # issue #15: live, what --to-previous restores (first in Details)
        for item in items:
            started, ended = _parse_time(item.get("startedAt")), _parse_time(item.get("endedAt"))
            took = duration((ended - started).total_seconds()) if started and ended else "-"
            details = f"{item['error']}: {item.get('cause', '')}" if item.get("error") else ""
            details = details or str(item.get("planSummary") or "")  # issue 10: what the release changed
            mark = marks.get(item["executionArn"])
            details = f"{mark}; {details}" if mark and details else mark or details
            hooks = hook_lines(item)  # issue 13: pass/fail of each hook
            if item.get("analysis"):  # issue 13: "analysis: not judged — N requests < minimum M"
                hooks.insert(0, str(item["analysis"]))
            details = f"{details}; {'; '.join(hooks)}" if hooks and details else details or "; ".join(hooks)
            table.add_row(
                f"{started:%Y-%m-%d %H:%M}" if started else "-",
                str(item.get("imageTag", "?")),
                self._deployment_state(item, with_error=False),
                took,
                identity(item.get("requestedBy")),
                item["executionArn"].rsplit(":", 1)[-1],
                shorten(details, 200),
            )
        self.out.print(table)
        return 0

    # --- gates ------------------------------------------------------------------------------------------
    def answer(self, service: str, action: str, reason: str = "") -> int:
        kinds = ACTIONS[action][0]
        gate = self.store.open_gate_of(service)
        if gate is None or gate.kind not in kinds:
            raise self._refusal(service, action, gate)
        actor = f"iam:{self.caller_arn}"
        try:
            decision = decide(self.store, gate.gateId, action, actor, reason)
        except (AlreadyDecided, GateExpired, UnknownGate) as error:
            raise CliError(shorten(error.message, 400), f"see bluegreen status {service}") from error
        decided = decision.gate
        tag = decided.imageTag or "?"
        self.print(
            {
                "approve": f"Approved {decided.gateId}: {service} {tag} goes to production (swap, then bake).",
                "reject": f"Rejected {decided.gateId}: {service} {tag} is not deployed; green is being deleted.",
                "rollback": f"Rollback of {service} {tag} requested ({decided.gateId}): production goes back to "
                f"the previous task set.",
                "finish": f"Finished {decided.gateId}: the old task set of {service} is being deleted.",
            }[action]
        )
        self.print(f"Follow: bluegreen follow {decided.executionArn}")
        return 0

    def _refusal(self, service: str, action: str, open_gate: Gate | None) -> CliError:
        """Why there is nothing to ``action`` for the service, as precisely as the records allow."""
        latest = next(iter(self.store.deployments(service, limit=1)), None)
        if latest is None and open_gate is None and not self.service_exists(service):
            return self._unknown(service)
        kinds = ACTIONS[action][0]
        wanted = " or ".join(kinds)
        message = {
            "rollback": f"nothing to roll back for '{service}': no bake or keep-old hold is open",
            "finish": f"nothing to finish for '{service}': no keep-old hold is open",
        }.get(action, f"no pending approval for '{service}'")
        past = self._last_gate(latest, kinds) if latest else None
        if past and past.status != "PENDING" and action in ("approve", "reject", "finish"):
            message = (
                f"{past.kind} {past.gateId} of {service} {past.imageTag or ''} was already "
                f"{describe_gate_outcome(past)}"
            )
        elif past and past.status in ("ROLLED_BACK", "ALARM"):
            message += f" ({past.kind} {past.gateId} was already {describe_gate_outcome(past)})"
        if open_gate:
            kind = open_gate.kind
            hint = f"it is waiting at {kind} {open_gate.gateId}: {_gate_commands(service, kind)}"
        elif latest is None:
            hint = f"no deployment of '{service}' is recorded yet"
        elif latest["status"] == "RUNNING" and self._status_of(latest["executionArn"]) == "RUNNING":
            state = self.current_state(latest["executionArn"]) or "starting"
            hint = (
                f"its deployment of {latest.get('imageTag')} is in {state}; the {wanted} gate opens later "
                f"(bluegreen follow {latest['executionArn']})"
            )
        else:
            hint = f"its last deployment ({latest.get('imageTag')}) ended {self._deployment_state(latest)}"
            if action == "rollback" and latest["status"] == "deployed":
                hint += f"; to go back to an earlier image, deploy its tag (bluegreen history {service})"
        return CliError(message, hint)

    def _last_gate(self, deployment: dict[str, Any], kinds: tuple[str, ...]) -> Gate | None:
        """The newest gate of ``kinds`` the deployment's execution opened (from its history)."""
        try:
            view = self.view(deployment["executionArn"])
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return None
            raise
        for visit in reversed(view.visits):
            if visit.gate and visit.gate.get("kind") in kinds:
                return self.store.get_gate(visit.gate["gateId"])
        return None

    # --- follow --------------------------------------------------------------------------------------------
    def follow(self, execution_arn: str) -> int:
        if ":execution:" not in execution_arn or not execution_arn.startswith("arn:"):
            raise UsageError(
                f"'{execution_arn}' is not an execution ARN",
                "pass the ARN bluegreen deploy printed (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)",
            )
        try:
            view = self.view(execution_arn)
        except ClientError as error:
            if error_code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
                raise UsageError(f"no execution {execution_arn}", "check the ARN and the region") from error
            raise
        self.print(f"Following {view.service} {view.tag}: {execution_arn}")
        try:
            view = self._follow_live(view) if self.out.is_terminal else self._follow_lines(view)
        except KeyboardInterrupt:
            self.print(f"Stopped following; the deployment goes on. Resume with: bluegreen follow {execution_arn}")
            return 130
        return self._result(view)

    def _poll(self, view: ExecutionView) -> ExecutionView:
        self.sleep(self.interval)
        return self.view(view.arn)

    def _follow_lines(self, view: ExecutionView) -> ExecutionView:
        """Plain lines (pipes, CI logs): one per state entered, one per gate or wait."""
        shown = 0
        notes: set[tuple[int, str]] = set()
        while True:
            for index, visit in enumerate(view.visits[shown:], start=shown):
                self.print(f"  [+{duration((visit.entered - view.started).total_seconds()):>6}] {visit.name}")
                shown = index + 1
            current = view.current
            if current is not None:
                index = len(view.visits) - 1
                for key, note in self._notes(view, current):
                    if (index, key) not in notes:
                        notes.add((index, key))
                        self.print(f"           {note}")
            if view.status in DONE_STATUSES:
                return view
            view = self._poll(view)

    def _notes(self, view: ExecutionView, visit: StateVisit) -> list[tuple[str, str]]:
        notes = []
        wait = TIMED_WAITS.get(visit.name)
        seconds = wait.seconds(view.config()) if wait else None
        if wait and seconds:
            notes.append(("wait", wait.note.format(duration=duration(seconds))))
        if visit.gate:
            gate_id, kind = visit.gate["gateId"], visit.gate["kind"]
            label = kind_label(kind)
            notes.append(("gate", f"{label} {gate_id}: {_gate_commands(view.service, kind)}"))
        elif visit.name in OPENING_STATES:
            notes.append(("opening", f"{GATE_STATES[visit.name]} gate opening..."))
        return notes

    def _follow_live(self, view: ExecutionView) -> ExecutionView:
        """A live view on a terminal: states, elapsed time, progress bars, the pending gate."""
        from rich.live import Live

        with Live(self._render(view), console=self.out, refresh_per_second=4, transient=False) as live:
            while view.status not in DONE_STATUSES:
                view = self._poll(view)
                live.update(self._render(view))
        return view

    def _render(self, view: ExecutionView) -> Group:
        from rich.console import Group

        now = datetime.now(UTC)
        end = view.stopped or now
        header = Text.assemble(
            (f"{view.service} {view.tag}", "bold"),
            f"  {view.status}  ",
            (f"{duration((end - view.started).total_seconds())} elapsed", "dim"),
        )
        states = Table.grid(padding=(0, 2))
        for index, visit in enumerate(view.visits):
            running = visit is view.current
            took = duration(((visit.exited or end) - visit.entered).total_seconds())
            if running:
                mark = Text("▸", style="yellow bold")
            elif view.status in DONE_STATUSES and view.status != "SUCCEEDED" and index == len(view.visits) - 1:
                mark = Text("✗", style="red bold")
            else:
                mark = Text("✓", style="green")
            states.add_row(mark, Text(visit.name, style="bold" if running else ""), Text(took, style="dim"))
        parts: list[Any] = [header, states]
        current = view.current
        if current is not None:
            wait = TIMED_WAITS.get(current.name)
            seconds = wait.seconds(view.config()) if wait else None
            if wait and seconds:
                waited, total = (now - current.entered).total_seconds(), float(seconds)
                parts.append(self._bar(wait.label, waited, total, wait.suffix.format(left=duration(total - waited))))
            for key, note in self._notes(view, current):
                if key != "wait":
                    parts.append(Text(note, style="cyan"))
        return Group(*parts)

    @staticmethod
    def _bar(label: str, done: float, total: float, suffix: str) -> Table:
        from rich.progress_bar import ProgressBar

        grid = Table.grid(padding=(0, 1))
        bar = ProgressBar(total=max(total, 1.0), completed=min(max(done, 0.0), total), width=40)
        grid.add_row(Text(label), bar, Text(suffix))
        return grid

    def _result(self, view: ExecutionView) -> int:
        took = duration(((view.stopped or datetime.now(UTC)) - view.started).total_seconds())
        if view.status == "SUCCEEDED":
            output = view.output or {}
            self.print(f"Execution SUCCEEDED in {took}: {view.service} {view.tag} is in production.", style="green")
            if output.get("taskSet"):
                self.print(f"  task set {output['taskSet']} on {output.get('targetGroupArn', '?')}")
            return 0
        self.print(f"Execution {view.status} after {took}: {view.error or view.status}", style="red")
        if view.cause:
            self.print(f"  {view.cause}")
        return 1

    # --- issue #15: roll back to the previous release, delivery metrics -------------------------------
    def rollback_to_previous(self, service: str, reason: str = "", require_approval: bool = False) -> str:
        """Deploy the release before the live one again (its pinned digest); returns the execution ARN."""
        from bluegreen import to_previous

        config = self.load_config(service)  # unknown service: exit 2
        chosen = to_previous.plan(self.store, service, lambda arn: self._status_of(arn) == "RUNNING")
        if isinstance(chosen, to_previous.Refusal):
            if chosen.reason == "running":
                raise CliError(
                    f"{chosen.message}; nothing was started",
                    f"wait for it (bluegreen follow {chosen.holder}); during its bake use bluegreen rollback {service}",
                )
            raise CliError(
                f"cannot roll '{service}' back to a previous release: {chosen.message}; nothing was started",
                f"see bluegreen history {service}",
            )
        live, previous = chosen.live, chosen.previous
        tag = previous.imageTag if previous.imageTag != "?" else self._tag_of(config.repository, previous.imageDigest)
        arn = to_previous.start(
            self.clients.sfn, self.state_machine_arn, service, chosen, tag, self.caller_arn, require_approval
        )
        approval = "with approval" if require_approval else "approval skipped (a rollback)"
        self.print(
            f"Rolling {service} back from {live.imageTag} to {tag} "
            f"({config.repository}@{previous.imageDigest}), {approval}" + (f": {reason}" if reason else "")
        )
        self.print(f"Execution: {arn}")
        self.print(f"Console:   {console_url(arn)}")
        return arn

    def _tag_of(self, repository: str, digest: str | None) -> str:
        """A tag of the image ``digest`` (a label only: a rollback deploys the digest), else ``previous``."""
        try:
            details = self.clients.ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
        except ClientError as error:
            if error_code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise CliError(
                    f"the previous image {repository}@{digest} is no longer in ECR; nothing was started",
                    "deploy an existing tag with bluegreen deploy",
                ) from error
            raise
        tags = sorted((details["imageDetails"] or [{}])[0].get("imageTags") or [])
        immutable = [t for t in tags if t.lower() not in {m.lower() for m in ("latest", "main", "stable")}]
        return (immutable or tags or ["previous"])[0]

    def release_marks(self, items: list[dict[str, Any]]) -> dict[str, str]:
        """``executionArn -> mark`` for the history: live, what --to-previous restores, rollbacks."""
        from bluegreen.history import live_release, previous_release, releases

        history = releases(items)
        marks: dict[str, str] = {}
        for release in history:
            if release.rollbackOf:
                skipped = ", approval skipped" if release.approvalSkipped else ""
                marks[release.executionArn] = f"rollback of {release.rollbackOf.rsplit(':', 1)[-1]}{skipped}"
        live, previous = live_release(history), previous_release(history)
        if previous:
            marks[previous.executionArn] = "previous (rollback --to-previous)"
        if live:
            marks[live.executionArn] = "LIVE" + (f", {marks[live.executionArn]}" if live.executionArn in marks else "")
        return marks

    def stats(self, service: str | None, since_text: str = "30d", as_json: bool = False) -> int:
        from bluegreen.history import delivery_stats, parse_since

        now = clock.now()
        try:
            since = parse_since(since_text, now)
        except ValueError as error:
            raise UsageError(f"invalid --since '{since_text}'", "use 30d, 12h, 2w or a date (2026-01-31)") from error
        names = self._services(service)
        # Rollbacks after the window may undo a release of it: read from the window's start on.
        items = [item for name in names for item in self.store.deployments_since(name, since)]
        per_service = {name: delivery_stats(items, since, now, service=name) for name in names}
        overall = delivery_stats(items, since, now)
        if as_json:
            document = {
                "since": since.isoformat(),
                "until": now.isoformat(),
                "stack": overall.model_dump(mode="json"),
                "services": {name: s.model_dump(mode="json") for name, s in per_service.items()},
            }
            self.print(json.dumps(document))
            return 0
        table = _table()
        for column in (
            "Service",
            "Deploys",
            "Per day",
            "Change failure rate",
            "Time to restore (median)",
            "Lead time (median)",
            "Approval wait (median)",
        ):
            table.add_column(column)
        rows = list(per_service.items()) + ([("(all)", overall)] if len(per_service) != 1 else [])
        for name, s in rows:
            rate = "-"
            if s.changeFailureRate is not None:
                rate = f"{s.changeFailureRate:.0%} ({s.changeFailures}/{s.reachedProduction})"
            table.add_row(
                name,
                str(s.succeeded),
                f"{s.deploymentsPerDay:g}",
                rate,
                _seconds_text(s.timeToRestoreSeconds.median),
                _seconds_text(s.leadTimeSeconds.median),
                _seconds_text(s.approvalWaitSeconds.median),
            )
        self.print(f"Delivery metrics since {since:%Y-%m-%d %H:%M} UTC ({duration((now - since).total_seconds())})")
        self.out.print(table)
        return 0


def _table() -> Table:
    """The CLI's tables: a rule under the header, no outer frame."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _seconds_text(value: float | None) -> str:
    return "-" if value is None else duration(value)
