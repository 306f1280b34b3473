"""Every patch of moto's internals the emulator needs, in one module.

moto runs the real template, the real state machine and the real handlers, but it
leaves gaps where AWS does something moto does not (or does it in real time). Each
patch below fills one gap, says which in a ``# moto gap:`` comment, and is installed
through a :class:`Patcher`, which restores exactly what it replaced.

The patches reach into moto's private modules, so they are written for one moto
version (:data:`MOTO_VERSION`, pinned by the ``local`` extra). Importing this module
with another version installed fails at once with :class:`MotoVersionError` rather
than with a wrong emulation later.
"""

# ruff: noqa: E402 - moto's internals are imported only after the version check below
from __future__ import annotations

import contextlib
import copy
import functools
import importlib.metadata
import json
import math
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MOTO_VERSION = "5.2.5"


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the emulator's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    """Raise :class:`MotoVersionError` unless moto :data:`MOTO_VERSION` is installed."""
    if installed is None:
        try:
            installed = importlib.metadata.version("moto")
        except importlib.metadata.PackageNotFoundError:
            installed = "none"
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the bluegreen emulator patches moto {MOTO_VERSION} but moto {installed} is installed; "
            f"install the pinned one: pip install 'ecs-bluegreen[local]' (moto=={MOTO_VERSION})"
        )


check_moto_version()

# moto's internals, imported only once the version is known to match.
from botocore.client import BaseClient
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.ecr.models import ECRBackend
from moto.ecs.exceptions import EcsClientException, ECSException, InvalidParameterException
from moto.ecs.exceptions import TaskSetNotFoundException as MotoTaskSetNotFound
from moto.ecs.models import EC2ContainerServiceBackend
from moto.elbv2.exceptions import ValidationError
from moto.elbv2.models import (
    ELBv2Backend,
    FakeHealthStatus,
    FakeTargetGroup,
)
from moto.events.models import Rule as EventsRule
from moto.events.models import events_backends
from moto.stepfunctions.exceptions import (
    AWSError,
    ValidationException,
)
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from bluegreen import clock
from bluegreen.analysis import percentile_of
from bluegreen.release import FARGATE_SIZES, STATE_LIMIT

from . import metrics

_MISSING = object()


class Patcher:
    """Replaces attributes and puts the originals back, last replaced first restored."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, value: Any, missing: bool = False) -> Any:
        """Set ``owner.name`` to ``value``; returns the original (``missing``: moto lacks it, it is added)."""
        original = getattr(owner, name, _MISSING) if missing else getattr(owner, name)
        saved = original
        if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod | staticmethod):
            saved = owner.__dict__[name]  # restored as the descriptor (getattr hands back a bound method)
        self._saved.append((owner, name, saved))
        setattr(owner, name, value)
        return original

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


# --- Lambda, EventBridge, ECR, Step Functions (installed by lambdas.installed) ------------------
Invoke = Callable[[str, "str | bytes | None", dict[str, str]], bytes]


_STATES_CREDENTIAL = "Credential=ak/"  # moto's Step Functions interpreter signs its Lambda calls with key "ak"
DeliverAsync = Callable[[str, str, "str | None"], None]  # (function ARN, event JSON, EventBridge rule ARN)


def run_lambda_handlers(
    patcher: Patcher,
    invoke: Invoke,
    invoke_from_states: Invoke | None = None,
    deliver_async: DeliverAsync | None = None,
) -> None:
    """Lambda invocations run the stack's handlers: from EventBridge via ``invoke``, from Step Functions via
    ``invoke_from_states`` (which checks the state machine role's ``lambda:InvokeFunction``; default ``invoke``).
    ``deliver_async`` (:class:`.async_invoke.AsyncLambda`) runs the asynchronous ones with Lambda's retries and
    on-failure destination, and the EventBridge targets' dead-letter queue."""
    from_states = invoke_from_states or invoke

    def run_async(function_name: str, body: str | bytes | None, rule_arn: str | None = None) -> None:
        text = body.decode() if isinstance(body, bytes) else body or "{}"
        if deliver_async is not None:
            deliver_async(function_name, text, rule_arn)
        else:
            invoke(function_name, text, {})

    # moto gap: the simple Lambda backend (use_docker: False) answers every Invoke with a canned
    # payload; the emulator runs the function's real handler in this process instead.
    # Nor does moto's Step Functions check the state machine role before it invokes a function.
    def lambda_invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001 - moto's
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            # As in AWS, an asynchronous invocation (a function invoking another) returns at once and runs on its own.
            delivery = DELIVERIES.delivering()
            delivery.__enter__()  # counted before the thread starts: a waiter never misses it

            def run() -> None:
                try:
                    run_async(function_name, body)
                finally:
                    delivery.__exit__(None, None, None)

            threading.Thread(target=run, name=f"async-{function_name}", daemon=True).start()
            return b""
        if _STATES_CREDENTIAL not in str((headers or {}).get("Authorization", _STATES_CREDENTIAL)):
            # Not Step Functions (whose client signs with moto's "ak"): an operator's synchronous Invoke
            # (bluegreen events replay); their own IAM is not the emulator's to check.
            return invoke(function_name, body, response_headers)
        return from_states(function_name, body, response_headers)

    patcher.replace(LambdaSimpleBackend, "invoke", lambda_invoke)

    # moto gap: moto's EventBridge does not deliver events to Lambda targets, and it sends to a DISABLED rule's
    # targets too; deliver them as EventBridge does: nothing through a disabled rule; otherwise an asynchronous
    # invocation (Lambda's retries, then the function's on-failure destination; the target's dead-letter queue
    # when the target cannot be invoked), and leave the other targets to moto.
    original_send = EventsRule.send_to_targets

    def send_to_targets(rule, original_event, transform_input=True):  # noqa: ANN001 - moto's signature
        # moto's PutEvents sends to every matching rule, a disabled one too. AWS: "A disabled rule won't match
        # any events" (EventBridge API reference, DisableRule:
        # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html); EnableRule resumes
        # deliveries. A test loses a rule's events by disabling it (Emulator.set_alarm_events).
        if rule.state == "DISABLED":
            return
        if not rule.event_pattern.matches_event(original_event):
            return
        functions = [t for t in rule.targets if ":lambda:" in t["Arn"]]
        for target in functions:
            run_async(target["Arn"], json.dumps(original_event, default=str), rule.arn)
        others = [t for t in rule.targets if t not in functions]
        if others:
            saved, rule.targets = rule.targets, others
            try:
                original_send(rule, original_event, transform_input)
            finally:
                rule.targets = saved

    patcher.replace(EventsRule, "send_to_targets", send_to_targets)


def pass_task_failure_cause(patcher: Patcher) -> None:
    # moto gap: moto's SendTaskFailure drops ``cause``; AWS passes it on to the execution.
    def send_task_failure(self):  # noqa: ANN001 - moto's signature
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    patcher.replace(StepFunctionResponse, "send_task_failure", send_task_failure)


def publish_ecr_pushes(patcher: Patcher) -> None:
    # moto gap: moto's ECR publishes nothing to EventBridge; AWS sends ``ECR Image Action`` for a push,
    # and stamps the image's imagePushedAt with the (here simulated) time of the push.
    original_put_image = ECRBackend.put_image

    def put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs):  # noqa: ANN001 - moto's
        image = original_put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs)
        # Nor is imagePushedAt on the simulated clock (moto stamps the real time); the reconciler compares it
        # with the deployments' simulated start times.
        image.image_pushed_at = int(clock.now().timestamp())
        detail = {
            "result": "SUCCESS",
            "repository-name": repository_name,
            "image-digest": image.get_image_digest(),
            "action-type": "PUSH",
            "image-tag": image_tag,
        }
        events_backends[self.account_id][self.region_name].put_events(
            [{"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": json.dumps(detail), "Resources": []}]
        )
        return image

    patcher.replace(ECRBackend, "put_image", put_image)


ApiCallWrapper = Callable[[Callable[..., Any], Any, str, dict[str, Any]], Any]


def wrap_api_calls(patcher: Patcher, wrapper: ApiCallWrapper) -> None:
    """Every botocore API call goes through ``wrapper(original, client, operation_name, api_params)``."""
    # moto gap: moto keeps no record of who called which API (AWS has CloudTrail); the emulator
    # records each handler's calls, and injects faults, around botocore's single call path.
    original_call = BaseClient._make_api_call

    def make_api_call(self, operation_name, api_params):  # noqa: ANN001 - botocore's signature
        return wrapper(original_call, self, operation_name, api_params)

    patcher.replace(BaseClient, "_make_api_call", make_api_call)


