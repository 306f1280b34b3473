"""Rollback (after the swap): restore the saved rules and blue, delete green, release the lock."""

from __future__ import annotations

from .. import clock, ecs, elbv2
from .. import events as deployment_events
from ..aws import AwsClients
from ..deps import Deps
from ..errors import RollbackUnsafe
from ..events import DetailType
from ..models import FailureReport, StepEvent
from ..notify import SlackNotifier
from ..store import Store
from .cleanup import _delete_green, _finish, describe_error


def run(event: StepEvent, deps: Deps) -> FailureReport:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context = event.context
    config = context.config
    name, message = describe_error(event.error)
    saved = context.savedRules
    deployment_events.emit(deps.events, DetailType.ROLLBACK_STARTED, context, error=name, why=message)

    # Blue must still have healthy targets before production goes back to it.
    descriptions = elbv2.target_health(clients.elbv2, context.blueTargetGroupArn)
    if elbv2.healthy_count(descriptions) == 0:
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

    ecs.make_primary(clients.ecs, config, context.blue.arn)
    production_groups = elbv2.receiving(elbv2.forward_weights(saved.production.actions, saved.production.ruleArn))
    deleted = _delete_green(clients, context, production_groups)
    cause = (
        f"Rolled back {context.service} to {context.blue.image or context.blue.taskDefinition} after "
        f"{name}: {message.rstrip('.')}. Production rules restored; green task set deleted."
    )
    release = {
        "firstShiftAt": event.swap.firstShiftAt.isoformat(timespec="seconds")
        if event.swap and event.swap.firstShiftAt
        else None,
        "restoredAt": clock.now().isoformat(timespec="seconds"),
    }
    _finish(context, store, notifier, "rolled_back", name, cause, release)
    deployment_events.emit(deps.events, DetailType.ROLLED_BACK, context, error=name, why=message, outcome="rolled_back")
    return FailureReport(error="RolledBack", cause=cause, deletedTaskSets=deleted, restoredRules=restored)


def rollback(event: StepEvent, clients: AwsClients, store: Store, notifier: SlackNotifier) -> FailureReport:
    """Kept while the branches calling it are merged (issue #16): use :func:`run`."""
    return run(event, Deps(clients=clients, store=store, notifier=notifier))
