"""The operator commands of ``bluegreen``: deploy, status, history, gates and follow.

Argument parsing lives in :mod:`bluegreen_cli.main`; everything here takes its AWS
clients, the deployments :class:`~bluegreen.aws.store.Store` and the output console
as arguments, so tests (and the emulator) can substitute them.

Errors a user can act on are raised as :class:`~bluegreen_cli.common.CliError` (exit
status 1) or :class:`~bluegreen_cli.common.UsageError` (exit status 2), each with a
one-line message and a hint.
"""

from __future__ import annotations

import json
import os
import re
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

from bluegreen.aws.clients import error_code
from bluegreen.aws.config import config_prefix, parameter_name
from bluegreen.aws.decisions import ACTIONS
from bluegreen.aws.store import Store
from bluegreen.domain import clock
from bluegreen.domain.errors import (
    InvalidServiceConfig,
    UnknownService,
)
from bluegreen.domain.gates import status_past
from bluegreen.domain.release_models import RELEASE_FIELDS
from bluegreen.steps import BAKE, STATES, WAIT_HEALTHY, WATCH_STEP

# Start-up: what `bluegreen status` and every command need is imported above; a module that only some
# commands need (the models and Validate's rules for deploy, the history for stats, Powertools parameters for
# reading a configuration, rich's live view for follow) is imported in the command that uses it.
if TYPE_CHECKING:
    from bluegreen.domain.gates import Gate
    from bluegreen.domain.models import ServiceConfig

from ..common import (
    DEFAULT_INTERVAL,
    DEFAULT_STACK,
    STACK_ENV,
    STATE_MACHINE_ENV,
    STATE_MACHINE_OUTPUT,
    TABLE_ENV,
    TABLE_OUTPUT,
    CliError,
    UsageError,
)
from ..release_args import label as release_label

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
    """The commands that answer a gate of ``kind``, from the actions of :mod:`bluegreen.aws.decisions`."""
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
class OperatorBase:
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

        from bluegreen.aws.config import load_service_config

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


def _table() -> Table:
    """The CLI's tables: a rule under the header, no outer frame."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _seconds_text(value: float | None) -> str:
    return "-" if value is None else duration(value)