# --- the data plane (installed by dataplane.DataPlane) --------------------------------------------
HealthLookup = Callable[[FakeTargetGroup, dict[str, Any]], "tuple[str, str | None] | None"]


def simulate_target_health(patcher: Patcher, lookup: HealthLookup) -> None:
    """``DescribeTargetHealth`` answers what ``lookup(target_group, target)`` says, else what moto says."""
    # moto gap: moto runs no containers and reports every registered target healthy; the
    # simulated data plane decides each target's health (initial, healthy, unhealthy + reason).
    original_health_for = FakeTargetGroup.health_for

    def health_for(tg: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        known = lookup(tg, target)
        if known is None or target["Id"] not in tg.targets:
            return original_health_for(tg, target, ec2_backend)
        state, reason = known
        port = tg.targets[target["Id"]].get("Port", tg.port)
        return FakeHealthStatus(target["Id"], port, tg.health_check_port, state, reason, None)

    patcher.replace(FakeTargetGroup, "health_for", health_for)


# --- simulated time (installed by simclock.compressed_time) ---------------------------------------
def simulate_time(
    patcher: Patcher,
    advance: Callable[[float], None],
    callback_wait: Callable[[Any, float | None], None],
    sleep_module: Any,
    threading_module: Any,
) -> None:
    """Waits, retries, callback tasks and task timeouts of moto's interpreter run on the simulated clock.

    ``callback_wait(notify_event, timeout)`` waits for a task token's answer in simulated time;
    ``sleep_module`` and ``threading_module`` stand in for ``time`` and ``threading``.
    """

    # moto gap: a ``Wait`` state really sleeps; it moves the simulated clock instead.
    def wait_interval(self, env, wait_seconds):  # noqa: ANN001 - moto's signature
        if wait_seconds > 0 and env.is_running():
            advance(wait_seconds)

    patcher.replace(wait_function.WaitFunction, "_wait_interval", wait_interval)
    # moto gap: ``Retry`` intervals really sleep (time.sleep in the retrier); they move the clock instead.
    patcher.replace(retrier_decl, "time", sleep_module)

    # moto gap: a ``waitForTaskToken`` task waits in real time and its timeout counts real seconds;
    # simulated time passes while it waits (alarms fire, the timeout arrives in simulated time).
    def wait(self, timeout=None):  # noqa: ANN001 - moto's signature
        callback_wait(self._notify_event, timeout)
        return self._outcome

    patcher.replace(CallbackEndpoint, "wait", wait)
    # moto gap: a task's ``TimeoutSeconds`` is a threading.Event wait in real seconds; count simulated ones.
    patcher.replace(execute_state, "threading", threading_module)


# --- issue 10 (h10a): whole releases: task definitions registered as AWS would accept them ----------
@contextlib.contextmanager
def task_definition_rules() -> Iterator[None]:
    """RegisterTaskDefinition refuses what AWS refuses: Fargate sizes outside the table, bad tags."""
    original = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self: Any, family: str, container_definitions: Any, *args: Any, **kwargs: Any) -> Any:
        _check_task_definition_tags(kwargs.get("tags"))  # issue 11
        # AWS refuses a definition that requires FARGATE unless task-level cpu and memory form a row of the
        # Fargate task size table ("Invalid 'cpu' setting for task"; ECS developer guide, "Troubleshoot Amazon
        # ECS task definition invalid CPU or memory errors").
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            cpu, memory = kwargs.get("cpu"), kwargs.get("memory")
            try:
                valid = int(str(memory)) in FARGATE_SIZES.get(int(str(cpu)), set())
            except ValueError:
                valid = False
            if not valid:
                raise EcsClientException("No Fargate configuration exists for given values.")
        return original(self, family, container_definitions, *args, **kwargs)

    original_start = StepFunctionsParserBackend.start_execution

    # moto gap: moto starts an execution with any input. AWS's StartExecution takes at most 262,144 bytes
    # (UTF-8) of input (API reference, StartExecution, "input": length constraints) and refuses more with a
    # ValidationException, so an oversized inline task definition never starts an execution.
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, *args: Any):
        if execution_input is not None and len(str(execution_input).encode()) > STATE_LIMIT:
            raise AWSError(
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {STATE_LIMIT}",
                "ValidationException",
            )
        return original_start(self, state_machine_arn, name, execution_input, *args)

    patcher = Patcher()
    # moto gap: moto's RegisterTaskDefinition registers any cpu/memory pair for FARGATE, and aws:-prefixed or
    # more than 50 tags (see _check_task_definition_tags); ECS refuses all three.
    patcher.replace(EC2ContainerServiceBackend, "register_task_definition", register_task_definition)
    patcher.replace(StepFunctionsParserBackend, "start_execution", start_execution)
    try:
        yield
    finally:
        patcher.restore()


def codedeploy_alarm_configuration(patcher: Patcher) -> None:
    """issue #14: ``bluegreen config from-codedeploy`` reads a deployment group's alarms."""
    from moto.codedeploy import responses as codedeploy_responses

    original = codedeploy_responses._deployment_group_info

    # moto gap: GetDeploymentGroup returns alarmConfiguration as {} (a moto TODO) instead of the stored alarms.
    def deployment_group_info(group: Any) -> dict[str, Any]:
        info = original(group)
        if isinstance(group.alarm_configuration, dict):
            info["alarmConfiguration"] = group.alarm_configuration
        return info

    patcher.replace(codedeploy_responses, "_deployment_group_info", deployment_group_info)


# --- issue #14: routes (listener default actions, NLB listeners) ------------------------------------
NOT_WEIGHTABLE_NLB_PROTOCOLS = ("UDP", "TCP_UDP", "QUIC", "TCP_QUIC")
NLB_MAX_WEIGHT = 999  # "Network Load Balancers now support Weighted Target Groups": weights 0-999


def route_rules(patcher: Patcher) -> None:
    """ModifyRule and ModifyListener refuse what AWS refuses for the routes the workflow changes."""
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend, FakeAction

    original_rule = ELBv2Backend.modify_rule
    original_listener = ELBv2Backend.modify_listener

    # moto gap: moto lets ModifyRule change a listener's default rule. AWS changes a default rule's actions only
    # with ModifyListener (ELBv2 API reference, ModifyRule: "To modify the actions for the default rule, use
    # ModifyListener"), so the emulator refuses it with OperationNotPermitted.
    def modify_rule(self: Any, rule_arn: str, conditions: Any, actions: Any) -> Any:
        found = self.describe_rules(listener_arn=None, rule_arns=[rule_arn])
        if found and getattr(found[0], "is_default", False):
            raise ELBClientError(
                "OperationNotPermitted", f"Default rule '{rule_arn}' cannot be modified; use ModifyListener"
            )
        return original_rule(self, rule_arn, conditions, actions)

    # moto gap: moto's ModifyListener does not validate the default actions ("Is currently not validated"): AWS
    # refuses a forward to a target group that does not exist, NLB weights above 999, and more than one target
    # group on an NLB listener whose protocol cannot weight (the tool's all-at-once protocols).
    def modify_listener(self: Any, arn: str, port: Any = None, protocol: Any = None, *args: Any) -> Any:
        actions = args[2] if len(args) > 2 else None
        if actions:
            self._validate_actions([FakeAction(action) for action in actions])
            listener = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
            network = ":listener/net/" in arn
            for action in actions:
                groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
                if network and any(int(group.get("Weight", 1)) > NLB_MAX_WEIGHT for group in groups):
                    raise ELBClientError("ValidationError", f"Target group weights must be 0-{NLB_MAX_WEIGHT}")
                protocol_now = protocol or listener.protocol
                if network and protocol_now in NOT_WEIGHTABLE_NLB_PROTOCOLS and len(groups) > 1:
                    raise ELBClientError(
                        "InvalidLoadBalancerAction", f"A {protocol_now} listener forwards to one target group"
                    )
        return original_listener(self, arn, port, protocol, *args)

    original_create = ELBv2Backend.create_load_balancer

    # moto gap: moto names every load balancer loadbalancer/app/...; AWS names a Network Load Balancer
    # loadbalancer/net/... (and its listeners listener/net/...), which IAM scoping and Validate read.
    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original_create(self, *args, **kwargs)
        if getattr(balancer, "type", None) == "network" and ":loadbalancer/app/" in balancer.arn:
            old = balancer.arn
            tags = self.tagging_service.list_tags_for_resource(old).get("Tags") or []
            balancer.arn = old.replace(":loadbalancer/app/", ":loadbalancer/net/", 1)
            self.load_balancers[balancer.arn] = self.load_balancers.pop(old)
            if tags:
                self.tagging_service.tag_resource(balancer.arn, tags)
        return balancer

    patcher.replace(ELBv2Backend, "modify_rule", modify_rule)
    patcher.replace(ELBv2Backend, "modify_listener", modify_listener)
    patcher.replace(ELBv2Backend, "create_load_balancer", create_load_balancer)


