"""Typed errors raised by the workflow steps.

The class name is the error name that Step Functions sees (Lambda reports it as
``errorType``), so the state machine's ``Retry`` and ``Catch`` fields route on
these names. Keep names stable: they are part of the public interface.
"""

from __future__ import annotations


class BlueGreenError(Exception):
    """Base class of every error the workflow raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Validate: bad input or an environment that cannot be deployed -----------------
class InvalidInput(BlueGreenError):
    """The execution input does not match the documented schema."""


class UnknownService(BlueGreenError):
    """No configuration document exists for the requested service."""


class InvalidServiceConfig(BlueGreenError):
    """The service's configuration document is malformed."""


class ImageNotFound(BlueGreenError):
    """The image tag (or digest) does not exist in the ECR repository."""


class DigestMismatch(BlueGreenError):
    """The tag resolves to another digest than the one given in the input."""


class MutableTagRefused(BlueGreenError):
    """The tag is a moving tag such as ``latest``; deployments must name a release."""


class ServiceNotFound(BlueGreenError):
    """The ECS service does not exist or is not ACTIVE."""


class NotExternalController(BlueGreenError):
    """The ECS service does not use the EXTERNAL deployment controller."""


class NoServingTaskSet(BlueGreenError):
    """No task set serves production, so there is nothing to copy the network setup from."""


class MultipleServingTaskSets(BlueGreenError):
    """More than one task set receives production traffic."""


class TooManyTaskSets(BlueGreenError):
    """The service already has five task sets (DRAINING ones count): ECS would refuse green's CreateTaskSet."""


class TestTargetGroupBusy(BlueGreenError):
    """The test target group already has a task set (an earlier deployment is not finished)."""

    __test__ = False  # not a pytest test class


class ListenerRulesInvalid(BlueGreenError):
    """The listener rules do not forward the way the configuration says."""


# --- Health ------------------------------------------------------------------------
class GreenNotHealthyYet(BlueGreenError):
    """Green is still starting; the state machine retries with backoff."""


class HealthCheckTimeout(BlueGreenError):
    """Green did not become healthy before the configured health-wait timeout."""


class GreenNotHealthy(BlueGreenError):
    """Green lost its healthy targets just before the swap; production was not touched."""


# --- Bake and rollback -------------------------------------------------------------
class AlarmTriggered(BlueGreenError):
    """A configured CloudWatch alarm is in ALARM during the bake."""


class RollbackUnsafe(BlueGreenError):
    """Blue has no healthy targets, so production cannot be moved back to it."""


# --- Delete old ----------------------------------------------------------------------
class UnsafeDelete(BlueGreenError):
    """The task set chosen for deletion still serves production traffic, or is primary."""


# --- Transient -----------------------------------------------------------------------
class TransientAwsError(BlueGreenError):
    """An AWS API call was throttled or failed server-side; safe to retry."""


# --- One deployment per service ----------------------------------------------------------
class DeploymentInProgress(BlueGreenError):
    """Another execution holds the service's deployment lock."""


# --- Gates: approvals, bake, keep-old ---------------------------------------------------
class Rejected(BlueGreenError):
    """Someone rejected the deployment at the approval gate."""


class ApprovalTimedOut(BlueGreenError):
    """Nobody decided before the approval timeout."""


class ManualRollback(BlueGreenError):
    """Someone asked for a rollback during the bake or the keep-old hold."""


class UnknownGate(BlueGreenError):
    """No pending approval (or rollback window) with that id or for that service."""


class AlreadyDecided(BlueGreenError):
    """The gate was already answered; nothing was sent to Step Functions again."""


class GateExpired(BlueGreenError):
    """The gate's deployment is no longer waiting (timed out or ended)."""


class NotAllowed(BlueGreenError):
    """The user is not on the service's approver allowlist."""


# --- whole releases (bluegreen/aws/release.py); each fails in Validate, nothing changed --------
class AmbiguousRelease(BlueGreenError):
    """The input describes the release in more than one way (imageTag, images, taskDefinition, overrides)."""


class InvalidTaskDefinition(BlueGreenError):
    """The given task definition is not valid JSON or not a task definition."""


class TaskDefinitionNotFound(BlueGreenError):
    """The registered task definition (family:revision or ARN) does not exist."""


class UnknownContainer(BlueGreenError):
    """The release names a container the task definition does not have."""


class UnpinnedImage(BlueGreenError):
    """An image outside ECR is given by tag; it cannot be resolved to a digest, so it must be pinned."""


