"""Rollback (after the swap): restore the saved rules and blue, delete green, release the lock."""

from __future__ import annotations

from .. import analysis_alarm, clock, ecs, elbv2, first_deploy, policy, routes
from .. import events as deployment_events
from ..deps import Deps
from ..events import DetailType
from ..models import FailureReport, StepEvent
from .cleanup import delete_green, describe_error, finish, stop_hook_tasks


def run(event: StepEvent, deps: Deps) -> FailureReport:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context = event.context
    config = context.config
    name, message = describe_error(event.error)
    saved = context.savedRules
    saved_rules = (*saved.production_routes(), saved.test)

    # Blue must still have healthy targets before production goes back to it.
    descriptions = elbv2.target_health(clients.elbv2, context.blueTargetGroupArn)
    if first_deploy.blue_must_be_healthy(context):  # issue #10: not when production was never served
        policy.check_rollback_safe(
            context.blueTargetGroupArn, elbv2.healthy_count(descriptions), elbv2.describe_health(descriptions)
        )

    restored = []
    current = {snapshot.ruleArn: routes.describe(clients.elbv2, snapshot.ruleArn) for snapshot in saved_rules}
    if any(current[snapshot.ruleArn].actions != snapshot.actions for snapshot in saved_rules):
        # issue #15: once per rollback; a retried one (e.g. PrimaryNotSwitchedYet) finds the rules restored
        deployment_events.emit(deps.events, DetailType.ROLLBACK_STARTED, context, error=name, why=message)
    for snapshot in saved_rules:  # issue #14: every saved route verbatim, production first, one call per route
        if current[snapshot.ruleArn].actions != snapshot.actions:
            routes.modify(clients.elbv2, snapshot, snapshot.actions)
            restored.append(snapshot.ruleArn)

    # issue #10: a first deployment has no blue to make primary
    # Always switched: DescribeTaskSets may still show blue as primary a few seconds after the swap (ECS is
    # eventually consistent), and the call is harmless when blue already is.
    if context.blue is not None:
        ecs.make_primary(clients.ecs, config, context.blue.arn)
    # issue #10: a saved production route may be a fixed response (serving no group)
    production_groups = first_deploy.groups_served_by(saved.production_routes())
    stop_hook_tasks(clients, context, f"bluegreen deployment rolled back after {name}")
    deleted = delete_green(clients, context, production_groups)
    analysis_alarm.delete(clients.cloudwatch, context)  # issue 13: nothing left behind
    cause = (
        f"Rolled back {context.service} to {first_deploy.describe_blue(context)} after "
        f"{name}: {message.rstrip('.')}. Production rules restored; green task set deleted."
    )
    release = {
        "firstShiftAt": event.swap.firstShiftAt.isoformat(timespec="seconds")
        if event.swap and event.swap.firstShiftAt
        else None,
        "restoredAt": clock.now().isoformat(timespec="seconds"),
    }
    finish(context, store, notifier, "rolled_back", name, cause, release)
    deployment_events.emit(deps.events, DetailType.ROLLED_BACK, context, error=name, why=message, outcome="rolled_back")
    return FailureReport(error="RolledBack", cause=cause, deletedTaskSets=deleted, restoredRules=restored)