# --- issue 11: limits AWS enforces ----------------------------------------------------------
SFN_ERROR_MAX = 256  # SendTaskFailure error
SFN_CAUSE_MAX = 32_768  # SendTaskFailure cause
SFN_OUTPUT_MAX = 262_144  # SendTaskSuccess output (256 KiB)
ECS_MAX_TAGS = 50  # tags per resource (aws:-prefixed ones do not count, and cannot be set)

# Rule ARN -> OIDC client secret: ELB keeps it, DescribeRules never returns it.
_OIDC_SECRETS: dict[str, str] = {}
_LOCK = threading.Lock()


def _reserved(text: str) -> bool:
    return text.lower().startswith("aws:")


def _check_task_definition_tags(tags: list[dict[str, str]] | None) -> None:
    """ECS refuses aws:-prefixed tag keys and values (reserved for AWS) and more than 50 user tags per resource."""
    tags = tags or []
    reserved = [t["key"] for t in tags if _reserved(t.get("key", "")) or _reserved(t.get("value", ""))]
    if reserved:
        raise InvalidParameterException(
            f"Tag keys and values beginning with 'aws:' are reserved for AWS use and cannot be set: {reserved}."
        )
    if len(tags) > ECS_MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {ECS_MAX_TAGS} tags; got {len(tags)}.")


def _oidc_configs(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["AuthenticateOidcConfig"] for a in actions if a.get("Type") == "authenticate-oidc"]


def _keep_oidc_secret(rule_arn: str | None, actions: list[dict[str, Any]], creating: bool) -> str | None:
    """Validate OIDC actions as ELB does; strip the secret from what is stored (DescribeRules never shows it)."""
    # moto gap: moto stores and returns the OIDC ClientSecret in DescribeRules and accepts a described action back
    # without it. ELB never returns the secret; ModifyRule needs ClientSecret or UseExistingClientSecret: true.
    secret: str | None = None
    for config in _oidc_configs(actions):
        use_existing = bool(config.pop("UseExistingClientSecret", False))
        given = config.pop("ClientSecret", None)
        if given:
            secret = given
        elif use_existing and not creating:
            with _LOCK:
                secret = _OIDC_SECRETS.get(rule_arn or "")
            if secret is None:
                raise ValidationError("UseExistingClientSecret is set but the rule has no client secret to reuse")
        else:
            raise ValidationError(
                "A client secret must be specified for an authenticate-oidc action"
                + ("" if creating else " (or set UseExistingClientSecret to true to keep the existing one)")
            )
    return secret


def _remember(rule_arn: str, secret: str | None, actions: list[dict[str, Any]]) -> None:
    with _LOCK:
        if secret is not None:
            _OIDC_SECRETS[rule_arn] = secret
        elif not _oidc_configs(actions):
            _OIDC_SECRETS.pop(rule_arn, None)


def oidc_secret(rule_arn: str) -> str | None:
    """The client secret ELB keeps for a rule (tests compare it; no API returns it)."""
    with _LOCK:
        return _OIDC_SECRETS.get(rule_arn)


# --- issue 13: percentile statistics (CloudWatch computes pNN from the samples; moto computes none) ------------
class MetricDistributionDatum(MetricAggregatedDatum):
    """One PutMetricData datum given as ``Values``/``Counts``: its statistic set, and its samples for percentiles."""

    def __init__(self, namespace: str, member: dict[str, Any]) -> None:
        values = [float(v) for v in member["Values"]]
        counts = [float(c) for c in member.get("Counts") or [1.0] * len(values)]
        if len(counts) != len(values):
            raise CloudWatchValidationError("The parameters MetricData.member.Values and Counts must be of equal size.")
        self.samples = [(v, c) for v, c in zip(values, counts, strict=True) if c > 0]
        present = [v for v, _ in self.samples] or [0.0]
        super().__init__(
            namespace,
            member["MetricName"],
            min_stat=min(present),
            max_stat=max(present),
            sample_count=sum(c for _, c in self.samples),
            sum_stat=sum(v * c for v, c in self.samples),
            dimensions=member.get("Dimensions") or [],
            timestamp=member.get("Timestamp"),
            unit=member.get("Unit"),
        )


def _percentile_samples(data: list[Any]) -> list[tuple[float, float]] | None:
    """The samples of a period's datums, or None when CloudWatch could compute no percentile from them: a
    statistic set is usable only when its SampleCount is 1 or its Minimum equals its Maximum (GetMetricStatistics)."""
    samples: list[tuple[float, float]] = []
    for datum in data:
        if isinstance(datum, MetricDistributionDatum):
            samples.extend(datum.samples)
        elif isinstance(datum, MetricAggregatedDatum):
            if float(datum.sample_count) != 1 and datum.min != datum.max:
                return None
            samples.append((float(datum.min), float(datum.sample_count)))
        elif isinstance(datum, MetricDatum):
            samples.append((float(datum.value), 1.0))
    return samples


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Issue 11: the limits and refusals AWS enforces where moto does not."""
    patcher = Patcher()
    original_create_rule = ELBv2Backend.create_rule
    original_modify_rule = ELBv2Backend.modify_rule
    original_task_failure = StepFunctionResponse.send_task_failure
    original_task_success = StepFunctionResponse.send_task_success
    original_set_alarm_state = CloudWatchResponse.set_alarm_state
    original_put_metric_alarm = CloudWatchBackend.put_metric_alarm
    original_put_metric_data = CloudWatchBackend.put_metric_data
    original_get_metric_data = CloudWatchBackend.get_metric_data
    original_statistic = Statistics.get_statistics_for_type

    def put_metric_data(self, namespace, metric_data):  # noqa: ANN001 - moto's
        for index, member in enumerate(metric_data, start=1):  # every member first: all or nothing is stored
            self._validate_parameters_put_metric_data(member, index)
            if len(member.get("Values") or []) > metrics.MAX_VALUES_PER_DATUM:
                raise CloudWatchValidationError(
                    f"The collection MetricData.member.{index}.Values must not have a size greater than "
                    f"{metrics.MAX_VALUES_PER_DATUM}."
                )
        distributions = [MetricDistributionDatum(namespace, m) for m in metric_data if m.get("Values")]
        if len(distributions) != len(metric_data):
            original_put_metric_data(self, namespace, [m for m in metric_data if not m.get("Values")])
        self.metric_data.extend(distributions)

    def get_statistics_for_type(self, stat):  # noqa: ANN001 - moto's
        wanted = percentile_of(stat)
        if wanted is None:
            return original_statistic(self, stat)
        samples = _percentile_samples(self.metric_data)
        return None if samples is None else metrics.percentile(samples, wanted)

    def get_metric_data(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - moto's
        results = original_get_metric_data(self, *args, **kwargs)
        for result in results:  # a period without a statistic (no percentile computable) has no datapoint
            pairs = [(t, v) for t, v in zip(result["timestamps"], result["values"], strict=True) if v is not None]
            result["timestamps"], result["values"] = [t for t, _ in pairs], [v for _, v in pairs]
        return results

    def put_metric_alarm(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - moto's
        queries = kwargs.get("metric_data_queries") or []
        described = [
            (q.id, q.metric_stat is not None, q.expression, str(q.return_data).lower() not in ("false", "0"))
            for q in queries
        ]
        if described:
            try:
                metrics.check_alarm_queries(described)
            except metrics.MathError as error:
                raise CloudWatchValidationError(f"Invalid metrics for alarm: {error}") from error
        return original_put_metric_alarm(self, *args, **kwargs)

    def create_rule(self, listener_arn, conditions, priority, actions, tags=None):  # noqa: ANN001 - moto's
        actions = copy.deepcopy(actions)
        secret = _keep_oidc_secret(None, actions, creating=True)
        rule = original_create_rule(self, listener_arn, conditions, priority, actions, tags)
        _remember(rule.arn, secret, actions)
        return rule

    def modify_rule(self, rule_arn, conditions, actions):  # noqa: ANN001 - moto's
        actions = copy.deepcopy(actions)
        secret = _keep_oidc_secret(rule_arn, actions, creating=False) if actions else None
        rule = original_modify_rule(self, rule_arn, conditions, actions)
        if actions:
            _remember(rule_arn, secret, actions)
        return rule

    def send_task_failure(self):  # noqa: ANN001 - moto's
        # moto gap: moto accepts an error and a cause of any length; Step Functions refuses an error over 256
        # characters and a cause over 32,768 (ValidationException).
        error, cause = self._get_param("error") or "", self._get_param("cause") or ""
        if len(error) > SFN_ERROR_MAX:
            raise ValidationException(f"1 validation error detected: 'error' must be at most {SFN_ERROR_MAX} long")
        if len(cause) > SFN_CAUSE_MAX:
            raise ValidationException(f"1 validation error detected: 'cause' must be at most {SFN_CAUSE_MAX} long")
        return original_task_failure(self)

    def send_task_success(self):  # noqa: ANN001 - moto's
        # moto gap: moto accepts any output size; Step Functions refuses an output over 256 KiB.
        if len((self._get_param("output") or "").encode()) > SFN_OUTPUT_MAX:
            raise ValidationException(f"1 validation error detected: 'output' must be at most {SFN_OUTPUT_MAX} bytes")
        return original_task_success(self)

    def set_alarm_state(self):  # noqa: ANN001 - moto's
        # moto gap: moto's SetAlarmState changes the state but publishes nothing; CloudWatch publishes every state
        # change to EventBridge (CloudWatch Alarm State Change), one made with SetAlarmState included.
        alarm = self.cloudwatch_backend.alarms.get(self._get_param("AlarmName"))
        previous = alarm.state_value if alarm is not None else None
        result = original_set_alarm_state(self)
        if alarm is not None and alarm.state_value != previous:
            metrics.publish_state_change(self.current_account, self.region, alarm, previous, clock.now())
        return result

    patcher.replace(CloudWatchResponse, "set_alarm_state", set_alarm_state)
    # moto gap: PutMetricAlarm stores any Metrics array; CloudWatch refuses more than 10 metrics or 10
    # expressions, not exactly one query returning data, and math it cannot read (issue 13).
    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)
    # moto gap: PutMetricData with Values/Counts stores one datum per count, int(count) of them (a fractional count
    # is cut), and keeps no distribution: CloudWatch keeps the samples and their counts (issue 13).
    patcher.replace(CloudWatchBackend, "put_metric_data", put_metric_data)
    # moto gap: moto computes no percentile (Stat p95 answers None); CloudWatch computes pNN from the period's
    # samples, none from statistic sets with several different samples or from negative values.
    patcher.replace(Statistics, "get_statistics_for_type", get_statistics_for_type)
    # moto gap: GetMetricData returns a None value where it computed no statistic; CloudWatch returns no datapoint.
    patcher.replace(CloudWatchBackend, "get_metric_data", get_metric_data)
    # moto gap: CreateRule and ModifyRule keep and return the OIDC client secret (see _keep_oidc_secret).
    patcher.replace(ELBv2Backend, "create_rule", create_rule)
    patcher.replace(ELBv2Backend, "modify_rule", modify_rule)
    patcher.replace(StepFunctionResponse, "send_task_failure", send_task_failure)
    patcher.replace(StepFunctionResponse, "send_task_success", send_task_success)
    try:
        yield
    finally:
        patcher.restore()
        with _LOCK:
            _OIDC_SECRETS.clear()


# --- issue 13: one-off tasks of the ecsTask hooks (driven by oneoff.OneOffTasks) ------------------
def hold_one_off_tasks(patcher: Patcher, controlled: Callable[[Any], bool]) -> None:
    """Tasks ``controlled`` says the emulator runs are not advanced by moto's DescribeTasks."""
    # moto gap: moto walks every RunTask task RUNNING -> ... -> STOPPED one step per DescribeTasks, exit
    # code 0 whatever it runs; a one-off task must run its time and exit with its own code.
    from moto.ecs.models import Task

    original_advance = Task.advance

    def advance(self: Any) -> None:
        if controlled(self):
            return
        original_advance(self)

    patcher.replace(Task, "advance", advance)


