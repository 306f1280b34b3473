"""ExecutionEnded: clean up after executions that ended without running their Catch.

Step Functions ends an execution ABORTED (``StopExecution``) or TIMED_OUT (the one-year limit) without
running any state, so neither Cleanup nor Rollback runs. EventBridge delivers a ``Step Functions Execution
Status Change`` for every end; this step reads the deployment's context (saved by Validate in the
deployments table) and does what Cleanup or Rollback would have done:

* production untouched: delete this execution's green task set;
* production moved (a traffic step or the swap happened): restore both saved rules, make blue primary,
  delete green;
* then close the open gate (its Slack message updated), record the end and release the lock.

It is idempotent: an execution whose deployment is already recorded as ended (its Catch path ran, or an
earlier delivery of the same event) is left alone. Every end, SUCCEEDED included, then starts the
service's pending release (an image pushed while the deployment ran).

A redrive (``RedriveExecution``: a RUNNING status change of an execution whose DescribeExecution shows a
``redriveCount`` above 0) resumes the state the execution ended in. The event's own ``redriveCount`` is not
among the documented fields of "Step Functions Execution Status Change" (Step Functions developer guide,
"Automating Step Functions event delivery with EventBridge"), so the documented DescribeExecution
``redriveCount`` ("the number of times you've redriven an execution ... only updated if you successfully
redrive an execution", Step Functions API reference) decides, asked only when it matters. Resuming is
what a failed Cleanup or Rollback needs; but a deployment this step (or its Catch path) already ended
has nothing left to resume -- its green is gone and its lock released -- so such a redrive is stopped
at once (``redrive_refusal``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict

from bluegreen import trigger
from bluegreen.aws import analysis_alarm, ecs, elbv2, routes
from bluegreen.aws.clients import AwsClients, transient_errors
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.errors import PrimaryNotSwitchedYet
from bluegreen.domain.models import (
    CleanupEvent,
    DeploymentContext,
    FailureEvent,
    FailureReport,
    Model,
    StepError,
    StepEvent,
)
from bluegreen.domain.settings import get_settings
from bluegreen.steps import cleanup, rollback

logger = Logger(child=True)

UNCAUGHT_ENDS = ("ABORTED", "TIMED_OUT", "FAILED")
# ECS can show a primary switch a few seconds late (PrimaryNotSwitchedYet, which the state machine retries):
# here, outside the state machine, the cleanup waits for it briefly itself.
LAG_ATTEMPTS, LAG_PAUSE_SECONDS = 5, 3.0
Action = Literal["nothing", "release", "cleanup", "rollback", "finish", "sweep"]


class ExecutionStatusDetail(BaseModel):
    """``detail`` of ``Step Functions Execution Status Change`` (source ``aws.states``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    executionArn: str
    stateMachineArn: str
    name: str | None = None
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusDetail


class EndedReport(Model):
    executionArn: str
    status: str
    service: str | None = None
    action: Action = "nothing"
    deletedTaskSets: list[str] = []
    restoredRules: list[str] = []
    pendingStarted: str | None = None
    redriveStopped: bool = False


def plan(
    status: str, deployment_status: str | None, has_context: bool, production_moved: bool, redriven: bool = False
) -> Action:
    """What the end of an execution calls for (pure).

    ``deployment_status`` is the deployments-table status of the execution (``None``: never recorded);
    anything but ``RUNNING`` means an end state already cleaned up. ``redriven``: the execution was
    redriven after that (and stopped, see :func:`redrive_refusal`); the state it resumed may have opened
    a gate or created a task set before the stop landed.
    """
    if status not in UNCAUGHT_ENDS:
        return "nothing"
    if deployment_status == "deployed" and has_context and not redriven:
        return "finish"  # stopped inside DeleteOld, after it recorded the end: the old task set may remain
    if deployment_status is not None and deployment_status != "RUNNING":
        # the Catch path (or an earlier delivery) already ended it; a refused redrive may have left a gate or green
        return "sweep" if redriven and has_context else "nothing"
    if not has_context:
        return "release"  # ended during Validate: nothing was created
    return "rollback" if production_moved else "cleanup"


def redrive_refusal(redrive_count: int, deployment_status: str | None) -> str | None:
    """Why a redriven execution must stop at once (pure), or ``None`` to let it resume.

    Only an execution whose deployment is still recorded RUNNING (its end step failed before
    recording the end) has work to resume; one already ended would resume without its green or lock.
    """
    if redrive_count <= 0 or deployment_status in (None, "RUNNING"):
        return None
    return (
        f"Redrive refused: this deployment already ended ({deployment_status}) and was cleaned up; "
        f"nothing is left to resume. Start a new deployment instead."
    )


def _service_of(raw_input: str | None) -> str | None:
    try:
        parsed = json.loads(raw_input or "")
    except ValueError:
        return None
    service = parsed.get("service") if isinstance(parsed, dict) else None
    return service if isinstance(service, str) and service else None


def _why(detail: ExecutionStatusDetail) -> StepError:
    name = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut"}.get(detail.status, "ExecutionFailed")
    text = {
        "ABORTED": "The execution was stopped (StopExecution) before it finished",
        "TIMED_OUT": "The execution reached the Step Functions time limit before it finished",
    }.get(detail.status, f"The execution failed ({detail.error or 'unknown error'}) without cleaning up")
    return StepError(Error=name, Cause=text)


def _production_moved(clients: AwsClients, context: DeploymentContext) -> bool:
    saved = context.savedRules
    for snapshot in (*saved.production_routes(), saved.test):  # Every route, rules and listeners
        if routes.describe(clients.elbv2, snapshot.ruleArn).actions != snapshot.actions:
            return True
    return False


def _finish_delete_old(clients: AwsClients, context: DeploymentContext) -> list[str]:
    """Delete what DeleteOld left behind the test rule: only task sets production does not use, never primary."""
    config = context.config
    production_groups = cleanup.serving_production(clients, config)
    test = routes.describe(clients.elbv2, config.test_route_arn())
    test_groups = elbv2.receiving(routes.weights(test)) - production_groups
    deleted = []
    task_sets = ecs.live_task_sets(clients.ecs, config)
    for group in sorted(test_groups):
        for task_set in ecs.task_sets_on(task_sets, group):
            if task_set["status"] == "PRIMARY":
                continue
            ecs.delete_task_set(clients.ecs, config, task_set["id"])
            deleted.append(task_set["id"])
    return deleted


def _sweep(deps: Deps, context: DeploymentContext, recorded_green: str | None) -> list[str]:
    """After a refused redrive: close this execution's gate and delete its green, nothing else.

    The deployment's end is recorded and its lock may belong to another deployment by now: only what
    carries this execution's name is touched, never what production forwards to.
    """
    closed = deps.store.close_open_gate(context.service, context.executionArn, "EXPIRED", "redrive refused")
    if closed:
        deps.notifier.update_gate(closed)
    production_groups = cleanup.serving_production(deps.clients, context.config)
    recorded = [recorded_green] if recorded_green else []
    return cleanup.delete_green(deps.clients, context, production_groups, recorded)


def _redrive_count(deps: Deps, execution_arn: str) -> int:
    """How many times the execution was redriven, from DescribeExecution (documented; the event's is not)."""
    with transient_errors():
        described = deps.clients.sfn.describe_execution(executionArn=execution_arn)
    return int(described.get("redriveCount") or 0)


def _patiently(step: Callable[[], FailureReport]) -> FailureReport:
    """Run a cleanup step again while ECS has not shown the primary switch yet (a few seconds at most)."""
    for attempt in range(1, LAG_ATTEMPTS + 1):
        try:
            return step()
        except PrimaryNotSwitchedYet:
            if attempt == LAG_ATTEMPTS:
                raise
            clock.sleep(LAG_PAUSE_SECONDS)
    raise AssertionError("unreachable")


def run(event: ExecutionStatusChangeEvent, deps: Deps) -> EndedReport:
    detail = event.detail
    report = EndedReport(executionArn=detail.executionArn, status=detail.status)
    state_machine_arn = get_settings().stateMachineArn
    if detail.stateMachineArn != state_machine_arn:
        return report  # the rule filters on it; a stray event changes nothing
    service = _service_of(detail.input)
    report.service = service
    if service is None:
        return report  # Validate refused the input: it took no lock and created nothing
    deployment = deps.store.deployment_of(service, detail.executionArn)
    status = (deployment or {}).get("status")
    # A redrive matters only for a deployment already recorded as ended (redrive_refusal, plan): only then
    # is DescribeExecution asked.
    ended = status not in (None, "RUNNING")
    redrives = _redrive_count(deps, detail.executionArn) if ended else 0
    if detail.status == "RUNNING":  # a start or a redrive (the rule matches every RUNNING change)
        refusal = redrive_refusal(redrives, status)
        if refusal:
            deps.clients.sfn.stop_execution(executionArn=detail.executionArn, error="RedriveRefused", cause=refusal)
            logger.warning("Stopped a redrive of an ended deployment", extra={"service": service})
            report.redriveStopped = True
        return report
    raw_context = (deployment or {}).get("deploymentContext")
    context = DeploymentContext.model_validate_json(raw_context) if raw_context else None
    moved = False
    if context is not None and detail.status in UNCAUGHT_ENDS and status in (None, "RUNNING"):  # Swap ran?
        moved = _production_moved(deps.clients, context)
    report.action = plan(detail.status, status, context is not None, moved, redrives > 0)
    why = _why(detail)
    if report.action == "release":
        if deployment is not None:
            deps.store.record_end(service, detail.executionArn, detail.status.lower(), why.Error, why.Cause)
        deps.store.release_lock(service, detail.executionArn)
    elif report.action == "cleanup":
        request = CleanupEvent(
            state=FailureEvent(context=context, error=why),
            executionArn=detail.executionArn,
            greenTaskSetId=(deployment or {}).get("greenTaskSetId"),  # ECS may not list it yet
        )
        done = _patiently(lambda: cleanup.run(request, deps))
        report.deletedTaskSets = done.deletedTaskSets
    if report.action in ("release", "sweep", "finish") and context is not None:  # cleanup and rollback stop them
        cleanup.stop_hook_tasks(deps.clients, context, f"bluegreen deployment ended {detail.status}")
    if report.action == "sweep" and context is not None:
        report.deletedTaskSets = _sweep(deps, context, (deployment or {}).get("greenTaskSetId"))
    elif report.action == "finish" and context is not None:
        report.deletedTaskSets = _finish_delete_old(deps.clients, context)
        analysis_alarm.delete(deps.clients.cloudwatch, context)
    elif report.action == "rollback":
        # No Wait state here: green (an NLB's open connections included) is deleted at once.
        done = _patiently(lambda: rollback.roll_back(StepEvent(context=context, error=why), deps, may_wait=False))
        report.deletedTaskSets, report.restoredRules = done.deletedTaskSets, done.restoredRules
    if report.action != "nothing":
        logger.warning(
            "Cleaned up after an execution that ended without its Catch",
            extra={"service": service, "status": detail.status, "action": report.action},
        )
    report.pendingStarted = trigger.start_pending(deps.store, deps.clients.sfn, state_machine_arn, service)
    return report
