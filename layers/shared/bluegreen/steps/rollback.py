"""Rollback (after the swap): restore the saved rules and blue, delete green, release the lock."""

from __future__ import annotations

from bluegreen.aws import analysis_alarm, ecs, elbv2, first_deploy, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.events import DetailType
from bluegreen.deps import Deps
from bluegreen.domain import clock, policy
from bluegreen.domain.models import FailureReport, StepEvent
from bluegreen.steps.cleanup import delete_green, describe_error, finish, stop_hook_tasks


def run(event: StepEvent, deps: Deps) -> FailureReport:
    """The Rollback states: behind an NLB, the first pass restores production and asks for the drain wait."""
    return roll_back(event, deps, may_wait=True)


def drain_seconds(event: StepEvent) -> int:
    """How long green keeps its open connections after production went back to blue (0: delete it now).

    A Network Load Balancer applies a listener change to new connections only; existing ones stay on their
    target group (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-listeners.html),
    so deleting green at once would cut the connections it still serves. The second pass (after the state
    machine's Wait) carries the first pass's report and waits no more.
    """
    if event.failure is not None and event.failure.drainSeconds is not None:
        return 0
    saved = event.context.savedRules.production_routes()
    if not any(route.loadBalancerType == "network" for route in saved):
        return 0
    return event.context.config.nlbDrainSeconds


def roll_back(event: StepEvent, deps: Deps, may_wait: bool) -> FailureReport:
    """Restore the saved routes and blue, then (unless green must first drain) delete green and finish."""
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context = event.context
    config = context.config
    name, message = describe_error(event.error)
    saved = context.savedRules
    saved_rules = (*saved.production_routes(), saved.test)

    # Blue must still have healthy targets before production goes back to it.
    descriptions = elbv2.target_health(clients.elbv2, context.blueTargetGroupArn)
    if first_deploy.blue_must_be_healthy(context):  # Not when production was never served
        policy.check_rollback_safe(
            context.blueTargetGroupArn, elbv2.healthy_count(descriptions), elbv2.describe_health(descriptions)
        )

    restored = []
    current = {snapshot.ruleArn: routes.describe(clients.elbv2, snapshot.ruleArn) for snapshot in saved_rules}
    if any(current[snapshot.ruleArn].actions != snapshot.actions for snapshot in saved_rules):
        # Once per rollback; a retried one (e.g. PrimaryNotSwitchedYet) finds the rules restored
        deployment_events.emit(deps.events, DetailType.ROLLBACK_STARTED, context, error=name, why=message)
    for snapshot in saved_rules:  # Every saved route verbatim, production first, one call per route
        if current[snapshot.ruleArn].actions != snapshot.actions:
            routes.modify(clients.elbv2, snapshot, snapshot.actions)
            restored.append(snapshot.ruleArn)

    # A first deployment has no blue to make primary
    # Always switched: DescribeServices may still show blue as primary a few seconds after the swap (ECS is
    # eventually consistent), and the call is harmless when blue already is.
    if context.blue is not None:
        ecs.make_primary(clients.ecs, config, context.blue.arn)
    drain = drain_seconds(event) if may_wait else 0
    if drain:  # production is on blue for new connections; green is deleted after the state machine's Wait
        cause = (
            f"Production of {context.service} is back on {first_deploy.describe_blue(context)} after {name}: "
            f"{message.rstrip('.')}. Green keeps its open NLB connections for {drain}s, then it is deleted."
        )
        return FailureReport(error="RolledBack", cause=cause, restoredRules=restored, drainSeconds=drain)
    if event.failure is not None:  # the second pass: the first one restored the routes
        restored = restored or event.failure.restoredRules
    # A saved production route may be a fixed response (serving no group)
    production_groups = first_deploy.groups_served_by(saved.production_routes())
    stop_hook_tasks(clients, context, f"bluegreen deployment rolled back after {name}")
    deleted = delete_green(clients, context, production_groups)
    analysis_alarm.delete(clients.cloudwatch, context)  # Nothing left behind
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