# --- issue 11: ECS tasks of task sets, ListTasks filters, eventual consistency --------------------
@dataclass
class ConsistencyWindow:
    """What ``DescribeTaskSets`` still shows for a few simulated seconds after a change."""

    stale_status: dict[str, tuple[float, str]] = field(default_factory=dict)  # task set arn -> (until, old status)
    hidden_until: dict[str, float] = field(default_factory=dict)  # task set arn -> invisible until
    # service key -> [(until, deleted task set)]: a deleted task set is DRAINING while its targets drain
    draining: dict[str, list[tuple[float, Any]]] = field(default_factory=dict)


# ECS counts every task set of a service against its limit of five, DRAINING ones included: CreateTaskSet
# answers InvalidParameterException "5 deployments exist on the service. Unable to create new TaskSet since
# this exceeds the maximum limit." (aws-samples/ecs-bg-external-controller#6).
MAX_TASK_SETS_PER_SERVICE = 5
DEFAULT_DEREGISTRATION_DELAY = 300.0  # seconds, ELB's default deregistration_delay.timeout_seconds


class Issue11Patches:
    """ECS patches of issue 11. ``now`` returns simulated seconds; ``delay`` is the visibility lag."""

    def __init__(
        self,
        now: Callable[[], float],
        delay: Callable[[], float],
        after_delete: Callable[[], None] | None = None,
        drain_seconds: Callable[[str | None], float] | None = None,
    ) -> None:
        self.now = now
        self.delay = delay
        self.after_delete = after_delete
        # How long a deleted task set stays DRAINING: its target group's deregistration delay.
        self.drain_seconds = drain_seconds or (lambda target_group: DEFAULT_DEREGISTRATION_DELAY)
        self.window = ConsistencyWindow()
        self._patcher: Patcher | None = None

    def install(self) -> None:
        backend = EC2ContainerServiceBackend
        patches = self
        original_create = backend.create_task_set
        original_describe = backend.describe_task_sets
        original_primary = backend.update_service_primary_task_set
        original_list = backend.list_tasks
        original_delete = backend.delete_task_set
        original_describe_services = backend.describe_services

        def draining(service_key: str) -> list[Any]:
            now = patches.now()
            alive = [(until, ts) for until, ts in patches.window.draining.get(service_key, []) if until > now]
            patches.window.draining[service_key] = alive
            return [ts for _, ts in alive]

        def shown(task_sets: list[Any]) -> list[Any]:
            """What ECS shows of ``task_sets`` now: new ones hidden for a while, changed statuses lagging."""
            now = patches.now()
            result = []
            for task_set in task_sets:
                if patches.window.hidden_until.get(task_set.task_set_arn, 0) > now:
                    continue
                stale = patches.window.stale_status.get(task_set.task_set_arn)
                if stale and stale[0] > now and stale[1] != task_set.status:
                    task_set = copy.copy(task_set)
                    task_set.status = stale[1]
                result.append(task_set)
            return result

        def create_task_set(self: Any, service: str, cluster_str: str, task_definition: str, **kwargs: Any) -> Any:
            token = kwargs.get("client_token")
            service_obj = self.services.get(f"{cluster_str.split('/')[-1]}:{service.split('/')[-1]}")
            # CreateTaskSet ignores clientToken; AWS returns the task set the first request created.
            if token and service_obj is not None:
                for existing in service_obj.task_sets:
                    if existing.client_token == token:
                        return existing
            # ECS refuses a sixth task set, DRAINING ones counted; moto has no limit.
            if service_obj is not None:
                key = f"{cluster_str.split('/')[-1]}:{service.split('/')[-1]}"
                if len(service_obj.task_sets) + len(draining(key)) >= MAX_TASK_SETS_PER_SERVICE:
                    raise InvalidParameterException(
                        f"{MAX_TASK_SETS_PER_SERVICE} deployments exist on the service. Unable to create new "
                        "TaskSet since this exceeds the maximum limit."
                    )
            # Also: moto runs the task set's tasks at once, started by the account id, and they
            # stop on the next read; in ECS the scheduler starts them (startedBy = the task set id).
            # The data plane starts, replaces and stops them; here the task set is created without tasks.
            scale = kwargs.pop("scale", None)
            task_set = original_create(self, service, cluster_str, task_definition, **kwargs, scale=None)
            task_set.scale = scale or {"value": 100.0, "unit": "PERCENT"}
            # ECS computes the task set's desired count at once: the service's desired count times the scale.
            desired = service_obj.desired_count if service_obj is not None else 0
            task_set.computedDesiredCount = math.ceil(desired * float(task_set.scale["value"]) / 100)
            task_set.runningCount = 0
            task_set.pendingCount = 0
            task_set.stabilityStatus = "STABILIZING"
            # And a new task set is visible at once; ECS is eventually consistent.
            if patches.delay() > 0:
                patches.window.hidden_until[task_set.task_set_arn] = patches.now() + patches.delay()
            return task_set

        def describe_task_sets(self: Any, cluster_str: str, service: str, task_sets: list[str]) -> list[Any]:
            # The API reference marks taskSets optional, but ECS refuses a call without it (aws/aws-cli#5380:
            # "InvalidParameterException ... DescribeTaskSets operation: TaskSets cannot be empty.").
            if not task_sets:
                raise InvalidParameterException("TaskSets cannot be empty.")
            return shown(original_describe(self, cluster_str, service, task_sets))

        def describe_services(self: Any, cluster_str: str, service_names_or_arns: list[str]) -> Any:
            services, failures = original_describe_services(self, cluster_str, service_names_or_arns)
            cluster = cluster_str.split("/")[-1]
            described = []
            for service_obj in services:
                # DescribeServices lists the task sets of an EXTERNAL service, as stale as DescribeTaskSets,
                # and the deleted ones that still drain (status DRAINING) as ECS does.
                view = copy.copy(service_obj)
                view.task_sets = shown(list(service_obj.task_sets)) + draining(f"{cluster}:{service_obj.name}")
                described.append(view)
            return described, failures

        def update_service_primary_task_set(self: Any, cluster: str, service: str, primary_task_set: str) -> Any:
            service_obj = self.services.get(f"{cluster.split('/')[-1]}:{service.split('/')[-1]}")
            before = {ts.task_set_arn: ts.status for ts in service_obj.task_sets} if service_obj else {}
            # The lookup must see every task set, whatever the consistency window shows.
            with patches.unfiltered():
                result = original_primary(self, cluster, service, primary_task_set)
            # DescribeTaskSets shows the new statuses at once; in ECS the old ones linger.
            # Only a real change opens a window: repeating the call changes nothing.
            until = patches.now() + patches.delay()
            for task_set in service_obj.task_sets if service_obj else []:
                old = before.get(task_set.task_set_arn)
                if old is not None and old != task_set.status and patches.delay() > 0:
                    patches.window.stale_status[task_set.task_set_arn] = (until, old)
            return result

        def list_tasks(
            self: Any,
            cluster_str: str | None = None,
            container_instance: str | None = None,
            family: str | None = None,
            started_by: str | None = None,
            service_name: str | None = None,
            desiredStatus: str | None = None,  # noqa: N803 - moto's signature
        ) -> list[Any]:
            # AWS rejects startedBy combined with another filter ("it must be the only filter").
            if started_by and (container_instance or family or service_name or desiredStatus):
                raise InvalidParameterException("When you specify startedBy as the filter, it must be the only one.")
            # And without desiredStatus moto lists stopped tasks too; AWS lists RUNNING ones.
            return original_list(
                self, cluster_str, container_instance, family, started_by, service_name, desiredStatus or "RUNNING"
            )

        def delete_task_set(self: Any, cluster: str, service: str, task_set: str) -> Any:
            try:
                result = original_delete(self, cluster, service, task_set)
            except MotoTaskSetNotFound as gone:  # moto answers ClientException; ECS's error is its own
                raise TaskSetNotFound() from gone
            # ECS keeps a deleted task set, DRAINING, until its tasks have stopped and their targets drained.
            gone_set = copy.copy(result)
            gone_set.status = "DRAINING"
            balancers = getattr(result, "load_balancers", None) or []
            group = balancers[0].get("targetGroupArn") if balancers else None
            key = f"{cluster.split('/')[-1]}:{service.split('/')[-1]}"
            until = patches.now() + patches.drain_seconds(group)
            patches.window.draining.setdefault(key, []).append((until, gone_set))
            # Deleting a task set leaves its tasks and targets alone; ECS stops the tasks and the
            # load balancer drains their targets at once (the data plane does both).
            if patches.after_delete:
                patches.after_delete()
            return result

        patcher = self._patcher = Patcher()
        # moto gap: deleting a task set leaves its tasks and targets alone, and deleting one that does not
        # exist (any more) answers ClientException where ECS answers TaskSetNotFoundException.
        patcher.replace(backend, "delete_task_set", delete_task_set)
        # moto gap: CreateTaskSet ignores clientToken, starts tasks at once, is visible at once and has no
        # limit of five task sets per service.
        patcher.replace(backend, "create_task_set", create_task_set)
        # moto gap: DescribeTaskSets shows changes at once (the consistency window above filters it) and
        # answers a call without taskSets, which ECS refuses.
        patcher.replace(backend, "describe_task_sets", describe_task_sets)
        # moto gap: DescribeServices's taskSets show changes at once and forget deleted task sets at once.
        patcher.replace(backend, "describe_services", describe_services)
        # moto gap: after UpdateServicePrimaryTaskSet the old statuses do not linger as in ECS.
        patcher.replace(backend, "update_service_primary_task_set", update_service_primary_task_set)
        # moto gap: ListTasks accepts startedBy with other filters and lists stopped tasks by default.
        patcher.replace(backend, "list_tasks", list_tasks)

    @contextlib.contextmanager
    def unfiltered(self) -> Iterator[None]:
        """moto's own lookups (inside a call) see every task set, whatever the consistency window shows."""
        saved, self.window = self.window, ConsistencyWindow()
        try:
            yield
        finally:
            self.window = saved

    def uninstall(self) -> None:
        if self._patcher is not None:
            self._patcher.restore()
            self._patcher = None


