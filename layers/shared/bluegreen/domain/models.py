"""Data models passed between the states of the deployment state machine."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bluegreen.domain.analysis import AnalysisConfig, AnalysisVerdict  # Built-in analysis
from bluegreen.domain.gates import GateKind
from bluegreen.domain.hooks import HookResult, HooksConfig, HooksReport
from bluegreen.domain.plan import Plan
from bluegreen.domain.release_models import TaskDefinitionOverrides, check_images

SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IMAGE_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")

DEFAULT_MUTABLE_TAGS = [
    "latest",
    "main",
    "master",
    "stable",
    "dev",
    "develop",
    "staging",
    "prod",
    "production",
    "nightly",
    "edge",
]


class Model(BaseModel):
    """Base: camelCase names as in the JSON the state machine carries."""

    # defer_build (on every model of the package): a model's validator and serializer are built when it is
    # first used, not at import; a handler uses a few of the package's models (cold start).
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ExecutionInput(BaseModel):
    """What a user passes to ``start-execution`` (see ``events/execution-input.schema.json``)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    service: str
    imageTag: str | None = None
    imageDigest: str | None = None
    requestedBy: str | None = Field(default=None, max_length=200)
    trafficShift: TrafficShift | None = None  # overrides the service's strategy for this execution
    # The other ways of describing a release (exactly one per execution: bluegreen/aws/release.py)
    images: dict[str, str] | None = None
    taskDefinition: dict[str, Any] | str | None = None
    taskDefinitionOverrides: TaskDefinitionOverrides | None = None
    # A rollback to an earlier release (bluegreen rollback --to-previous) names the execution it
    # undoes; its approval is skipped unless requireApproval is true.
    rollbackOf: str | None = Field(default=None, min_length=1, max_length=2048)
    requireApproval: bool | None = None

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not SERVICE_NAME.match(value):
            raise ValueError("must be 1-100 letters, digits, '-', '_' or '.'")
        return value

    @field_validator("imageTag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_TAG.match(value):
            raise ValueError("is not a valid ECR image tag")
        return value

    @field_validator("images")
    @classmethod
    def _images(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_images(value)

    @field_validator("imageDigest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_DIGEST.match(value):
            raise ValueError("must look like sha256:<64 hex digits>")
        return value


class ApprovalConfig(Model):
    """The approval gate between green healthy and the swap."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    required: bool = True
    timeoutSeconds: int = Field(default=7 * 86400, ge=60, le=365 * 86400)
    approvers: list[str] = Field(default_factory=list)  # Slack user ids; empty: the stack's default list
    autoApproveWhenHooksPass: bool = False  # No person when every afterGreenHealthy hook passed


class KeepOldConfig(Model):
    """Hold the old task set behind the test rule after the bake until someone finishes or rolls back."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    enabled: bool = False
    timeoutSeconds: int = Field(default=86400, ge=60, le=365 * 86400)
    onTimeout: Literal["finish", "rollback"] = "finish"


class TrafficShift(Model):
    """How production moves to green: all at once, a canary step, or linear steps."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    type: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "ALL_AT_ONCE"
    percent: int = Field(default=10, ge=1, le=99)  # CANARY: the canary's share; LINEAR: added every step
    intervalSeconds: int = Field(default=300, ge=1, le=86400)  # how long each partial step is watched

    def schedule(self) -> list[int]:
        """Green's production weight at each step; the last is always 100."""
        if self.type == "CANARY":
            return [self.percent, 100]
        if self.type == "LINEAR":
            return [*range(self.percent, 100, self.percent), 100]
        return [100]


# --- first deployment (a service with no task set yet) -----------------------
class CapacityProviderItem(Model):
    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    capacityProvider: str
    weight: int = Field(default=1, ge=0, le=1000)
    base: int = Field(default=0, ge=0, le=100000)


class NetworkConfig(Model):
    """Where the first task set runs, given once: used only when no task set serves production."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    subnets: list[str] = Field(min_length=1, max_length=16)
    securityGroups: list[str] = Field(default_factory=list, max_length=5)
    assignPublicIp: Literal["ENABLED", "DISABLED"] = "DISABLED"
    launchType: Literal["FARGATE", "EC2", "EXTERNAL"] | None = None
    capacityProviderStrategy: list[CapacityProviderItem] | None = Field(default=None, min_length=1, max_length=20)
    platformVersion: str | None = None

    @model_validator(mode="after")
    def _compute(self) -> NetworkConfig:
        if self.launchType and self.capacityProviderStrategy:
            raise ValueError("network: give launchType or capacityProviderStrategy, not both")
        if not self.launchType and not self.capacityProviderStrategy:
            self.launchType = "FARGATE"
        return self


class ServiceConfig(Model):
    """The configuration document of one deployable service (stored in SSM)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    cluster: str
    service: str
    containerName: str
    containerPort: int | None = Field(default=None, ge=1, le=65535)
    repository: str
    productionRuleArn: str | None = None  # one-route shorthand of productionRoutes
    testRuleArn: str | None = None  # shorthand of testRoute
    targetGroupArns: list[str] = Field(min_length=2, max_length=2)
    healthWaitTimeoutSeconds: int = Field(default=900, ge=30, le=43200)
    # A gate and its alarms' watchers are written as one DynamoDB transaction (at most 100 writes).
    alarmNames: list[str] = Field(default_factory=list, max_length=90)
    bakeSeconds: int = Field(default=600, ge=1, le=86400)
    # Behind a Network Load Balancer, a listener change moves new connections only: after a rollback green keeps
    # its open connections, so it is deleted this long after production went back to blue (ECS native blue/green
    # waits 10 minutes around NLB traffic shifts). 0: deleted at once.
    nlbDrainSeconds: int = Field(default=600, ge=0, le=3600)
    allowMutableTags: bool = False
    mutableTags: list[str] = Field(default_factory=lambda: list(DEFAULT_MUTABLE_TAGS))
    slackChannel: str | None = None
    tagPattern: str | None = None  # regex: ECR pushes of matching tags start a deployment (None: never)
    trafficShift: TrafficShift = Field(default_factory=TrafficShift)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    keepOld: KeepOldConfig = Field(default_factory=KeepOldConfig)
    # The first deployment (no task set yet) takes its network and base task definition from here
    network: NetworkConfig | None = None
    taskDefinition: str | None = None  # family, family:revision or ARN the first task set's revision is based on
    # Production routes (listener rule or listener ARNs, moved together) and the test route
    productionRoutes: list[str] = Field(default_factory=list, max_length=10)
    testRoute: str | None = None
    # The ECR repository of each other container (the load-balanced one uses 'repository')
    repositories: dict[str, str] = Field(default_factory=dict)
    hooks: HooksConfig = Field(default_factory=HooksConfig)  # Verification hooks per stage
    analysis: AnalysisConfig | None = None  # Built-in analysis (green compared with blue)

    def repository_of(self, container: str) -> str | None:
        return self.repository if container == self.containerName else self.repositories.get(container)

    @model_validator(mode="after")
    def _distinct(self) -> ServiceConfig:
        if self.network is not None and not self.taskDefinition:
            raise ValueError(
                "'network' needs 'taskDefinition' (a family, family:revision or ARN) for the first task set"
            )
        if self.targetGroupArns[0] == self.targetGroupArns[1]:
            raise ValueError("targetGroupArns must name two different target groups")
        if self.productionRuleArn is not None and self.productionRuleArn == self.testRuleArn:
            raise ValueError("productionRuleArn and testRuleArn must differ")
        # Routes (a listener rule ARN or a listener ARN); the *RuleArn fields are their shorthand
        if bool(self.productionRoutes) == bool(self.productionRuleArn):
            raise ValueError("give the production routes in exactly one of 'productionRoutes' or 'productionRuleArn'")
        if bool(self.testRoute) == bool(self.testRuleArn):
            raise ValueError("give the test route in exactly one of 'testRoute' or 'testRuleArn'")
        return self

    def production_route_arns(self) -> list[str]:
        return list(self.productionRoutes) or [str(self.productionRuleArn)]

    def analysis_enabled(self) -> bool:
        return self.analysis is not None and self.analysis.enabled

    def test_route_arn(self) -> str:
        return str(self.testRoute or self.testRuleArn)


class TaskSetRef(Model):
    id: str
    arn: str
    taskDefinition: str
    targetGroupArn: str
    image: str | None = None


class RuleSnapshot(Model):
    """A route's actions as described before anything changed (a rule or a listener)."""

    ruleArn: str  # the route's ARN: a listener rule, or a listener (its default actions)
    actions: list[dict[str, Any]]
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    kind: Literal["rule", "listener"] = "rule"
    loadBalancerType: str | None = None  # application or network
    protocol: str | None = None  # the listener's protocol (listener routes)


class SavedRules(Model):
    production: RuleSnapshot  # the first production route
    test: RuleSnapshot
    moreProduction: list[RuleSnapshot] = Field(default_factory=list)  # The other production routes

    def production_routes(self) -> list[RuleSnapshot]:
        return [self.production, *self.moreProduction]


class SlackThread(Model):
    """Where the deployment's milestone messages go."""

    channel: str
    ts: str


class DeploymentContext(Model):
    """Output of Validate; every later state reads it from ``$.context``."""

    executionArn: str
    executionName: str
    service: str
    imageTag: str
    imageDigest: str
    image: str
    config: ServiceConfig
    blue: TaskSetRef | None = None  # None: a first deployment, nothing serves production yet
    blueTargetGroupArn: str  # the target group the test rule points at once green is live
    greenTargetGroupArn: str
    savedRules: SavedRules
    testUrl: str | None = None
    requestedBy: str = "unknown"
    slackThread: SlackThread | None = None
    startedAt: datetime | None = None
    # The whole release, computed in Validate; CreateGreen registers greenDefinition as is
    release: str = "imageTag"
    greenDefinition: dict[str, Any] | None = None  # RegisterTaskDefinition arguments, images pinned by digest
    greenTags: dict[str, str] = Field(default_factory=dict)  # tags copied from blue (no aws:, at most 50)
    plan: Plan | None = None
    firstDeployment: FirstDeployment | None = None

    rollbackOf: str | None = None  # The execution whose release this deployment rolls back
    imagePushedAt: datetime | None = None  # ECR imagePushedAt, for the lead time


class FirstDeployment(Model):
    """What Validate found before a first deployment."""

    productionFixedResponse: bool = False  # the production rule answered with a fixed response
    previouslyServed: bool = False  # production's target group had healthy targets (e.g. an adopted service)
    containerPort: int | None = None  # the load-balanced container's port in the base task definition


class GreenTaskSet(Model):
    """Output of CreateGreen, at ``$.green``."""

    id: str
    arn: str
    taskDefinition: str
    targetGroupArn: str
    healthDeadline: datetime


class HealthReport(Model):
    """Output of CheckHealth, at ``$.health``."""

    healthyTargets: int
    desiredCount: int


class SwapResult(Model):
    """Output of Swap (and of each traffic shift step), at ``$.swap``."""

    swappedAt: datetime
    bakeDeadline: datetime
    productionWeights: dict[str, int]
    step: int = 0  # index in the strategy's schedule
    weight: int = 100  # green's share of production now
    complete: bool = True  # production entirely on green, green primary, test rule on blue
    firstShiftAt: datetime | None = None  # When production first reached green (time to restore)


class StepError(BaseModel):
    """What a ``Catch`` puts at ``$.error``."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    Error: str = "States.Unknown"
    Cause: str | None = None


class ValidateEvent(BaseModel):
    """Payload of the Validate task (built by the state's ``Parameters``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    input: Any = None  # any JSON value: Validate itself refuses what is not an object (InvalidInput)
    executionArn: str
    executionName: str


class FailureReport(Model):
    """Output of Cleanup and Rollback: the error the execution ends with."""

    error: str
    cause: str
    deletedTaskSets: list[str] = Field(default_factory=list)
    restoredRules: list[str] = Field(default_factory=list)
    drainSeconds: int | None = None  # NLB rollback: production is back on blue; green is deleted after this wait


class StepEvent(BaseModel):
    """Payload of every state after Validate: the whole state data."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    context: DeploymentContext
    green: GreenTaskSet | None = None
    swap: SwapResult | None = None
    approval: dict[str, Any] | None = None  # the approver's answer (SendTaskSuccess output)
    error: StepError | None = None
    hooks: HooksReport | None = None  # RunHooks' output at $.hooks (every stage's results so far)
    failure: FailureReport | None = None  # Rollback's first pass, when green waits for NLB connections to drain


class GateEvent(StepEvent):
    """Payload of a ``waitForTaskToken`` gate (approval, bake, keep-old)."""

    kind: GateKind
    taskToken: str
    green: GreenTaskSet


class GreenEvent(StepEvent):
    """Payload of the states that need the green task set."""

    green: GreenTaskSet


class FailureEvent(BaseModel):
    """Payload of Cleanup: the context may be missing when Validate itself failed."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    context: DeploymentContext | None = None
    green: GreenTaskSet | None = None
    error: StepError | None = None


class CleanupEvent(BaseModel):
    """Payload of Cleanup (built by the state's ``Parameters``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    state: FailureEvent
    executionArn: str
    validationFailed: bool = False
    greenTaskSetId: str | None = None  # Green as CreateGreen recorded it (an execution stopped meanwhile)
    input: Any = None  # the raw execution input, when Validate failed (any JSON value)


class DeploymentResult(Model):
    """Output of DeleteOld and of a successful execution."""

    service: str
    imageTag: str
    imageDigest: str
    taskSet: str
    targetGroupArn: str
    deletedTaskSet: str | None = None
    plan: Plan | None = None  # What this release changed
    hooks: list[HookResult] = Field(default_factory=list)  # The verification hooks' results
    analysis: AnalysisVerdict | None = None  # Was green judged by the built-in analysis at all


# --- outputs of the gate tasks and of the alarm handler ---------------------------------
class OpenedGate(Model):
    """Output of OpenGate and Bake (Step Functions ignores it: the gate's answer is the task's result)."""

    gateId: str
    kind: GateKind
    notification: str | None = None  # why the Slack message could not be posted, if it could not


class AlarmHandled(Model):
    """Output of the alarm handler: the bakes an alarm failed."""

    alarm: str
    bakesFailed: list[str] = Field(default_factory=list)


# --- green judged by its own tasks' targets -------------------------------------------
class TargetObservation(Model):
    """One target of green's target group, as DescribeTargetHealth reports it."""

    address: str
    state: str
    reason: str | None = None


class StoppedTask(Model):
    """A task of green that ECS stopped (DescribeTasks ``stoppedReason``/``stopCode``)."""

    taskArn: str
    stoppedReason: str = ""
    stopCode: str | None = None


class GreenObservation(Model):
    """What AWS says about green right now: its task set, its tasks' addresses, its target group."""

    taskSetId: str
    exists: bool = True
    stability: str = "STABILIZING"
    desired: int = 0
    running: int = 0
    addresses: list[str] = Field(default_factory=list)  # ENI addresses of green's running tasks
    targets: list[TargetObservation] = Field(default_factory=list)  # every target of green's target group
    stopped: list[StoppedTask] = Field(default_factory=list)
    zones: dict[str, str] = Field(default_factory=dict)  # Address -> Availability Zone of green's tasks


class GreenVerdict(Model):
    """The health gate's judgement of a :class:`GreenObservation`."""

    healthy: bool
    healthyTargets: int
    desired: int
    crashLooping: bool = False
    summary: str
    zonesMissing: list[str] = Field(default_factory=list)  # NLB zones green's healthy targets miss


# --- Network Load Balancer zones (see bluegreen.domain.zones) ---------------------------------
class ZoneObservation(Model):
    """Where green and blue have healthy targets, per Availability Zone, behind a Network Load Balancer."""

    enabledZones: list[str]  # the load balancer's enabled Availability Zones
    crossZone: bool  # load_balancing.cross_zone.enabled in effect for green's target group
    greenHealthy: dict[str, int] = Field(default_factory=dict)  # zone -> green's own healthy targets
    blueHealthy: dict[str, int] = Field(default_factory=dict)  # zone -> blue's own healthy targets
    minHealthyPerZone: int = 1  # target_group_health.dns_failover.minimum_healthy_targets.count (off: 1)


class ZoneVerdict(Model):
    covered: bool
    required: list[str] = Field(default_factory=list)  # zones green must serve
    missing: list[str] = Field(default_factory=list)  # required zones without enough healthy green targets
    summary: str = ""
