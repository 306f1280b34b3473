"""Cleanup (before the swap; Rollback after it is in :mod:`.rollback`): end every failure in a clean state."""

from __future__ import annotations

import json

from .. import ecs, elbv2, notify, policy, routes
from ..aws import AwsClients
from ..deps import Deps
from ..models import CleanupEvent, DeploymentContext, FailureReport, StepError
from ..notify import SlackNotifier
from ..store import Store


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


def delete_green(clients: AwsClients, context: DeploymentContext, production_groups: set[str]) -> list[str]:
    """Delete every task set this execution created (found by externalId), never one production uses."""
    config = context.config
    deleted = []
    for task_set in ecs.live_task_sets(clients.ecs, config):
        info = policy.TaskSetInfo.of(task_set)
        if policy.may_delete_green(info, context.executionName, production_groups):
            ecs.delete_task_set(clients.ecs, config, info.id)
            deleted.append(info.id)
    return deleted


def finish(
    context: DeploymentContext, store: Store, notifier: SlackNotifier, outcome: str, error: str, text: str
) -> None:
    """Close this execution's open gate (buttons removed), record the outcome, release the service's lock."""
    closed = store.close_open_gate(context.service, context.executionArn, "EXPIRED", "deployment ended")
    if closed:
        notifier.update_gate(closed)
    store.record_end(context.service, context.executionArn, outcome, error, text)
    store.release_lock(context.service, context.executionArn)
    notify.milestone(notifier, context, text)


def run(request: CleanupEvent, deps: Deps) -> FailureReport:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    event = request.state
    name, message = describe_error(event.error)
    if request.validationFailed or event.context is None:
        # Validate failed: nothing was created. Release the lock if this execution took it.
        service = (request.input or {}).get("service")
        if isinstance(service, str) and service:
            store.record_end(service, request.executionArn, "failed", name, message)
            store.release_lock(service, request.executionArn)
        return FailureReport(error=name, cause=message)
    context = event.context
    production = routes.describe_all(clients.elbv2, context.config.production_route_arns())  # issue #14
    production_groups = elbv2.receiving(routes.merged_weights(production))
    deleted = delete_green(clients, context, production_groups)
    suffix = f" Deleted green task set {', '.join(deleted)}; production was not changed." if deleted else ""
    if suffix and not message.rstrip().endswith("."):
        message = message.rstrip() + "."
    finish(
        context,
        store,
        notifier,
        "cleaned_up",
        name,
        f"Deployment of {context.imageTag} failed: {name}. {message}{suffix}",
    )
    return FailureReport(error=name, cause=message + suffix, deletedTaskSets=deleted)


def cleanup(request: CleanupEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> FailureReport:
    """Kept while the branches calling it are merged (issue #16): use :func:`run`."""
    return run(request, Deps(clients=clients, store=store, notifier=notifier))