class LoadBalancedContainerMissing(BlueGreenError):
    """The new task definition lacks the load-balanced container or its port."""


class RoleNotAllowed(BlueGreenError):
    """A task or execution role is outside the stack's pass-role pattern (TaskRoleNamePattern)."""


class InvalidTaskSize(BlueGreenError):
    """The cpu/memory combination is not one Fargate supports."""


class IncompatibleTaskDefinition(BlueGreenError):
    """The new task definition does not fit the service's launch type, capacity providers or network mode."""


class TaskDefinitionTooLarge(BlueGreenError):
    """An inline task definition would push the state data over the Step Functions payload limit."""


# --- verification hooks ------------------------------------------------------
class UnknownHookType(BlueGreenError):
    """A hook in the service's configuration has a type this tool does not know."""


class HookConfigOutOfRange(BlueGreenError):
    """A hook's setting (timeout, count, pattern) is missing or out of its range."""


class HookFunctionNotAllowed(BlueGreenError):
    """A hook's Lambda ARN is outside the pattern the stack may invoke (HookFunctionArnPattern)."""


class HookFunctionNotFound(BlueGreenError):
    """A hook's Lambda function does not exist (or the stack may not read it)."""


class HookFailed(BlueGreenError):
    """A hook answered FAILED, garbage or an error, or did not finish within its timeout."""


class ProbeOutsideRoutes(BlueGreenError):
    """An HTTP probe's host or path is not one its stage's route (test or production) answers."""


# --- routes (listener rules, listener default actions, NLB listeners) ---------------------
class RouteNotFound(ListenerRulesInvalid):
    """A configured route ARN is not a listener rule or listener, or does not exist."""


class RouteOutsideAllowedLoadBalancers(ListenerRulesInvalid):
    """A route belongs to a load balancer the stack may not change."""


class RouteForwardsElsewhere(ListenerRulesInvalid):
    """A route forwards to neither configured target group (or production routes disagree)."""


class RoutesMixLoadBalancerTypes(ListenerRulesInvalid):
    """A service's routes are on both Application and Network Load Balancers."""


class TestRouteIsProduction(ListenerRulesInvalid):
    """The test route is also a production route (or a production route is listed twice)."""


class RouteNotForward(ListenerRulesInvalid):
    """A listener used as a route has a default action that is not a forward (redirect, fixed response)."""


class RouteNotWeightable(ListenerRulesInvalid):
    """A gradual traffic shift was asked on a route whose listener cannot weight target groups."""


# --- the data plane (replaced tasks, crash loops, eventual consistency) ---------------
class GreenRecovering(BlueGreenError):
    """Green has some healthy targets but fewer than desired (a task is being replaced); retried briefly."""


class GreenCrashLooping(BlueGreenError):
    """Green's tasks keep stopping (the crash-loop circuit breaker); the cause lists their stopped reasons."""


class PrimaryNotSwitchedYet(BlueGreenError):
    """DescribeServices still shows the previous primary (ECS is eventually consistent); retried briefly."""


# --- end tasks that fail for good, redrivable -----------------------------------------
class ExecutionAlreadyEnded(BlueGreenError):
    """The execution was stopped (or timed out) while this step ran; what it created was undone."""


class CleanupFailed(BlueGreenError):
    """Cleanup (or ValidationFailed) could not finish after its retries; redriving the execution re-runs it."""


class RollbackFailed(BlueGreenError):
    """Rollback could not finish after its retries; redriving the execution re-runs it."""


# --- built-in analysis --------------------------------------------------------
class AnalysisConfigOutOfRange(BlueGreenError):
    """A threshold or window of the service's ``analysis`` block is missing or out of its range."""


class AnalysisNotSupported(BlueGreenError):
    """Built-in analysis was asked for a service behind a Network Load Balancer (no HTTP codes, no latency)."""


# --- the ECS native blue/green controller (deploymentController ECS) ----------------------------
class ApprovalTimeoutBeyondNativeLimit(BlueGreenError):
    """The approval timeout is longer than an ECS pause hook can wait (20,160 minutes); use the EXTERNAL path."""


class NativeControllerUnsupported(BlueGreenError):
    """The service's configuration asks for something the ECS native controller cannot do (the cause says what)."""


# --- sticky sessions ---------------------------------------------------------------------------
class StickyProductionRoute(ListenerRulesInvalid):
    """A production route forwards with target group stickiness on: a swap would not move its cookie holders."""