# --- issue 12: executions end as in AWS ------------------------------------------------------------
# AWS ends a Standard execution that runs for one year (TIMED_OUT, no Catch).
ONE_YEAR_SECONDS = 365 * 24 * 3600
STATUS_CHANGE = "Step Functions Execution Status Change"

_DYNAMODB_LOCK = threading.RLock()
_DYNAMODB_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
)


class Deliveries:
    """Status-change events being delivered to their targets (the emulator waits for them)."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        with self._cond:
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


DELIVERIES = Deliveries()


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The EventBridge entry AWS publishes for a status change of a Standard execution."""
    status = execution.exec_status.value
    state_machine_arn = execution.state_machine_arn
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": None if status == "RUNNING" else _millis(execution.stop_date),
        "input": execution.execution_input or "{}",
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }
    # No redriveCount / redriveDate: they are not among the event's documented fields (Step Functions developer
    # guide, "Automating Step Functions event delivery with EventBridge"), so the emulator publishes only those;
    # a redrive shows in DescribeExecution's documented redriveCount (patched in above).
    if status == "SUCCEEDED":
        detail["output"] = json.dumps(execution.output)
        detail["outputDetails"] = {"included": True}
    return {
        "Source": "aws.states",
        "DetailType": STATUS_CHANGE,
        "Detail": json.dumps(detail, default=str),
        "Resources": [execution.exec_arn],
    }


def _publish(execution: Any) -> None:
    with DELIVERIES.delivering():
        events_backends[execution.account_id][execution.region_name].put_events([status_change_event(execution)])


