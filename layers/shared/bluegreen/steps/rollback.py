"""Rollback (after the swap): restore the saved rules and blue, delete green, release the lock."""

from __future__ import annotations

from .. import ecs, elbv2, policy, routes
from ..aws import AwsClients
from ..deps import Deps
from ..models import FailureReport, StepEvent
from ..notify import SlackNotifier
from ..store import Store
from .cleanup import delete_green, describe_error, finish


def run(event: StepEvent, deps: Deps) -> FailureReport:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context = event.context
    config = context.config
    name, message = describe_error(event.error)
    saved = context.savedRules

    # Blue must still have healthy targets before production goes back to it.
    descriptions = elbv2.target_health(clients.elbv2, context.blueTargetGroupArn)
    policy.check_rollback_safe(
        context.blueTargetGroupArn, elbv2.healthy_count(descriptions), elbv2.describe_health(descriptions)
    )

    restored = []
    for snapshot in (*saved.production_routes(), saved.test):  # production first, one call per route
        if routes.restore(clients.elbv2, snapshot):
            restored.append(snapshot.ruleArn)

    if not ecs.is_primary(clients.ecs, config, context.blue.id):  # a retried rollback skips the no-op switch
        ecs.make_primary(clients.ecs, config, context.blue.arn)
    production_groups = elbv2.receiving(routes.merged_weights(saved.production_routes()))
    deleted = delete_green(clients, context, production_groups)
    cause = (
        f"Rolled back {context.service} to {context.blue.image or context.blue.taskDefinition} after "
        f"{name}: {message.rstrip('.')}. Production rules restored; green task set deleted."
    )
    finish(context, store, notifier, "rolled_back", name, cause)
    return FailureReport(error="RolledBack", cause=cause, deletedTaskSets=deleted, restoredRules=restored)


def rollback(event: StepEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> FailureReport:
    """Kept while the branches calling it are merged (issue #16): use :func:`run`."""
    return run(event, Deps(clients=clients, store=store, notifier=notifier))
