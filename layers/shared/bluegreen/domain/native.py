"""The ECS native blue/green controller: models and pure decisions (no AWS here).

A service whose deployment controller is ``ECS`` (``deploymentConfiguration.strategy`` ``BLUE_GREEN``,
``LINEAR`` or ``CANARY``) is deployed by ECS itself; this tool steers it instead of building task sets:

* the deployment configuration sent with ``UpdateService`` (:func:`deployment_configuration`): the strategy
  and bake time from ``trafficShift`` and ``bakeSeconds``, the alarms, one ``AWS_LAMBDA`` lifecycle hook (the
  stack's dispatcher function, which runs our hooks and analysis) at every native stage that has work, and the
  approval as a ``PAUSE`` hook at ``PRE_PRODUCTION_TRAFFIC_SHIFT``, answered with ``ContinueServiceDeployment``;
* what the dispatcher answers ECS on each invocation (:func:`answer_hook`) from our hooks' verdicts:
  ``SUCCEEDED``, ``FAILED`` or ``IN_PROGRESS`` with a ``callBackDelay``;
* the Validate-time refusals (:func:`refuse_unsupported`): an approval longer than a pause hook can wait
  (20,160 minutes) and the settings ECS cannot honour (keep-old, hooks after the bake, a linear step under 3%).

Every limit below is from the ECS API reference or developer guide; docs/native-ecs.md cites each one.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bluegreen.domain.errors import ApprovalTimeoutBeyondNativeLimit, NativeControllerUnsupported
from bluegreen.domain.hooks import DEFAULT_CALLBACK_DELAY, Stage
from bluegreen.domain.models import ServiceConfig

# DeploymentLifecycleHookTimeoutConfiguration.timeoutInMinutes: 1-20,160, default 1,440; action default ROLLBACK.
MAX_HOOK_TIMEOUT_MINUTES = 20_160
DEFAULT_HOOK_TIMEOUT_MINUTES = 1_440
MAX_BAKE_MINUTES = 1_440  # bakeTimeInMinutes, stepBakeTimeInMinutes, canaryBakeTimeInMinutes: 0-1,440
MIN_LINEAR_STEP_PERCENT = 3.0  # LinearConfiguration.stepPercent: multiples of 0.1 from 3.0 to 100.0
DISPATCH_GRACE_MINUTES = 5  # the dispatcher's own time limit comes first; ECS's hook timeout is the backstop


class NativeStage(StrEnum):
    """The stages a lifecycle hook may name (DeploymentLifecycleHookStage, in deployment order)."""

    RECONCILE_SERVICE = "RECONCILE_SERVICE"
    PRE_SCALE_UP = "PRE_SCALE_UP"
    POST_SCALE_UP = "POST_SCALE_UP"
    TEST_TRAFFIC_SHIFT = "TEST_TRAFFIC_SHIFT"
    POST_TEST_TRAFFIC_SHIFT = "POST_TEST_TRAFFIC_SHIFT"
    PRE_PRODUCTION_TRAFFIC_SHIFT = "PRE_PRODUCTION_TRAFFIC_SHIFT"
    PRODUCTION_TRAFFIC_SHIFT = "PRODUCTION_TRAFFIC_SHIFT"
    POST_PRODUCTION_TRAFFIC_SHIFT = "POST_PRODUCTION_TRAFFIC_SHIFT"


# Every stage a service deployment goes through, in order (ServiceDeploymentLifecycleStage plus the hook-only
# PRE_PRODUCTION_TRAFFIC_SHIFT). SCALE_UP, BAKE_TIME and CLEAN_UP take no hook.
DEPLOYMENT_STAGES: tuple[str, ...] = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
# "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages" (API reference).
PAUSE_NOT_ALLOWED = frozenset({NativeStage.TEST_TRAFFIC_SHIFT, NativeStage.PRODUCTION_TRAFFIC_SHIFT})

# Where each of our hook stages runs in a native deployment. beforeDeleteOld has no native stage: no hook runs
# after the bake (BAKE_TIME and CLEAN_UP take none), so it is refused for this controller.
STAGE_FOR: dict[Stage, NativeStage] = {
    Stage.AFTER_GREEN_HEALTHY: NativeStage.POST_TEST_TRAFFIC_SHIFT,  # green on the test route, before approval
    Stage.EACH_TRAFFIC_STEP: NativeStage.PRODUCTION_TRAFFIC_SHIFT,  # invoked at every linear/canary step
    Stage.AFTER_CUTOVER: NativeStage.POST_PRODUCTION_TRAFFIC_SHIFT,  # production on green, before the bake
}
# The approval: after our pre-approval hooks (POST_TEST_TRAFFIC_SHIFT), before production moves. For LINEAR and
# CANARY ECS enters this stage before every step; the controller answers the later pauses CONTINUE itself.
APPROVAL_STAGE = NativeStage.PRE_PRODUCTION_TRAFFIC_SHIFT


class _Api(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    def to_api(self) -> dict[str, Any]:
        """The request shape botocore takes (camelCase, unset fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


class HookTimeout(_Api):
    timeoutInMinutes: int = Field(default=DEFAULT_HOOK_TIMEOUT_MINUTES, ge=1, le=MAX_HOOK_TIMEOUT_MINUTES)
    action: Literal["CONTINUE", "ROLLBACK"] = "ROLLBACK"


class NativeHook(_Api):
    """DeploymentLifecycleHook: a Lambda function ECS invokes, or a pause ECS holds until it is continued."""

    targetType: Literal["AWS_LAMBDA", "PAUSE"] = "AWS_LAMBDA"
    hookTargetArn: str | None = None
    roleArn: str | None = None
    lifecycleStages: list[NativeStage] = Field(min_length=1)
    hookDetails: dict[str, Any] | None = None
    timeoutConfiguration: HookTimeout | None = None

    @model_validator(mode="after")
    def _fits(self) -> NativeHook:
        if self.targetType == "AWS_LAMBDA" and not (self.hookTargetArn and self.roleArn):
            raise ValueError("an AWS_LAMBDA hook needs hookTargetArn and roleArn")
        if self.targetType == "PAUSE":
            if self.hookTargetArn or self.hookDetails:
                raise ValueError("a PAUSE hook takes no hookTargetArn or hookDetails")
            refused = sorted(set(self.lifecycleStages) & PAUSE_NOT_ALLOWED)
            if refused:
                raise ValueError(f"a PAUSE hook cannot be at {', '.join(refused)}")
        return self


class NativeAlarms(_Api):
    alarmNames: list[str]
    enable: bool = True
    rollback: bool = True


class LinearConfiguration(_Api):
    stepPercent: float = Field(ge=MIN_LINEAR_STEP_PERCENT, le=100.0)
    stepBakeTimeInMinutes: int = Field(ge=0, le=MAX_BAKE_MINUTES)


class CanaryConfiguration(_Api):
    canaryPercent: float = Field(ge=0.1, le=100.0)
    canaryBakeTimeInMinutes: int = Field(ge=0, le=MAX_BAKE_MINUTES)


class NativeDeploymentConfiguration(_Api):
    """The ``deploymentConfiguration`` sent with UpdateService for a native deployment."""

    strategy: Literal["BLUE_GREEN", "LINEAR", "CANARY"] = "BLUE_GREEN"
    bakeTimeInMinutes: int = Field(ge=0, le=MAX_BAKE_MINUTES)
    lifecycleHooks: list[NativeHook] = Field(default_factory=list)
    linearConfiguration: LinearConfiguration | None = None
    canaryConfiguration: CanaryConfiguration | None = None
    alarms: NativeAlarms | None = None

    @model_validator(mode="after")
    def _strategy(self) -> NativeDeploymentConfiguration:
        if (self.linearConfiguration is not None) != (self.strategy == "LINEAR"):
            raise ValueError("linearConfiguration goes with strategy LINEAR only")
        if (self.canaryConfiguration is not None) != (self.strategy == "CANARY"):
            raise ValueError("canaryConfiguration goes with strategy CANARY only")
        return self

    def pause_hooks(self) -> list[NativeHook]:
        return [hook for hook in self.lifecycleHooks if hook.targetType == "PAUSE"]


class NativeTargets(BaseModel):
    """What the stack provides a native deployment: the dispatcher function and the role ECS assumes to call it."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    hookFunctionArn: str = Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$")
    hookRoleArn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$", max_length=2048)


# --- Validate-time refusals -------------------------------------------------------------------------------
def minutes(seconds: int) -> int:
    """Whole minutes covering ``seconds`` (the native API counts minutes)."""
    return max(1, math.ceil(seconds / 60))


def approval_timeout_minutes(config: ServiceConfig) -> int:
    return minutes(config.approval.timeoutSeconds)


def refuse_unsupported(config: ServiceConfig) -> None:
    """Raise the typed error for a configuration the native controller cannot deploy; changes nothing."""
    if config.approval.required and approval_timeout_minutes(config) > MAX_HOOK_TIMEOUT_MINUTES:
        raise ApprovalTimeoutBeyondNativeLimit(
            f"approval.timeoutSeconds is {config.approval.timeoutSeconds} s ({approval_timeout_minutes(config)} "
            f"minutes) but an ECS pause hook waits at most {MAX_HOOK_TIMEOUT_MINUTES} minutes "
            f"({MAX_HOOK_TIMEOUT_MINUTES * 60} s, 14 days): lower approval.timeoutSeconds to at most "
            f"{MAX_HOOK_TIMEOUT_MINUTES * 60}, or deploy the service with the EXTERNAL controller, whose approval "
            "waits up to 365 days"
        )
    problems = []
    if config.keepOld.enabled:
        problems.append(
            "keepOld.enabled: ECS scales blue to zero after the bake; turn keepOld off or use the EXTERNAL controller"
        )
    if config.hooks.beforeDeleteOld:
        problems.append(
            "hooks.beforeDeleteOld: ECS runs no hook after the bake (BAKE_TIME and CLEAN_UP take none); move them to "
            "afterCutover or use the EXTERNAL controller"
        )
    shift = config.trafficShift
    if shift.type == "LINEAR" and shift.percent < MIN_LINEAR_STEP_PERCENT:
        problems.append(
            f"trafficShift.percent {shift.percent}: an ECS linear step is at least {MIN_LINEAR_STEP_PERCENT:g}%"
        )
    if problems:
        summary = "; ".join(problems)
        raise NativeControllerUnsupported(f"the ECS native controller cannot deploy this configuration: {summary}")


# --- the deployment configuration -------------------------------------------------------------------------
def stages_with_work(config: ServiceConfig) -> dict[NativeStage, list[Stage]]:
    """Which of our stages run at which native stage: those with hooks, and those built-in analysis judges."""
    work: dict[NativeStage, list[Stage]] = {}
    analysing = config.analysis is not None and config.analysis.enabled
    analysed = {Stage.AFTER_GREEN_HEALTHY, Stage.EACH_TRAFFIC_STEP} if analysing else set()
    partial_steps = config.trafficShift.type != "ALL_AT_ONCE"
    for ours, native in STAGE_FOR.items():
        if ours is Stage.EACH_TRAFFIC_STEP and not partial_steps:
            continue  # all at once: no partial step to judge
        if config.hooks.at(ours) or ours in analysed:
            work.setdefault(native, []).append(ours)
    return dict(sorted(work.items(), key=lambda item: DEPLOYMENT_STAGES.index(item[0].value)))


def stage_budget_seconds(config: ServiceConfig, native: NativeStage) -> int:
    """How long the dispatcher may judge one native stage: its hooks run one after another."""
    ours = stages_with_work(config).get(native, [])
    hooks = sum(hook.timeoutSeconds for stage in ours for hook in config.hooks.at(stage))
    analysis = config.analysis
    window = analysis.periodSeconds * analysis.evaluationPeriods if analysis is not None and analysis.enabled else 0
    return max(60, hooks + (window if ours else 0))


def deployment_configuration(config: ServiceConfig, targets: NativeTargets) -> NativeDeploymentConfiguration:
    """What UpdateService is sent for ``config``, or the typed refusal of :func:`refuse_unsupported`."""
    refuse_unsupported(config)
    hooks: list[NativeHook] = []
    work = stages_with_work(config)
    if work:
        budget = max(stage_budget_seconds(config, native) for native in work)
        hooks.append(
            NativeHook(
                targetType="AWS_LAMBDA",
                hookTargetArn=targets.hookFunctionArn,
                roleArn=targets.hookRoleArn,
                lifecycleStages=list(work),
                hookDetails={"service": config.service},
                timeoutConfiguration=HookTimeout(timeoutInMinutes=minutes(budget) + DISPATCH_GRACE_MINUTES),
            )
        )
    if config.approval.required:
        hooks.append(
            NativeHook(
                targetType="PAUSE",
                lifecycleStages=[APPROVAL_STAGE],
                timeoutConfiguration=HookTimeout(timeoutInMinutes=approval_timeout_minutes(config), action="ROLLBACK"),
            )
        )
    shift = config.trafficShift
    step_bake = min(MAX_BAKE_MINUTES, minutes(shift.intervalSeconds))
    return NativeDeploymentConfiguration(
        strategy={"ALL_AT_ONCE": "BLUE_GREEN", "LINEAR": "LINEAR", "CANARY": "CANARY"}[shift.type],
        bakeTimeInMinutes=min(MAX_BAKE_MINUTES, minutes(config.bakeSeconds)),
        lifecycleHooks=hooks,
        linearConfiguration=LinearConfiguration(stepPercent=shift.percent, stepBakeTimeInMinutes=step_bake)
        if shift.type == "LINEAR"
        else None,
        canaryConfiguration=CanaryConfiguration(canaryPercent=shift.percent, canaryBakeTimeInMinutes=step_bake)
        if shift.type == "CANARY"
        else None,
        alarms=NativeAlarms(alarmNames=list(config.alarmNames)) if config.alarmNames else None,
    )


# --- answering a Lambda hook invocation -------------------------------------------------------------------
class ExecutionDetails(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    serviceArn: str
    targetServiceRevisionArn: str
    testTrafficWeights: dict[str, float] = Field(default_factory=dict)
    productionTrafficWeights: dict[str, float] = Field(default_factory=dict)


class NativeHookInvocation(BaseModel):
    """What ECS sends a Lambda hook. The guide's examples show the execution details at the top level; AWS's
    samples read them under ``executionDetails`` next to ``executionId``, ``lifecycleStage`` and ``resourceArn``
    (the service deployment): both are read."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    executionId: str | None = None
    lifecycleStage: str
    resourceArn: str | None = None
    executionDetails: ExecutionDetails
    hookDetails: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, value: Any) -> Any:
        if isinstance(value, dict) and "executionDetails" not in value and "serviceArn" in value:
            value = {**value, "executionDetails": value}
        if isinstance(value, dict) and value.get("hookDetails") is None:
            value = {**value, "hookDetails": {}}
        return value

    def green_weight(self, kind: Literal["test", "production"]) -> float:
        details = self.executionDetails
        weights = details.testTrafficWeights if kind == "test" else details.productionTrafficWeights
        return float(weights.get(details.targetServiceRevisionArn, 0.0))


