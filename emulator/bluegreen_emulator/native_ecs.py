"""ECS native blue/green deployments on the emulator (controller ``ECS``, strategies BLUE_GREEN, LINEAR, CANARY).

moto 5.2.5 has no native blue/green: CreateService ignores ``deploymentConfiguration``, UpdateService copies
it onto the service and changes the task definition at once (no service revision, no lifecycle stage, no
hook), and DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment and ContinueServiceDeployment are not implemented. :class:`NativeEcs` fills those gaps
(each marked ``# moto gap:``) with a model of what the ECS developer guide documents:

* UpdateService with a new task definition on a service whose ``deploymentConfiguration.strategy`` is
  ``BLUE_GREEN``, ``LINEAR`` or ``CANARY`` starts a service deployment towards a new service revision; it goes
  through the lifecycle stages in order, in simulated time (:class:`~bluegreen_emulator.simclock.SimClock`);
* at each hook stage the configured hooks run one after the other: an ``AWS_LAMBDA`` hook is invoked with the
  documented payload and invoked again ``callBackDelay`` seconds (default 30) after each ``IN_PROGRESS``; a
  ``FAILED`` answer, an answer without a valid ``hookStatus`` or a function error rolls back; a ``PAUSE`` hook
  waits ``AWAITING_ACTION`` (an ``ECS Hook State Change`` event, HOOK_AWAITING_ACTION) for
  ContinueServiceDeployment; a hook past its ``timeoutConfiguration`` takes its timeout action (default
  ROLLBACK after 1,440 minutes);
* TEST_TRAFFIC_SHIFT moves the test listener rule to green, PRODUCTION_TRAFFIC_SHIFT the production one (all
  at once; LINEAR by ``stepPercent`` and CANARY by ``canaryPercent`` then the rest, each step preceded by
  PRE_PRODUCTION_TRAFFIC_SHIFT and followed by its step bake, except the last: "this stage is invoked before
  every traffic shift step", "This bake time is not applied after reaching 100 percent" (API reference));
  BAKE_TIME waits ``bakeTimeInMinutes``; CLEAN_UP scales blue to zero and the deployment is SUCCESSFUL;
* an alarm of ``deploymentConfiguration.alarms`` (enabled, rollback) in ALARM, StopServiceDeployment ROLLBACK
  or ContinueServiceDeployment ROLLBACK rolls back: both rules back to blue, green scaled to zero, the service
  back on blue's task definition, ROLLBACK_SUCCESSFUL.

What the guide does not say is chosen and marked "emulator:" below (a rollback completes at once, an
UpdateService during a deployment is refused). It is opt-in: nothing installs it
unless a test or the emulator calls :meth:`NativeEcs.install`.
"""

# ruff: noqa: E402 - moto's internals are imported only after the version check below
from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .patches import Patcher, check_moto_version

check_moto_version()

from moto.cloudwatch.models import cloudwatch_backends
from moto.ecs.exceptions import ECSException
from moto.ecs.models import EC2ContainerServiceBackend, Service
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import elbv2_backends

from bluegreen.domain.native import DEPLOYMENT_STAGES, MAX_HOOK_TIMEOUT_MINUTES, PAUSE_NOT_ALLOWED

from .simclock import SimClock

DEFAULT_CALLBACK_DELAY = 30.0  # seconds: "By default, the delay is 30 seconds" (Lambda hooks guide)
DEFAULT_HOOK_TIMEOUT = 1_440 * 60.0  # DeploymentLifecycleHookTimeoutConfiguration default, seconds
SCALE_UP_SECONDS = 60.0  # emulator: how long green's tasks take to start (SCALE_UP)
HOOK_STAGES = {stage for stage in DEPLOYMENT_STAGES if stage not in {"SCALE_UP", "BAKE_TIME", "CLEAN_UP"}}
IN_PROGRESS = "IN_PROGRESS"
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
FINISHED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}

# (function ARN, payload, role ARN) -> (payload bytes, function error or None)
HookInvoker = Callable[[str, dict[str, Any], str], tuple[bytes, str | None]]