@contextlib.contextmanager
def execution_lifecycle(execution_timeout: Callable[[], float | None] | None = None) -> Iterator[None]:
    """Issue 12: executions end as in AWS (stopped, timed out, named), their status changes are published,
    and DynamoDB item writes are atomic; ``execution_timeout`` answers the limit in (simulated) seconds."""
    patcher = Patcher()

    # moto gap: moto's DynamoDB conditional writes are not atomic across the server's threads (two racing
    # conditional updates can both succeed), and its responses are built from the live items after the backend
    # call returned (a read racing a write fails with "dictionary changed size during iteration"). DynamoDB's
    # item operations are atomic and isolated: one lock serialises every request, the backend call and the
    # response built from its items (nothing here calls moto's DynamoDB backend other than through a request).
    for method in _DYNAMODB_METHODS:
        handler = getattr(DynamoHandler, method, None)
        if handler is None:
            continue

        def serialised(*args: Any, __handler: Any = handler, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return __handler(*args, **kwargs)

        patcher.replace(DynamoHandler, method, functools.wraps(handler)(serialised))

    # moto gap: StartExecution without a name uses the name "None" (a second unnamed start is refused as a
    # duplicate); AWS generates a unique name (a UUID).
    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):  # noqa: ANN001
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    patcher.replace(StepFunctionsParserBackend, "start_execution", start_execution)

    # moto gap: StopExecution of an execution waiting for a task token ends it FAILED (the interrupted wait
    # is reported as an error that overwrites the stopped state) and the wait may go on; the same for a
    # timeout. AWS ends it ABORTED (TIMED_OUT) at once and runs no further state: the end wins over any
    # later error, and the waits end.
    original_set_error = Environment.set_error
    original_set_timed_out = Environment.set_timed_out
    original_set_stop = Environment.set_stop

    def set_error(self, error):  # noqa: ANN001 - moto's signature
        if isinstance(self._program_state, ProgramStopped | ProgramTimedOut):
            return  # the execution already ended; the interrupted wait's error is not an end
        original_set_error(self, error)

    def set_timed_out(self):  # noqa: ANN001 - moto's signature
        if isinstance(self._program_state, ProgramStopped):
            return
        _end_history(self)
        original_set_timed_out(self)
        _interrupt_waits(self)

    def set_stop(self, stop_date, cause, error):  # noqa: ANN001 - moto's signature
        _end_history(self)
        original_set_stop(self, stop_date, cause, error)
        _interrupt_waits(self)

    patcher.replace(Environment, "set_error", set_error)
    # moto gap: a timeout does not end the execution's waits (see above).
    patcher.replace(Environment, "set_timed_out", set_timed_out)
    # moto gap: StopExecution does not end the execution's waits (see above).
    patcher.replace(Environment, "set_stop", set_stop)

    # moto gap: after StopExecution (or the time limit) moto's interpreter goes on recording the events of the
    # state it was in: a waitForTaskToken task stopped before its wait began no longer evaluates its
    # TimeoutSeconds, pops the state's input as the timeout and records a TaskFailed ("States.Runtime",
    # "unsupported operand type(s) for +: 'float' and 'dict'") before ExecutionAborted. AWS records nothing
    # of the interrupted state after the stop: the history ends with ExecutionAborted (ExecutionTimedOut).
    original_add_event = EventManager.add_event

    def add_event(self, context, event_type, *args, **kwargs):  # noqa: ANN001 - moto's signature
        if getattr(self, "ended", False) and event_type not in (
            HistoryEventType.ExecutionAborted,
            HistoryEventType.ExecutionTimedOut,
        ):
            return context.last_published_event_id
        return original_add_event(self, context, event_type, *args, **kwargs)

    patcher.replace(EventManager, "add_event", add_event)

    # moto gap: an execution runs for ever when the definition has no TimeoutSeconds; AWS ends a Standard
    # execution TIMED_OUT after one year. The limit is counted in the emulator's simulated time.
    original_eval = program_module.Program.eval

    def program_eval(self, env):  # noqa: ANN001 - moto's signature
        limit = execution_timeout() if execution_timeout else None
        if self.timeout_seconds or limit is None or env.is_frame():
            original_eval(self, env)
        else:
            _eval_with_limit(self, env, limit)
        _record_early_stop(env)

    patcher.replace(program_module.Program, "eval", program_eval)

    # moto gap: moto publishes no execution status changes to EventBridge; AWS publishes
    # "Step Functions Execution Status Change" (source aws.states) for RUNNING and every end.
    original_start_exec = Execution.start
    original_terminated = BaseExecutionWorkerCommunication.terminated

    def start(self):  # noqa: ANN001 - moto's signature
        original_start_exec(self)
        if type(self) is Execution:  # Standard executions only (express/sync ones publish nothing)
            _publish(self)

    def terminated(self):  # noqa: ANN001 - moto's signature
        original_terminated(self)
        if type(self.execution) is Execution:
            _publish(self.execution)

    patcher.replace(Execution, "start", start)
    # moto gap: nor is the end of an execution published (see above).
    patcher.replace(BaseExecutionWorkerCommunication, "terminated", terminated)

    # moto gap: moto has no RedriveExecution. AWS resumes a FAILED, ABORTED or TIMED_OUT Standard execution
    # (ended in the last 14 days) from the state that did not finish, with that state's input, under the
    # same ARN; the history goes on with ExecutionRedriven, redriveCount grows, and the RUNNING status
    # change is published with it. Any other execution is refused with ExecutionNotRedrivable.
    patcher.replace(StepFunctionsParserBackend, "redrive_execution", redrive_execution, missing=True)
    # moto gap: nor does its API answer RedriveExecution (see above).
    patcher.replace(StepFunctionResponse, "redrive_execution", _redrive_response, missing=True)
    # moto gap: moto's StopExecution drops the error and cause it is given; AWS records them in the
    # ExecutionAborted event (what the console shows as why the execution was stopped).
    patcher.replace(StepFunctionResponse, "stop_execution", _stop_response)
    # moto gap: DescribeExecution answers no redriveCount / redriveDate / redriveStatus, which AWS documents
    # (DescribeExecution, Step Functions API reference) and ExecutionEnded reads to recognise a redrive.
    original_describe_execution = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> Any:
        result = original_describe_execution(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        response = dict(result.result)
        response["redriveCount"] = int(getattr(execution, "redrive_count", 0) or 0)
        if getattr(execution, "redrive_date", None):
            response["redriveDate"] = execution.redrive_date
        if execution.status == "RUNNING":
            response["redriveStatus"] = "NOT_REDRIVABLE"
        return ActionResult(response)

    patcher.replace(StepFunctionResponse, "describe_execution", describe_execution)
    try:
        yield
    finally:
        patcher.restore()


class TaskSetNotFound(ECSException):
    """What ECS answers DeleteTaskSet (and UpdateTaskSet) for a task set that does not exist (any more)."""

    def __init__(self) -> None:
        super().__init__("TaskSetNotFoundException", "The specified task set wasn't found.")


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


REDRIVE_WINDOW = timedelta(days=14)


def unfinished_state(events: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """The state an execution was in when it ended (entered, never exited), and its input."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in events:
        if event["type"].endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            open_states[details["name"]] = json.loads(details.get("input") or "{}")
            order.append(details["name"])
        elif event["type"].endswith("StateExited"):
            open_states.pop(event["stateExitedEventDetails"]["name"], None)
    last = next((name for name in reversed(order) if name in open_states), None)
    return (last, open_states[last]) if last is not None else None


class _RedriveWorker(ExecutionWorker):
    """Runs an execution again from ``state`` with ``state_input``; its history goes on from ``previous``."""

    def __init__(self, base: ExecutionWorker, state: str, state_input: Any, previous: list[Any], count: int):
        super().__init__(
            evaluation_details=base._evaluation_details,
            exec_comm=base._execution_communication,
            cloud_watch_logging_session=base._cloud_watch_logging_session,
            activity_store=base._activity_store,
        )
        self._state, self._state_input, self._previous, self._count = state, state_input, previous, count

    def _get_evaluation_entrypoint(self) -> Any:
        definition = json.loads(self._evaluation_details.state_machine_details.definition)
        definition["StartAt"] = self._state
        return AmazonStateLanguageParser.parse(json.dumps(definition))[0]

    def prepare(self) -> None:
        """Build the environment before the thread starts: a StopExecution right after the redrive finds it."""
        self._program = self._get_evaluation_entrypoint()
        self.env = env = self._get_evaluation_environment()
        env.states.reset(input_value=self._state_input)  # $$.Execution.Input stays the original input
        manager = env.event_manager
        manager._history_event_list.extend(self._previous)
        manager._event_id_gen._next_id = len(self._previous) + 1
        env.event_history_context.source_event_id = len(self._previous)
        manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": self._count}),
            update_source_event_id=False,
        )

    def _execution_logic(self) -> None:
        assert self.env is not None
        self._program.eval(self.env)
        self._execution_communication.terminated()


def redrive_execution(self: Any, execution_arn: str, client_token: str | None = None) -> Any:
    execution = self.describe_execution(execution_arn)
    status = execution.exec_status.value if execution.exec_status else "RUNNING"
    if type(execution) is not Execution or status not in ("FAILED", "ABORTED", "TIMED_OUT"):
        raise ExecutionNotRedrivable(f"Execution {execution_arn} is {status}: it cannot be redriven.")
    if execution.stop_date and datetime.now(UTC) - execution.stop_date > REDRIVE_WINDOW:
        raise ExecutionNotRedrivable(f"Execution {execution_arn} ended more than 14 days ago.")
    previous = execution.exec_worker.env.event_manager.get_event_history()
    unfinished = unfinished_state(previous)
    if unfinished is None:
        raise ExecutionNotRedrivable(f"Execution {execution_arn} has no unfinished state to redrive.")
    execution.redrive_count = getattr(execution, "redrive_count", 0) + 1
    execution.redrive_date = datetime.now(UTC)
    worker = _RedriveWorker(execution._get_start_execution_worker(), *unfinished, previous, execution.redrive_count)
    worker.prepare()
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None
    worker.start()
    _publish(execution)
    return execution


def _redrive_response(self: Any) -> Any:
    execution = self.stepfunction_backend.redrive_execution(
        self._get_param("executionArn"), self._get_param("clientToken")
    )
    return ActionResult({"redriveDate": execution.redrive_date})


def _stop_response(self: Any) -> Any:
    arn = self._get_param("executionArn")
    backend = self.stepfunction_backend
    execution = backend.describe_execution(arn)
    if execution.status == "RUNNING":
        error, cause = self._get_param("error") or "", self._get_param("cause") or ""
        execution.stop(stop_date=datetime.now(UTC), error=error[:256], cause=cause[:32768])
    return ActionResult({"stopDate": execution.stop_date or datetime.now(UTC)})


def _record_early_stop(env: Any) -> None:
    """moto gap: a StopExecution that lands before the program evaluates its first state (a stop right
    after StartExecution or RedriveExecution) ends the execution ABORTED without an ExecutionAborted event,
    so its error and cause are lost. AWS always ends the history with ExecutionAborted."""
    state = env.program_state()
    if env.is_frame() or not isinstance(state, ProgramStopped):
        return
    history = env.event_manager.get_event_history()
    if history and history[-1]["type"] == HistoryEventType.ExecutionAborted:
        return
    env.event_history_context.source_event_id = 0
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionAborted,
        event_details=EventDetails(executionAbortedEventDetails={"error": state.error, "cause": state.cause}),
    )


def _end_history(env: Any) -> None:
    """The execution ended (StopExecution, its time limit): its history takes only the terminal event now.

    The execution's own environment only: a frame (a Parallel branch stopped because a sibling failed, a Map
    iteration) shares the execution's event manager, and its stop ends nothing but itself."""
    if not env.is_frame():
        env.event_manager.ended = True


def _interrupt_waits(env: Any) -> None:
    pool = getattr(env.callback_pool_manager, "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def _eval_with_limit(program: Any, env: Any, limit: float) -> None:
    """``Program.eval`` with the execution's time limit counted on the simulated clock."""
    from bluegreen import clock  # the emulator points the workflow clock at its SimClock

    env.next_state_name = program.start_at.start_at_name
    started = clock.now()
    worker = threading.Thread(target=super(program_module.Program, program).eval, args=(env,), daemon=True)
    program_module.TMP_THREADS.append(worker)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.005)
        if worker.is_alive() and (clock.now() - started).total_seconds() >= limit:
            env.set_timed_out()
            worker.join(timeout=5)
            return


# --- deployment controllers (installed by the emulator; issue #10: first deployment, adopt) --------
def enforce_deployment_controllers(patcher: Patcher) -> None:
    """Task sets belong to EXTERNAL services, and no service is switched to or from EXTERNAL in place."""
    original_create_task_set = EC2ContainerServiceBackend.create_task_set
    original_update_service = EC2ContainerServiceBackend.update_service

    # moto gap: CreateTaskSet succeeds on a service of any deployment controller; AWS refuses it
    # (InvalidParameterException) unless the service uses the EXTERNAL controller (ECS developer guide,
    # "Deploy Amazon ECS services using a third-party controller": task sets are the external API).
    def create_task_set(self: Any, service: str, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self._get_cluster(cluster_str)
        found = self.services.get(f"{cluster.name}:{service.split('/')[-1]}")
        if found is not None and (found.deployment_controller or {}).get("type") != "EXTERNAL":
            raise InvalidParameterException(
                "Amazon ECS only supports task set management on services configured to use external "
                "deployment controllers."
            )
        return original_create_task_set(self, service, cluster_str, *args, **kwargs)

    # moto gap: UpdateService sets any deploymentController. AWS documents in-place controller changes
    # only between CODE_DEPLOY and ECS (the CodeDeploy -> ECS blue/green migration); a service moves to
    # or from EXTERNAL only as a new service (CloudFormation: DeploymentController "Update requires:
    # Replacement").
    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        wanted = (service_properties.get("deployment_controller") or {}).get("type")
        if wanted:
            cluster = self._get_cluster(service_properties.get("cluster", "default"))
            found = self.services.get(f"{cluster.name}:{service_properties['service'].split('/')[-1]}")
            current = (found.deployment_controller or {}).get("type", "ECS") if found else None
            if current and wanted != current and "EXTERNAL" in (wanted, current):
                raise InvalidParameterException(
                    f"Updating the deployment controller from {current} to {wanted} is not supported."
                )
        return original_update_service(self, service_properties)

    patcher.replace(EC2ContainerServiceBackend, "create_task_set", create_task_set)
    patcher.replace(EC2ContainerServiceBackend, "update_service", update_service)


# --- iam:SimulatePrincipalPolicy (bluegreen doctor) ---------------------------------------------------
# (role ARN, action, resource ARN, context keys) -> allowed | implicitDeny | explicitDeny | None (unknown role)
Simulate = Callable[[str, str, str, dict[str, str]], "str | None"]


def simulate_principal_policy(patcher: Patcher, evaluate: Simulate) -> None:
    """Answer SimulatePrincipalPolicy for the stack's roles from the policies the emulator enforces."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.responses import IamResponse

    def simulate(self: Any) -> ActionResult:
        source = self._get_param("PolicySourceArn")
        actions = self._get_param("ActionNames") or []  # moto parses IAM's query parameters by its model
        resources = self._get_param("ResourceArns") or ["*"]
        context = {
            str(entry["ContextKeyName"]): str((entry.get("ContextKeyValues") or [""])[0])
            for entry in self._get_param("ContextEntries") or []
        }
        results = []
        for action in actions:
            for resource in resources:
                decision = evaluate(source, action, resource, context)
                if decision is None:
                    raise NotFoundException(f"Role {source} is not one of the emulated stack's roles")
                results.append({"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision})
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    # moto gap: moto does not implement SimulatePrincipalPolicy (NotImplementedError); IAM evaluates the
    # principal's identity policies for each action and resource with the given context keys
    # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html). The emulator
    # answers it for its stack's roles through its own IAM engine (local/iam.py), the one that authorizes calls.
    patcher.replace(IamResponse, "simulate_principal_policy", simulate, missing=True)


# --- services a user builds through the API (local/own_service.py, any EXTERNAL service) ---------------
def scheduler_reacts(patcher: Patcher, account: str, region: str, reconcile: Callable[[], None]) -> None:
    """``reconcile`` (the data plane) runs after each ECS call that changes what the scheduler must run."""
    for name in ("create_service", "update_service", "create_task_set", "update_task_set", "delete_service"):
        original = getattr(EC2ContainerServiceBackend, name)

        def after(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            result = _original(self, *args, **kwargs)
            if self.account_id == account and self.region_name == region:
                reconcile()
            return result

        # moto gap: moto's ECS has no scheduler; the data plane places the tasks, as soon as the call is made.
        patcher.replace(EC2ContainerServiceBackend, name, after)


def private_dns_names(patcher: Patcher) -> None:
    """Every network interface has a private DNS name, whatever the VPC's ``enableDnsHostnames``."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ec2.utils import generate_dns_from_ip

    original = NetworkInterfaceBackend.create_network_interface

    def create_network_interface(self: Any, *args: Any, **kwargs: Any) -> Any:
        eni = original(self, *args, **kwargs)
        if not getattr(eni, "private_dns_name", None) and eni.private_ip_address:
            eni.private_dns_name = generate_dns_from_ip(eni.private_ip_address)
        return eni

    # moto gap: moto sets an ENI's private DNS name only in a VPC with DNS hostnames enabled (``aws ec2 create-vpc``
    # leaves them off), and its ECS Task then fails reading it (AttributeError) for any awsvpc task in such a VPC.
    # EC2 gives every interface a private IPv4 DNS name, ip-<address>.ec2.internal in us-east-1
    # (https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html#vpc-dns-hostnames).
    patcher.replace(NetworkInterfaceBackend, "create_network_interface", create_network_interface)


def describe_alarm_history(patcher: Patcher, now: Callable[[], datetime]) -> None:
    """DescribeAlarmHistory on moto's CloudWatch, and configuration updates recorded by PutMetricAlarm."""
    from .alarm_history import HISTORY, HISTORY_TYPES, MAX_RECORDS, HistoryItem, _aware, parse_date

    original_put_metric_alarm = CloudWatchBackend.put_metric_alarm

    def describe(self: Any) -> ActionResult:
        name = self._get_param("AlarmName")
        types = self._get_param("AlarmTypes", []) or []
        item_type = self._get_param("HistoryItemType")
        if item_type and item_type not in HISTORY_TYPES:
            raise CloudWatchValidationError(
                f"1 validation error detected: Value '{item_type}' at 'historyItemType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(HISTORY_TYPES)}]"
            )
        try:
            start, end = parse_date(self._get_param("StartDate")), parse_date(self._get_param("EndDate"))
        except ValueError as error:
            raise CloudWatchValidationError(f"Invalid StartDate or EndDate: {error}") from error
        limit = int(self._get_param("MaxRecords") or MAX_RECORDS)
        if not 1 <= limit <= MAX_RECORDS:
            raise CloudWatchValidationError(f"MaxRecords must be between 1 and {MAX_RECORDS}")
        offset = int(self._get_param("NextToken") or 0)
        items = [
            item
            for item in HISTORY.items(self.current_account, self.region)
            if (not name or item.alarm_name == name)
            and (not types or item.alarm_type in types)
            and (not item_type or item.history_item_type == item_type)
            and (start is None or item.timestamp >= start)
            and (end is None or item.timestamp <= end)
        ]
        if self._get_param("ScanBy") != "TimestampAscending":
            items.reverse()
        page = items[offset : offset + limit]
        result: dict[str, Any] = {"AlarmHistoryItems": [item.as_dict() for item in page]}
        if offset + limit < len(items):
            result["NextToken"] = str(offset + limit)
        return ActionResult(result)

    def put_metric_alarm_recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", args[0] if args else None)
        existed = name in self.alarms
        alarm = original_put_metric_alarm(self, *args, **kwargs)
        HISTORY.add(
            HistoryItem(
                self.account_id,
                self.region_name,
                alarm.name,
                "MetricAlarm",
                _aware(now()),
                "ConfigurationUpdate",
                f'Alarm "{alarm.name}" {"updated" if existed else "created"}',
                json.dumps({"version": "1.0", "type": "Update" if existed else "Create"}),
            )
        )
        return alarm

    # moto gap: moto has no DescribeAlarmHistory (the action answered HTTP 500); CloudWatch returns each alarm's
    # state changes and configuration updates.
    patcher.replace(CloudWatchResponse, "describe_alarm_history", describe, missing=True)
    # moto gap: PutMetricAlarm records no history; CloudWatch records a ConfigurationUpdate item.
    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm_recorded)


# --- CloudFormation: a user's own template (aws cloudformation deploy against local serve) -------------
@contextlib.contextmanager
def cloudformation_templates(on_created: Callable[[Any, dict[str, Any]], None] | None = None) -> Iterator[None]:
    """A user's own CloudFormation template deploys (see local/cfn.py for the models these patches install);
    ``on_created(stack, template)`` runs after each stack creation or change set that succeeded (``template``:
    the one applied, as a dict; a change set's stack keeps its first one)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Event, Stack
    from moto.ec2.models.vpcs import VPC
    from moto.ecs.models import Service, TaskDefinition
    from moto.elbv2.models import FakeLoadBalancer, elbv2_backends

    from .cfn import ResourceFailed, create_service, create_task_definition, supported, unsupported_reason

    patcher = Patcher()
    original_create_resource = parsing.parse_and_create_resource
    original_target_group = FakeTargetGroup.__dict__["create_from_cloudformation_json"].__func__
    original_create_resources = Stack.create_resources
    original_execute = CloudFormationBackend.execute_change_set

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):  # noqa: ANN001
        # An unknown type is skipped by moto (the stack completes without it); an error fails the API call.
        resource_type = resource_json.get("Type", "")
        if not supported(resource_type):
            raise ResourceFailed(logical_id, resource_type, unsupported_reason(resource_type))
        try:
            return original_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceFailed:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of one resource fails the stack, as in AWS
            raise ResourceFailed(logical_id, resource_type, f"{type(error).__name__}: {error}") from error

    def create_target_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
        # TargetGroupAttributes are ignored by moto (the data plane reads the deregistration delay).
        group = original_target_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        attributes = cloudformation_json["Properties"].get("TargetGroupAttributes") or []
        if attributes:
            elbv2_backends[account_id][region_name].modify_target_group_attributes(
                group.arn, {item["Key"]: str(item["Value"]) for item in attributes}
            )
        return group

    original_balancer_attribute = FakeLoadBalancer.get_cfn_attribute

    def balancer_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        # GetAtt LoadBalancerFullName and SecurityGroups raise NotImplementedError in moto (an alarm's
        # LoadBalancer dimension is the full name, app/NAME/ID).
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]
        if attribute_name == "SecurityGroups":
            return list(self.security_groups)
        return original_balancer_attribute(self, attribute_name)

    def target_group_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
        # A moto target group has no GetAtt at all (an alarm's TargetGroup dimension is its full name).
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        values = {
            "TargetGroupFullName": self.arn.split(":", 5)[5],
            "TargetGroupName": self.name,
            "TargetGroupArn": self.arn,
            "LoadBalancerArns": list(self.load_balancer_arns),
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    original_vpc = VPC.__dict__["create_from_cloudformation_json"].__func__

    def create_vpc(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
        # EnableDnsHostnames and EnableDnsSupport are ignored by moto (moto's ECS tasks need a VPC with DNS
        # hostnames for their private DNS name).
        vpc = original_vpc(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json["Properties"]
        for key, attribute in (
            ("EnableDnsHostnames", "enable_dns_hostnames"),
            ("EnableDnsSupport", "enable_dns_support"),
        ):
            if key in properties:
                setattr(vpc, attribute, str(properties[key]).lower() == "true")
        return vpc

    def roll_back(stack: Stack, failed: ResourceFailed) -> None:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=failed.logical_id,
                physical_resource_id="",
                resource_type=failed.resource_type,
                resource_status="CREATE_FAILED",
                resource_status_reason=failed.reason,
                resource_properties=None,
            )
        )
        stack._add_stack_event(
            "ROLLBACK_IN_PROGRESS",
            resource_status_reason=f"The following resource(s) failed to create: [{failed.logical_id}]. "
            "Rollback requested by user.",
        )
        with contextlib.suppress(Exception):  # what was created is deleted, as far as moto can
            stack.resource_map.delete()
        # A rolled-back stack lists no resources and no outputs (moto would try to create them again).
        stack.resource_map._resource_json_map = {}
        stack.output_map._output_json_map = {}
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"

    def create_resources(self: Stack) -> None:
        try:
            original_create_resources(self)
        except ResourceFailed as failed:
            roll_back(self, failed)
            return
        if on_created:
            on_created(self, self.template_dict)

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
        )
        try:
            original_execute(self, change_set_name, stack_name)
        except ResourceFailed as failed:
            if change_set is None or change_set.change_set_type != "CREATE":
                raise
            change_set.execution_status = "EXECUTE_FAILED"
            roll_back(self.stacks[change_set.stack_id], failed)
            return
        if on_created and change_set is not None:
            on_created(self.stacks[change_set.stack_id], change_set.template_dict)

    # The model list is cached: seen afresh, it holds cfn.MetricAlarmResource (a subclass of CloudFormationModel).
    # moto gap: AWS::CloudWatch::Alarm has no model (cfn.MetricAlarmResource); a type moto does not model is
    # skipped and a failing resource fails the API call, where AWS records CREATE_FAILED and rolls back.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    patcher.replace(parsing, "parse_and_create_resource", parse_and_create_resource)
    # moto gap: the VPC's EnableDnsHostnames and EnableDnsSupport are ignored.
    patcher.replace(VPC, "create_from_cloudformation_json", classmethod(create_vpc))
    # moto gap: a task definition loses its network mode, roles, CPU and compatibilities.
    patcher.replace(TaskDefinition, "create_from_cloudformation_json", classmethod(create_task_definition))
    # moto gap: an EXTERNAL service (no TaskDefinition) fails; the controller, network and load balancers are lost.
    patcher.replace(Service, "create_from_cloudformation_json", classmethod(create_service))
    # moto gap: a target group's TargetGroupAttributes are ignored.
    patcher.replace(FakeTargetGroup, "create_from_cloudformation_json", classmethod(create_target_group))
    # moto gap: a failed resource rolls the stack back (CREATE_FAILED, ROLLBACK_COMPLETE) instead of raising.
    patcher.replace(Stack, "create_resources", create_resources)
    # moto gap: GetAtt LoadBalancerFullName and SecurityGroups raise NotImplementedError.
    patcher.replace(FakeLoadBalancer, "get_cfn_attribute", balancer_attribute)
    # moto gap: a target group has no GetAtt (TargetGroupFullName, the alarm dimension).
    patcher.replace(FakeTargetGroup, "get_cfn_attribute", target_group_attribute, missing=True)
    # moto gap: a change set whose resource fails rolls the new stack back instead of raising.
    patcher.replace(CloudFormationBackend, "execute_change_set", execute_change_set)
    try:
        yield
    finally:
        patcher.restore()