class HookVerdict(BaseModel):
    """One of our hooks (or the analysis) at this stage, as judged so far."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str
    state: Literal["passed", "failed", "pending"]
    retryAfterSeconds: int | None = Field(default=None, ge=0)  # pending: when to look again
    reason: str = ""


class NativeHookAnswer(BaseModel):
    """What the dispatcher returns ECS (the lifecycle-hook response contract)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    hookStatus: Literal["SUCCEEDED", "FAILED", "IN_PROGRESS"]
    callBackDelay: int | None = Field(default=None, ge=1)
    hookDetails: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


PROGRESS_KEY = "bluegreen"  # our bookkeeping inside hookDetails, handed back by ECS on the next invocation


def started_at(invocation: NativeHookInvocation, now: float) -> float:
    """When judging this stage began (kept in hookDetails across IN_PROGRESS invocations), else ``now``."""
    progress = invocation.hookDetails.get(PROGRESS_KEY)
    if isinstance(progress, dict) and isinstance(progress.get("startedAt"), int | float):
        return float(progress["startedAt"])
    return now


def is_rollback_invocation(invocation: NativeHookInvocation) -> bool:
    """On rollback ECS invokes the TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks again while traffic goes
    back to blue: the target revision then holds no traffic of that kind (nothing of green's to judge)."""
    if invocation.lifecycleStage == NativeStage.TEST_TRAFFIC_SHIFT:
        return invocation.green_weight("test") == 0
    if invocation.lifecycleStage == NativeStage.PRODUCTION_TRAFFIC_SHIFT:
        return invocation.green_weight("production") == 0
    return False


