"""Cleanup (before the swap) and Rollback (after it): end every failure in a clean state."""

from __future__ import annotations

import json

from .. import ecs, elbv2, first_deploy, notify
from ..aws import AwsClients
from ..errors import RollbackUnsafe, UnsafeDelete
from ..models import CleanupEvent, DeploymentContext, FailureReport, StepError, StepEvent
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


def _delete_green(clients: AwsClients, context: DeploymentContext, production_groups: set[str]) -> list[str]:
    """Delete every task set this execution created (found by externalId), never one production uses."""
    config = context.config
    deleted = []
    for task_set in ecs.live_task_sets(clients.ecs, config):
        if task_set.get("externalId") != context.executionName:
            continue
        # A first deployment's green is primary (there is nothing else) but serves nothing once rules are restored.
        primary = task_set["status"] == "PRIMARY" and context.blue is not None
        if ecs.target_group_of(task_set) in production_groups or primary:
            raise UnsafeDelete(
                f"Task set {task_set['id']} created by this deployment serves production; it was not deleted."
            )
        ecs.delete_task_set(clients.ecs, config, task_set["id"])
        deleted.append(task_set["id"])
    return deleted


def _finish(
    context: DeploymentContext, store: Store, notifier: SlackNotifier, outcome: str, error: str, text: str
) -> None:
    """Close this execution's open gate (buttons removed), record the outcome, release the service's lock."""
    closed = store.close_open_gate(context.service, context.executionArn, "EXPIRED", "deployment ended")
    if closed:
        notifier.update_gate(closed)
    store.record_end(context.service, context.executionArn, outcome, error, text)
    store.release_lock(context.service, context.executionArn)
    notify.milestone(notifier, context, text)


def cleanup(request: CleanupEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> FailureReport:
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
    production = elbv2.describe_rule(clients.elbv2, context.config.productionRuleArn)
    production_groups = first_deploy.serving_groups(production)
    deleted = _delete_green(clients, context, production_groups)
    suffix = f" Deleted green task set {', '.join(deleted)}; production was not changed." if deleted else ""
    if suffix and not message.rstrip().endswith("."):
        message = message.rstrip() + "."
    _finish(
        context,
        store,
        notifier,
        "cleaned_up",
        name,
        f"Deployment of {context.imageTag} failed: {name}. {message}{suffix}",
    )
    return FailureReport(error=name, cause=message + suffix, deletedTaskSets=deleted)


def rollback(event: StepEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> FailureReport:
    context = event.context
    config = context.config
    name, message = describe_error(event.error)
    saved = context.savedRules

    # Blue must still have healthy targets before production goes back to it.
    descriptions = elbv2.target_health(clients.elbv2, context.blueTargetGroupArn)
    if elbv2.healthy_count(descriptions) == 0 and first_deploy.blue_must_be_healthy(context):
        raise RollbackUnsafe(
            f"Cannot roll back: blue target group {context.blueTargetGroupArn} has "
            f"{elbv2.describe_health(descriptions)}. Production was left on green; fix blue or roll forward."
        )

    restored = []
    for snapshot in (saved.production, saved.test):  # production first, in one call
        current = elbv2.describe_rule(clients.elbv2, snapshot.ruleArn)
        if current.actions != snapshot.actions:
            elbv2.modify_rule(clients.elbv2, snapshot.ruleArn, snapshot.actions)
            restored.append(snapshot.ruleArn)

    if context.blue is not None:  # issue #10: a first deployment has no blue to make primary
        ecs.make_primary(clients.ecs, config, context.blue.arn)
    production_groups = first_deploy.serving_groups(saved.production)
    deleted = _delete_green(clients, context, production_groups)
    cause = (
        f"Rolled back {context.service} to {first_deploy.describe_blue(context)} after "
        f"{name}: {message.rstrip('.')}. Production rules restored; green task set deleted."
    )
    _finish(context, store, notifier, "rolled_back", name, cause)
    return FailureReport(error="RolledBack", cause=cause, deletedTaskSets=deleted, restoredRules=restored)