class NativeError(ECSException):
    """An error ECS answers with for these operations (the codes are the API reference's)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _invalid(message: str) -> NativeError:
    return NativeError("InvalidParameterException", message)


@dataclass
class Revision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    created_at: datetime
    load_balancers: list[dict[str, Any]]

    def describe(self) -> dict[str, Any]:
        return {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "loadBalancers": self.load_balancers,
            "createdAt": self.created_at,
        }


@dataclass
class HookRun:
    """One configured hook at one stage of one deployment (a lifecycleHookDetails entry)."""

    hook_id: str
    stage: str
    target_type: str
    target_arn: str | None
    role_arn: str | None
    details: dict[str, Any] | None
    expires_at: float  # simulated seconds
    timeout_action: str
    status: str = "IN_PROGRESS"
    next_call: float = 0.0
    invocations: int = 0
    announced: bool = False

    def describe(self, clock: SimClock) -> dict[str, Any]:
        item: dict[str, Any] = {
            "hookId": self.hook_id,
            "targetType": self.target_type,
            "status": self.status,
            "expiresAt": _at(clock, self.expires_at),
            "timeoutAction": self.timeout_action,
        }
        if self.target_arn:
            item["targetArn"] = self.target_arn
        return item


@dataclass
class Deployment:
    arn: str
    service: Service
    source: Revision
    target: Revision
    configuration: dict[str, Any]
    production_rule: str
    test_rule: str | None
    blue_group: str
    green_group: str
    created_at: float
    status: str = IN_PROGRESS
    status_reason: str = ""
    stage_index: int = -1
    stage_entered: float = 0.0
    stage_ready_at: float = 0.0  # a timed stage (SCALE_UP, BAKE_TIME) lasts until then
    hooks: list[HookRun] = field(default_factory=list)
    hook_history: list[HookRun] = field(default_factory=list)
    finished_at: float | None = None
    rollback: dict[str, Any] | None = None
    test_weight: float = 0.0  # green's share, percent
    production_weight: float = 0.0
    green_running: int = 0
    blue_running: int = 0
    steps: list[float] = field(default_factory=lambda: [100.0])  # green's production share after each shift
    step: int = 0
    step_baked: bool = False

    def step_bake_seconds(self) -> float:
        """The wait after a partial production shift (LINEAR stepBakeTimeInMinutes, CANARY canaryBakeTime...)."""
        strategy = self.configuration.get("strategy")
        if strategy == "LINEAR":
            return 60.0 * float((self.configuration.get("linearConfiguration") or {}).get("stepBakeTimeInMinutes", 6))
        if strategy == "CANARY":
            canary = self.configuration.get("canaryConfiguration") or {}
            return 60.0 * float(canary.get("canaryBakeTimeInMinutes", 10))
        return 0.0

    @property
    def stage(self) -> str:
        return DEPLOYMENT_STAGES[max(0, self.stage_index)]

    def weights(self) -> tuple[dict[str, float], dict[str, float]]:
        test = {self.target.arn: self.test_weight, self.source.arn: 100.0 - self.test_weight}
        production = {self.target.arn: self.production_weight, self.source.arn: 100.0 - self.production_weight}
        return test, production


def _at(clock: SimClock, elapsed: float) -> datetime:
    """The wall-clock time of a moment given in simulated seconds."""
    return clock.now() + timedelta(seconds=elapsed - clock.elapsed)


class NativeEcs:
    """The native blue/green model and the moto patches that expose it (install / uninstall)."""

    def __init__(self, clock: SimClock, invoke: HookInvoker, seed: int = 0) -> None:
        self.clock = clock
        self.invoke = invoke
        self.random = random.Random(seed)
        self.deployments: dict[str, Deployment] = {}
        self.revisions: dict[str, Revision] = {}
        self.current_revision: dict[str, Revision] = {}  # service ARN -> the revision serving production
        self.serving_group: dict[str, str] = {}  # service ARN -> the target group production forwards to
        self.events: list[dict[str, Any]] = []  # what ECS would publish to EventBridge
        self.publish: Callable[[dict[str, Any]], None] | None = None
        self._lock = threading.RLock()
        self._ticking = False
        self._patcher: Patcher | None = None

    def _token(self, length: int) -> str:
        """A random identifier, deterministic per seed."""
        return "".join(self.random.choice(TOKEN_CHARS) for _ in range(length))

    # --- installation ----------------------------------------------------------------------------------
    def install(self) -> NativeEcs:
        patcher = self._patcher = Patcher()
        model = self
        original_create = EC2ContainerServiceResponse.create_service
        original_update = EC2ContainerServiceBackend.update_service

        def create_service(response: EC2ContainerServiceResponse) -> Any:
            result = original_create(response)
            configuration = response._get_param("deploymentConfiguration")
            if configuration is not None:
                result.result["service"].deployment_configuration = configuration
            return result

        def update_service(backend: EC2ContainerServiceBackend, properties: dict[str, Any]) -> Service:
            return model._update_service(backend, properties, original_update)

        # moto gap: CreateService drops deploymentConfiguration (strategy, bake time, lifecycle hooks); ECS keeps
        # it and DescribeServices returns it.
        patcher.replace(EC2ContainerServiceResponse, "create_service", create_service)
        # moto gap: UpdateService changes the task definition at once; with strategy BLUE_GREEN ECS starts a
        # service deployment through the lifecycle stages.
        patcher.replace(EC2ContainerServiceBackend, "update_service", update_service)
        for operation in (
            "describe_service_deployments",
            "list_service_deployments",
            "describe_service_revisions",
            "stop_service_deployment",
            "continue_service_deployment",
        ):
            # moto gap: the service deployment operations are not implemented (moto answers "not yet
            # implemented"); each answers from the model here.
            patcher.replace(EC2ContainerServiceResponse, operation, _response(self, operation), missing=True)
        self.clock.listeners.append(self.tick)
        return self

    def uninstall(self) -> None:
        if self.tick in self.clock.listeners:
            self.clock.listeners.remove(self.tick)
        if self._patcher is not None:
            self._patcher.restore()
            self._patcher = None

    def __enter__(self) -> NativeEcs:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # --- UpdateService -----------------------------------------------------------------------------------
    def _update_service(
        self, backend: EC2ContainerServiceBackend, properties: dict[str, Any], original: Callable[..., Service]
    ) -> Service:
        cluster = properties.get("cluster", "default")
        name = str(properties.get("service", "")).split("/")[-1]
        service = backend._get_service(cluster, name)
        configuration = properties.get("deployment_configuration") or getattr(service, "deployment_configuration", {})
        new_definition = properties.get("task_definition")
        native = (
            service.deployment_controller.get("type") == "ECS"
            and (configuration or {}).get("strategy") in {"BLUE_GREEN", "LINEAR", "CANARY"}
            and (new_definition or properties.get("force_new_deployment"))
        )
        if not native:
            return original(backend, properties)
        with self._lock:
            balancers = properties.get("load_balancers") or service.load_balancers
            self._check(configuration, balancers)
            if any(d.service is service and d.status not in FINISHED for d in self.deployments.values()):
                raise NativeError(
                    "ClientException", "emulator: a service deployment is already in progress on this service"
                )
            source = self._revision_of(service, balancers)
            result = original(backend, properties)
            target = self._new_revision(result, balancers)
            self._start(result, source, target, configuration, balancers[0])
        self.tick()
        return result

    @staticmethod
    def _check(configuration: dict[str, Any], balancers: list[dict[str, Any]]) -> None:
        """What ECS refuses in a native blue/green configuration (API reference)."""
        for hook in configuration.get("lifecycleHooks", []):
            kind = hook.get("targetType", "AWS_LAMBDA")
            stages = hook.get("lifecycleStages") or []
            if not stages:
                raise _invalid("lifecycleStages is required for a deployment lifecycle hook")
            if kind == "PAUSE" and set(stages) & set(PAUSE_NOT_ALLOWED):
                raise _invalid("PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT")
            if kind == "AWS_LAMBDA" and not (hook.get("hookTargetArn") and hook.get("roleArn")):
                raise _invalid("an AWS_LAMBDA lifecycle hook needs hookTargetArn and roleArn")
            timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes", 1_440)
            if not 1 <= int(timeout) <= MAX_HOOK_TIMEOUT_MINUTES:
                raise _invalid(f"timeoutInMinutes must be between 1 and {MAX_HOOK_TIMEOUT_MINUTES}")
        linear = configuration.get("linearConfiguration") or {}
        if not 3.0 <= float(linear.get("stepPercent", 10.0)) <= 100.0:
            raise _invalid("stepPercent must be between 3.0 and 100.0")
        canary = configuration.get("canaryConfiguration") or {}
        if not 0.1 <= float(canary.get("canaryPercent", 5.0)) <= 100.0:
            raise _invalid("canaryPercent must be between 0.1 and 100.0")
        bake = configuration.get("bakeTimeInMinutes", 0)
        if not 0 <= int(bake) <= 1_440:
            raise _invalid("bakeTimeInMinutes must be between 0 and 1440")
        advanced = (balancers[0].get("advancedConfiguration") if balancers else None) or {}
        if not {"alternateTargetGroupArn", "productionListenerRule", "roleArn"} <= set(advanced):
            raise _invalid(
                "a BLUE_GREEN service needs a load balancer with advancedConfiguration (alternateTargetGroupArn, "
                "productionListenerRule, roleArn)"
            )

    def _revision_of(self, service: Service, balancers: list[dict[str, Any]]) -> Revision:
        current = self.current_revision.get(service.arn)
        if current is None:
            current = self._new_revision(service, balancers)
        return current

    def _new_revision(self, service: Service, balancers: list[dict[str, Any]]) -> Revision:
        number = "".join(self.random.choice("0123456789") for _ in range(19))
        arn = service.arn.replace(":service/", ":service-revision/", 1)
        if arn.count("/") == 1:  # short service ARN: the revision ARN names the cluster
            arn = arn.replace(":service-revision/", f":service-revision/{service.cluster_name}/", 1)
        revision = Revision(
            arn=f"{arn}/{number}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition=str(service.task_definition),
            created_at=self.clock.now(),
            load_balancers=[{k: v for k, v in b.items() if k != "advancedConfiguration"} for b in balancers],
        )
        self.revisions[revision.arn] = revision
        self.current_revision.setdefault(service.arn, revision)
        return revision

    def _start(
        self,
        service: Service,
        source: Revision,
        target: Revision,
        configuration: dict[str, Any],
        balancer: dict[str, Any],
    ) -> None:
        advanced = balancer["advancedConfiguration"]
        blue = self.serving_group.get(service.arn, balancer["targetGroupArn"])
        green = (
            advanced["alternateTargetGroupArn"] if blue == balancer["targetGroupArn"] else balancer["targetGroupArn"]
        )
        key = self._token(21)
        arn = target.arn.replace(":service-revision/", ":service-deployment/", 1).rsplit("/", 1)[0] + f"/{key}"
        deployment = Deployment(
            arn=arn,
            service=service,
            source=source,
            target=target,
            configuration=json.loads(json.dumps(configuration, default=str)),
            production_rule=advanced["productionListenerRule"],
            test_rule=advanced.get("testListenerRule"),
            blue_group=blue,
            green_group=green,
            created_at=self.clock.elapsed,
            blue_running=service.desired_count,
            steps=_steps(configuration),
        )
        self.deployments[arn] = deployment
        self._event(deployment, "ECS Deployment State Change", "SERVICE_DEPLOYMENT_IN_PROGRESS")
        self._enter(deployment, 0, self.clock.elapsed)

    # --- the lifecycle, in simulated time --------------------------------------------------------------
    def tick(self) -> None:
        """Run every deployment up to the clock's time, each event at its own simulated moment."""
        with self._lock:
            if self._ticking:
                return
            self._ticking = True
            try:
                now = self.clock.elapsed
                for deployment in list(self.deployments.values()):
                    self._run(deployment, now)
            finally:
                self._ticking = False

    def _run(self, deployment: Deployment, now: float) -> None:
        for _ in range(10_000):  # bounded: each pass either finishes a step or waits for a later moment
            if deployment.status not in {IN_PROGRESS}:
                return
            moment = self._next_moment(deployment)
            if moment is None or moment > now:
                return
            self._step(deployment, moment)

    def _next_moment(self, deployment: Deployment) -> float | None:
        """When the deployment next has something to do (``None``: it waits for an API call)."""
        if self._alarming(deployment):
            return self.clock.elapsed
        hook = next((h for h in deployment.hooks if h.status != "SUCCEEDED"), None)
        if hook is None:
            return deployment.stage_ready_at
        if hook.target_type == "PAUSE" and hook.status == "AWAITING_ACTION":
            return hook.expires_at
        return min(hook.next_call, hook.expires_at)

    def _step(self, deployment: Deployment, moment: float) -> None:
        # The stage's hooks finish at ``moment`` at the earliest: the next stage cannot start before it.
        deployment.stage_ready_at = max(deployment.stage_ready_at, moment)
        if self._alarming(deployment):
            names = ", ".join(self._alarms_in_alarm(deployment))
            self._roll_back(deployment, moment, f"the deployment alarms are in ALARM: {names}")
            return
        hook = next((h for h in deployment.hooks if h.status != "SUCCEEDED"), None)
        if hook is None:
            self._advance(deployment, moment)
            return
        if moment >= hook.expires_at:
            hook.status = "TIMED_OUT"
            if hook.timeout_action == "CONTINUE":
                hook.status = "SUCCEEDED"
            else:
                self._roll_back(deployment, moment, f"lifecycle hook {hook.hook_id} timed out at {hook.stage}")
            return
        if hook.target_type == "PAUSE":
            hook.status = "AWAITING_ACTION"
            if not hook.announced:
                hook.announced = True
                self._event(deployment, "ECS Hook State Change", "HOOK_AWAITING_ACTION", hook)
            return
        self._call(deployment, hook, moment)

    def _call(self, deployment: Deployment, hook: HookRun, moment: float) -> None:
        test, production = deployment.weights()
        payload = {
            "executionId": hook.hook_id,
            "lifecycleStage": hook.stage,
            "resourceArn": deployment.arn,
            "executionDetails": {
                "serviceArn": deployment.service.arn,
                "targetServiceRevisionArn": deployment.target.arn,
                "testTrafficWeights": test,
                "productionTrafficWeights": production,
            },
            "hookDetails": hook.details,
        }
        hook.invocations += 1
        try:
            raw, error = self.invoke(str(hook.target_arn), payload, str(hook.role_arn))
        except Exception as failure:  # noqa: BLE001 - an invocation ECS cannot make rolls back, as a function error
            raw, error = str(failure).encode(), "Unhandled"
        answer = _parse(raw) if error is None else None
        if answer is None:
            why = f"function error {error}" if error else "no valid hookStatus"
            self._roll_back(deployment, moment, f"lifecycle hook {hook.hook_id} at {hook.stage}: {why}")
            return
        status = answer["hookStatus"]
        if status == "SUCCEEDED":
            hook.status = "SUCCEEDED"
        elif status == "FAILED":
            hook.status = "FAILED"
            self._roll_back(deployment, moment, f"lifecycle hook {hook.hook_id} at {hook.stage} returned FAILED")
        else:
            delay = answer.get("callBackDelay")
            hook.next_call = moment + (float(delay) if isinstance(delay, int | float) else DEFAULT_CALLBACK_DELAY)
            if isinstance(answer.get("hookDetails"), dict):
                hook.details = answer["hookDetails"]

    def _advance(self, deployment: Deployment, moment: float) -> None:
        """The stage's hooks are done: bake a partial shift, shift again, or go on to the next stage."""
        partial = deployment.stage == "PRODUCTION_TRAFFIC_SHIFT" and deployment.step < len(deployment.steps) - 1
        if partial and not deployment.step_baked:
            deployment.step_baked = True
            deployment.stage_ready_at = moment + deployment.step_bake_seconds()
            return
        if partial:
            deployment.step += 1
            deployment.step_baked = False
            self._enter(deployment, DEPLOYMENT_STAGES.index("PRE_PRODUCTION_TRAFFIC_SHIFT"), moment)
            return
        self._enter(deployment, deployment.stage_index + 1, moment)

    def _enter(self, deployment: Deployment, index: int, moment: float) -> None:
        deployment.hook_history.extend(deployment.hooks)
        deployment.hooks = []
        if index >= len(DEPLOYMENT_STAGES):
            self._succeed(deployment, moment)
            return
        stage = DEPLOYMENT_STAGES[index]
        if stage == "RECONCILE_SERVICE" and len({deployment.source.arn}) <= 1:
            # "only happens when you start a new service deployment with more than 1 service revision in an
            # ACTIVE state": the model keeps one source revision, so the stage is skipped.
            self._enter(deployment, index + 1, moment)
            return
        deployment.stage_index = index
        deployment.stage_entered = moment
        deployment.stage_ready_at = moment
        if stage == "SCALE_UP":
            deployment.green_running = deployment.service.desired_count
            deployment.stage_ready_at = moment + SCALE_UP_SECONDS
        elif stage == "TEST_TRAFFIC_SHIFT":
            deployment.test_weight = 100.0
            self._route(deployment)
        elif stage == "PRODUCTION_TRAFFIC_SHIFT":
            deployment.production_weight = deployment.steps[deployment.step]
            self._route(deployment)
        elif stage == "BAKE_TIME":
            deployment.stage_ready_at = moment + 60.0 * float(deployment.configuration.get("bakeTimeInMinutes", 0))
        elif stage == "CLEAN_UP":
            deployment.blue_running = 0
        if stage in HOOK_STAGES:
            deployment.hooks = self._hooks_at(deployment, stage, moment)

    def _hooks_at(self, deployment: Deployment, stage: str, moment: float) -> list[HookRun]:
        runs = []
        for hook in deployment.configuration.get("lifecycleHooks", []):
            if stage not in (hook.get("lifecycleStages") or []):
                continue
            kind = hook.get("targetType", "AWS_LAMBDA")
            timeout = hook.get("timeoutConfiguration") or {}
            prefix = "ecs-pause-" if kind == "PAUSE" else "ecs-hook-"
            suffix = self._token(43)
            runs.append(
                HookRun(
                    hook_id=prefix + suffix,
                    stage=stage,
                    target_type=kind,
                    target_arn=hook.get("hookTargetArn"),
                    role_arn=hook.get("roleArn"),
                    details=hook.get("hookDetails"),
                    expires_at=moment + 60.0 * float(timeout.get("timeoutInMinutes", 1_440)),
                    timeout_action=timeout.get("action", "ROLLBACK"),
                    next_call=moment,
                )
            )
        return runs

    def _succeed(self, deployment: Deployment, moment: float) -> None:
        deployment.status = "SUCCESSFUL"
        deployment.finished_at = moment
        service = deployment.service
        self.current_revision[service.arn] = deployment.target
        self.serving_group[service.arn] = deployment.green_group
        self._event(deployment, "ECS Deployment State Change", "SERVICE_DEPLOYMENT_COMPLETED")

    def _roll_back(self, deployment: Deployment, moment: float, reason: str) -> None:
        # emulator: the rollback completes at once (the guide gives no duration); traffic returns to blue,
        # green is scaled in and the service runs blue's task definition again.
        deployment.status = "ROLLBACK_IN_PROGRESS"
        deployment.status_reason = reason
        deployment.rollback = {
            "reason": reason,
            "startedAt": _at(self.clock, moment),
            "serviceRevisionArn": deployment.source.arn,
        }
        for hook in deployment.hooks:
            if hook.status in {"IN_PROGRESS", "AWAITING_ACTION"}:
                hook.status = "FAILED"
        deployment.test_weight = 0.0
        deployment.production_weight = 0.0
        self._route(deployment)
        deployment.green_running = 0
        deployment.blue_running = deployment.service.desired_count
        deployment.service.task_definition = deployment.source.task_definition
        deployment.status = "ROLLBACK_SUCCESSFUL"
        deployment.finished_at = moment
        self._event(deployment, "ECS Deployment State Change", "SERVICE_DEPLOYMENT_FAILED")

    # --- the load balancer and the alarms ----------------------------------------------------------------
    def _route(self, deployment: Deployment) -> None:
        """Point the production and test rules at blue and green in the deployment's proportions."""
        service = deployment.service
        backend = elbv2_backends[service._account_id][service.region_name]
        for arn, green in (
            (deployment.production_rule, deployment.production_weight),
            (deployment.test_rule, deployment.test_weight),
        ):
            if not arn:
                continue
            action = {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": deployment.blue_group, "Weight": int(round(100 - green))},
                        {"TargetGroupArn": deployment.green_group, "Weight": int(round(green))},
                    ]
                },
            }
            if ":listener-rule/" in arn:
                rule = backend.describe_rules(listener_arn=None, rule_arns=[arn])[0]
                if rule.is_default:
                    backend.modify_listener(rule.listener_arn, actions=[action])
                else:
                    backend.modify_rule(arn, conditions=[], actions=[action])
            else:  # a Network Load Balancer's listener
                backend.modify_listener(arn, actions=[action])

    def _alarms_in_alarm(self, deployment: Deployment) -> list[str]:
        alarms = deployment.configuration.get("alarms") or {}
        if not (alarms.get("enable") and alarms.get("rollback") and alarms.get("alarmNames")):
            return []
        service = deployment.service
        backend = cloudwatch_backends[service._account_id][service.region_name]
        found = backend.get_alarms_by_alarm_names(list(alarms["alarmNames"]))
        return sorted(a.name for a in found if a.state_value == "ALARM")

    def _alarming(self, deployment: Deployment) -> bool:
        return (
            deployment.status == IN_PROGRESS
            and deployment.stage != "CLEAN_UP"
            and bool(self._alarms_in_alarm(deployment))
        )

    def _event(self, deployment: Deployment, detail_type: str, name: str, hook: HookRun | None = None) -> None:
        detail: dict[str, Any] = {
            "eventType": "INFO" if "FAILED" not in name else "ERROR",
            "eventName": name,
            "deploymentId": deployment.arn,
            "updatedAt": self.clock.now().isoformat(),
        }
        if hook is not None:
            detail.update(
                {"hookId": hook.hook_id, "lifecycleStage": hook.stage, "serviceDeploymentArn": deployment.arn}
            )
        if deployment.status_reason:
            detail["reason"] = deployment.status_reason
        event = {
            "source": "aws.ecs",
            "detail-type": detail_type,
            "resources": [deployment.service.arn],
            "detail": detail,
        }
        self.events.append(event)
        if self.publish is not None:
            self.publish(event)

    # --- the API ---------------------------------------------------------------------------------------
    def describe(self, deployment: Deployment) -> dict[str, Any]:
        test, production = deployment.weights()
        item: dict[str, Any] = {
            "serviceDeploymentArn": deployment.arn,
            "serviceArn": deployment.service.arn,
            "clusterArn": deployment.service.cluster_arn,
            "createdAt": _at(self.clock, deployment.created_at),
            "startedAt": _at(self.clock, deployment.created_at),
            "updatedAt": self.clock.now(),
            "sourceServiceRevisions": [
                {
                    "arn": deployment.source.arn,
                    "requestedTaskCount": deployment.service.desired_count if deployment.blue_running else 0,
                    "runningTaskCount": deployment.blue_running,
                    "pendingTaskCount": 0,
                    "requestedTestTrafficWeight": test[deployment.source.arn],
                    "requestedProductionTrafficWeight": production[deployment.source.arn],
                }
            ],
            "targetServiceRevision": {
                "arn": deployment.target.arn,
                "requestedTaskCount": deployment.service.desired_count if deployment.green_running else 0,
                "runningTaskCount": deployment.green_running,
                "pendingTaskCount": 0,
                "requestedTestTrafficWeight": test[deployment.target.arn],
                "requestedProductionTrafficWeight": production[deployment.target.arn],
            },
            "status": deployment.status,
            "lifecycleStage": deployment.stage,
            "lifecycleHookDetails": [h.describe(self.clock) for h in deployment.hook_history + deployment.hooks],
            "deploymentConfiguration": deployment.configuration,
        }
        if deployment.status_reason:
            item["statusReason"] = deployment.status_reason
        if deployment.finished_at is not None:
            item["finishedAt"] = _at(self.clock, deployment.finished_at)
        if deployment.rollback is not None:
            item["rollback"] = deployment.rollback
        alarms = deployment.configuration.get("alarms")
        if alarms:
            item["alarms"] = {
                "status": "ENABLED" if alarms.get("enable") else "DISABLED",
                "alarmNames": alarms.get("alarmNames", []),
                "triggeredAlarmNames": self._alarms_in_alarm(deployment) if deployment.status != "SUCCESSFUL" else [],
            }
        return item

    def _find(self, arn: str) -> Deployment:
        deployment = self.deployments.get(arn)
        if deployment is None:
            raise NativeError("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        return deployment

    def describe_service_deployments(self, arns: list[str]) -> dict[str, Any]:
        if len(arns) > 20:
            raise _invalid("You can specify a maximum of 20 ARNs.")
        self.tick()
        found, failures = [], []
        for arn in arns:
            if arn in self.deployments:
                found.append(self.describe(self.deployments[arn]))
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return {"serviceDeployments": found, "failures": failures}

    def list_service_deployments(self, service: str, cluster: str | None, status: list[str] | None) -> dict[str, Any]:
        self.tick()
        name = service.split("/")[-1]
        items = [
            d
            for d in self.deployments.values()
            if d.service.name == name
            and (cluster is None or cluster.split("/")[-1] == d.service.cluster_name)
            and (not status or d.status in status)
        ]
        items.sort(key=lambda d: d.created_at, reverse=True)
        briefs = []
        for d in items:
            brief = {
                "serviceDeploymentArn": d.arn,
                "serviceArn": d.service.arn,
                "clusterArn": d.service.cluster_arn,
                "startedAt": _at(self.clock, d.created_at),
                "createdAt": _at(self.clock, d.created_at),
                "targetServiceRevisionArn": d.target.arn,
                "status": d.status,
            }
            if d.finished_at is not None:
                brief["finishedAt"] = _at(self.clock, d.finished_at)
            if d.status_reason:
                brief["statusReason"] = d.status_reason
            briefs.append(brief)
        return {"serviceDeployments": briefs}

    def describe_service_revisions(self, arns: list[str]) -> dict[str, Any]:
        found = [self.revisions[a].describe() for a in arns if a in self.revisions]
        failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in self.revisions]
        return {"serviceRevisions": found, "failures": failures}

    def stop_service_deployment(self, arn: str, stop_type: str | None) -> dict[str, Any]:
        with self._lock:
            deployment = self._find(arn)
            if (stop_type or "ROLLBACK") != "ROLLBACK":
                # emulator: the API reference lists ABORT in the enum but documents only ROLLBACK as valid.
                raise _invalid("The valid stopType is ROLLBACK.")
            if deployment.status != IN_PROGRESS:
                raise NativeError("ConflictException", f"The service deployment is {deployment.status}.")
            self._roll_back(deployment, self.clock.elapsed, "StopServiceDeployment ROLLBACK was called")
        return {"serviceDeploymentArn": arn}

    def continue_service_deployment(self, arn: str, hook_id: str, action: str | None) -> dict[str, Any]:
        with self._lock:
            deployment = self._find(arn)
            hook = next((h for h in deployment.hooks if h.hook_id == hook_id), None)
            # "The pause hook must be in AWAITING_ACTION status" and "The deployment must be in the IN_PROGRESS
            # state" (Continuing service deployments).
            if deployment.status != IN_PROGRESS or hook is None or hook.status != "AWAITING_ACTION":
                raise _invalid(f"No pause hook {hook_id} is awaiting action on this service deployment.")
            if (action or "CONTINUE") == "ROLLBACK":
                hook.status = "FAILED"
                self._roll_back(deployment, self.clock.elapsed, f"ContinueServiceDeployment ROLLBACK on {hook_id}")
            else:
                hook.status = "SUCCEEDED"
                deployment.stage_ready_at = max(deployment.stage_ready_at, self.clock.elapsed)
        self.tick()
        return {"serviceDeploymentArn": arn}


