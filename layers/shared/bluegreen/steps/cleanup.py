"""Cleanup (before the swap; Rollback after it is in :mod:`.rollback`): end every failure in a clean state."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping

from bluegreen.aws import analysis_alarm, ecs, first_deploy, hook_calls, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.clients import AwsClients
from bluegreen.aws.events import DetailType
from bluegreen.aws.store import Store
from bluegreen.deps import Deps
from bluegreen.domain import policy
from bluegreen.domain.errors import BlueGreenError, PrimaryNotSwitchedYet, TransientAwsError
from bluegreen.domain.hooks import EcsTaskHook
from bluegreen.domain.models import CleanupEvent, DeploymentContext, FailureReport, ServiceConfig, StepError
from bluegreen.slack import notify
from bluegreen.slack.notify import SlackNotifier


@contextlib.contextmanager
def redrivable(error_class: type[BlueGreenError], state: str) -> Iterator[None]:
    """The end tasks (Cleanup, Rollback) have no Catch: a failure ends the execution *at the task*,
    named ``error_class``, so that RedriveExecution (which resumes at the unsuccessful state) runs it again.
    Errors the state's Retry handles (transient AWS errors, ECS not showing a primary switch yet) pass through
    unchanged.
    """
    try:
        yield
    except (TransientAwsError, PrimaryNotSwitchedYet):
        raise
    except Exception as error:  # noqa: BLE001 - every other failure of the end task gets its redrivable name
        raise error_class(
            f"{state} could not complete: {type(error).__name__}: {error} Fix the cause, then redrive the "
            f"execution (aws stepfunctions redrive-execution, within 14 days): it runs {state} again."
        ) from error


def describe_error(error: StepError | None) -> tuple[str, str]:
    """``(name, message)`` from a Catch's ``{Error, Cause}``; Lambda causes are JSON with errorMessage."""
    if error is None:
        return "States.Unknown", "unknown error"
    cause = error.Cause or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        cause = str(parsed["errorMessage"])
    return error.Error, cause or error.Error


def _requeue_push(store: Store, raw: dict, name: str, message: str) -> None:
    """A push that lost the race for the lock waits for the running deployment instead of being lost."""
    if name != "DeploymentInProgress" or raw.get("requestedBy") != "ecr-push" or not raw.get("imageDigest"):
        return
    release = {
        "imageTag": str(raw.get("imageTag")),
        "imageDigest": str(raw["imageDigest"]),
        "requestedBy": "ecr-push",
        "waitingFor": message[:500],
    }
    store.put_pending(str(raw["service"]), release)


def serving_production(clients: AwsClients, config: ServiceConfig) -> set[str]:
    """Target groups the production routes forward to now: every route; a route still answering
    a fixed response serves none."""
    return first_deploy.groups_served_by(routes.describe_all(clients.elbv2, config.production_route_arns()))


def delete_green(
    clients: AwsClients, context: DeploymentContext, production_groups: set[str], recorded: Iterable[str] = ()
) -> list[str]:
    """Delete every task set this execution created (found by externalId), never one production uses.

    ``recorded``: green's id as CreateGreen recorded it. ECS lists a new task set only a few
    seconds after CreateTaskSet; one it does not list yet is deleted by id, unless production forwards to
    green's target group.
    """
    config = context.config
    deleted = []
    listed = ecs.live_task_sets(clients.ecs, config)
    for task_set in listed:
        info = policy.TaskSetInfo.of(task_set)
        # A first deployment's green is primary (there is nothing else) yet serves nothing once the
        # rules are restored.
        if policy.may_delete_green(info, context.executionName, production_groups, context.blue is None):
            ecs.delete_task_set(clients.ecs, config, info.id)
            deleted.append(info.id)
    unlisted = policy.unlisted_green(
        recorded, {ts["id"] for ts in listed}, context.greenTargetGroupArn, production_groups
    )
    for task_set_id in unlisted:
        ecs.delete_task_set(clients.ecs, config, task_set_id)  # gone already: TaskSetNotFoundException is ignored
        deleted.append(task_set_id)
    return deleted


def stop_hook_tasks(clients: AwsClients, context: DeploymentContext, why: str) -> list[str]:
    """Stop the one-off tasks this execution's ``ecsTask`` hooks started and that still run (none: no call)."""
    if not any(isinstance(hook, EcsTaskHook) for hook in context.config.hooks.all()):
        return []
    return hook_calls.stop_hook_tasks(clients.ecs, context.config.cluster, context.executionName, why)


def finish(
    context: DeploymentContext,
    store: Store,
    notifier: SlackNotifier,
    outcome: str,
    error: str,
    text: str,
    release: Mapping[str, object] | None = None,
) -> None:
    """Record the outcome, close this execution's open gate (buttons removed), release the service's lock.

    The end is recorded first: a gate is written only while the deployment is recorded as running, so a
    step still running after a stop opens none after this close."""
    store.record_end(context.service, context.executionArn, outcome, error, text, release)
    closed = store.close_open_gate(context.service, context.executionArn, "EXPIRED", "deployment ended")
    if closed:
        notifier.update_gate(closed)
    store.release_lock(context.service, context.executionArn)
    notify.milestone(notifier, context, text)


def run(request: CleanupEvent, deps: Deps) -> FailureReport:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    event = request.state
    name, message = describe_error(event.error)
    stated = message  # as the decision or the error stated it (for the event)
    if request.validationFailed or event.context is None:
        # Validate failed: nothing was created. Release the lock if this execution took it.
        raw = request.input if isinstance(request.input, dict) else {}
        service = raw.get("service")
        if isinstance(service, str) and service:
            store.record_end(service, request.executionArn, "failed", name, message)
            store.release_lock(service, request.executionArn)
            _requeue_push(store, raw, name, message)
            deployment_events.emit_validation_failed(
                deps.events, request.executionArn, request.input or {}, name, message
            )
        return FailureReport(error=name, cause=message)
    context = event.context
    production_groups = serving_production(clients, context.config)
    recorded = [i for i in (event.green.id if event.green else None, request.greenTaskSetId) if i]
    stop_hook_tasks(clients, context, f"bluegreen deployment cleaned up after {name}")
    deleted = delete_green(clients, context, production_groups, recorded)
    analysis_alarm.delete(clients.cloudwatch, context)  # A Swap that failed may have created it
    suffix = f" Deleted green task set {', '.join(deleted)}; production was not changed." if deleted else ""
    if suffix and not message.rstrip().endswith("."):
        message = message.rstrip() + "."
    if name == "Rejected":  # the cause is "Rejected by <actor>: <reason>" (bluegreen.aws.decisions)
        who, _, why = stated.removeprefix("Rejected by ").partition(": ")
        deployment_events.emit(
            deps.events, DetailType.REJECTED, context, who=who, why=why or None, outcome="cleaned_up"
        )
    else:
        deployment_events.emit(deps.events, DetailType.FAILED, context, error=name, why=stated, outcome="cleaned_up")
    finish(
        context,
        store,
        notifier,
        "cleaned_up",
        name,
        f"Deployment of {context.imageTag} failed: {name}. {message}{suffix}",
    )
    return FailureReport(error=name, cause=message + suffix, deletedTaskSets=deleted)