def our_stages(invocation: NativeHookInvocation, config: ServiceConfig) -> list[Stage]:
    try:
        native = NativeStage(invocation.lifecycleStage)
    except ValueError:
        return []
    return stages_with_work(config).get(native, [])


def answer_hook(
    invocation: NativeHookInvocation,
    config: ServiceConfig,
    verdicts: list[HookVerdict],
    now: float,
    rolling_back: bool | None = None,
) -> NativeHookAnswer:
    """SUCCEEDED, FAILED or IN_PROGRESS for one invocation, from our verdicts at its stage.

    * a stage with nothing of ours, or a rollback's traffic shift back to blue: SUCCEEDED (nothing to judge);
    * any verdict failed: FAILED (ECS rolls back), the reasons in hookDetails;
    * the stage's budget spent while a verdict is pending: FAILED, saying which hooks did not finish;
    * a verdict pending: IN_PROGRESS, called back at the earliest retry asked (ECS's 30 s by default), never past
      the budget; our start time rides in hookDetails so the next invocation knows how long it has judged;
    * every verdict passed: SUCCEEDED.

    ``rolling_back`` is the deployment's status as the caller read it (DescribeServiceDeployments says
    ROLLBACK_IN_PROGRESS); without it the traffic weights in the payload tell (:func:`is_rollback_invocation`).
    """
    rollback = is_rollback_invocation(invocation) if rolling_back is None else rolling_back
    if not our_stages(invocation, config) or rollback:
        return NativeHookAnswer(hookStatus="SUCCEEDED")
    failed = [v for v in verdicts if v.state == "failed"]
    if failed:
        reasons = {v.name: v.reason or "failed" for v in failed}
        return NativeHookAnswer(hookStatus="FAILED", hookDetails={PROGRESS_KEY: {"failed": reasons}})
    pending = [v for v in verdicts if v.state == "pending"]
    if not pending:
        return NativeHookAnswer(hookStatus="SUCCEEDED")
    began = started_at(invocation, now)
    budget = stage_budget_seconds(config, NativeStage(invocation.lifecycleStage))
    remaining = began + budget - now
    if remaining <= 0:
        late = {v.name: f"not finished within {budget} s" for v in pending}
        return NativeHookAnswer(hookStatus="FAILED", hookDetails={PROGRESS_KEY: {"failed": late}})
    delay = min(v.retryAfterSeconds if v.retryAfterSeconds is not None else DEFAULT_CALLBACK_DELAY for v in pending)
    delay = max(1, min(delay, math.ceil(remaining)))
    details = {key: value for key, value in invocation.hookDetails.items() if key != PROGRESS_KEY}
    details[PROGRESS_KEY] = {"startedAt": began, "pending": [v.name for v in pending]}
    return NativeHookAnswer(hookStatus="IN_PROGRESS", callBackDelay=delay, hookDetails=details)