def dispatcher_invoker(
    invoke: Callable[[str, str | bytes | None, dict[str, str]], bytes],
    may_invoke: Callable[[str, str], bool] | None = None,
) -> HookInvoker:
    """A :data:`HookInvoker` over the emulator's Lambda dispatcher (``lambdas.Dispatcher.invoke``).

    ``may_invoke(role_arn, function_arn)`` is the check AWS makes: the hook's role must allow
    ``lambda:InvokeFunction`` on the function, else ECS cannot call it and the invocation fails (a function
    error, which rolls back).
    """

    def call(function_arn: str, payload: dict[str, Any], role_arn: str) -> tuple[bytes, str | None]:
        if may_invoke is not None and not may_invoke(role_arn, function_arn):
            return json.dumps({"errorType": "AccessDeniedException", "errorMessage": role_arn}).encode(), "Unhandled"
        headers: dict[str, str] = {}
        raw = invoke(function_arn, json.dumps(payload, default=str), headers)
        return raw, headers.get("x-amz-function-error")

    return call


def _steps(configuration: dict[str, Any]) -> list[float]:
    """Green's production share after each shift: [100] all at once, [p, 100] canary, p, 2p, ... 100 linear."""
    strategy = configuration.get("strategy")
    if strategy == "CANARY":
        percent = float((configuration.get("canaryConfiguration") or {}).get("canaryPercent", 5.0))
        return [percent, 100.0] if percent < 100 else [100.0]
    if strategy == "LINEAR":
        percent = float((configuration.get("linearConfiguration") or {}).get("stepPercent", 10.0))
        shares, share = [], percent
        while share < 100 - 1e-9:
            shares.append(round(share, 1))
            share += percent
        return [*shares, 100.0]
    return [100.0]


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(raw.decode(errors="replace") or "null")
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("hookStatus") not in {"SUCCEEDED", "FAILED", "IN_PROGRESS"}:
        return None
    return answer


def _response(model: NativeEcs, operation: str) -> Callable[[EC2ContainerServiceResponse], str]:
    def handle(response: EC2ContainerServiceResponse) -> str:
        get = response._get_param
        if operation == "describe_service_deployments":
            result = model.describe_service_deployments(get("serviceDeploymentArns") or [])
        elif operation == "list_service_deployments":
            result = model.list_service_deployments(get("service"), get("cluster"), get("status"))
        elif operation == "describe_service_revisions":
            result = model.describe_service_revisions(get("serviceRevisionArns") or [])
        elif operation == "stop_service_deployment":
            result = model.stop_service_deployment(get("serviceDeploymentArn"), get("stopType"))
        else:
            result = model.continue_service_deployment(get("serviceDeploymentArn"), get("hookId"), get("action"))
        return json.dumps(result, default=_json_time)

    handle.__name__ = operation
    return handle


def _json_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value)}")
