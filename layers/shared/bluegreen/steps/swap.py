"""Swap: move production to green, all at once or step by step (canary, linear).

Every step is one ``ModifyRule`` (or ``ModifyListener``) per production route (:mod:`..routes`).
Only the last step (green at 100) points the test rule at blue and makes green primary;
until then testers keep reaching green through the test rule.
"""

from __future__ import annotations

from datetime import timedelta

from bluegreen import watch_end
from bluegreen.aws import analysis_alarm, ecs, first_deploy, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.events import DetailType
from bluegreen.deps import Deps
from bluegreen.domain import clock, policy
from bluegreen.domain.models import GreenEvent, SwapResult
from bluegreen.slack import notify
from bluegreen.slack.notify import NullNotifier
from bluegreen.steps import check_health


def run(event: GreenEvent, deps: Deps) -> SwapResult:
    clients, notifier = deps.clients, deps.notifier
    context, green = event.context, event.green
    config = context.config
    schedule = config.trafficShift.schedule()
    if event.swap is not None and not event.swap.complete:
        # The traffic step that just ended passes only with no watched alarm in ALARM: its event may have been
        # lost (watch_end). One DescribeAlarms call, before production moves on.
        watch_end.check(clients.cloudwatch, context, watch_end.moment(watch_end.WatchEnd.STEP, event.swap))
    step, weight = policy.next_step(schedule, None if event.swap is None else event.swap.step)
    target = policy.production_weights(green.targetGroupArn, context.blueTargetGroupArn, weight)

    # Every production route moves to this step's weights, one call per route.
    production = routes.describe_all(clients.elbv2, config.production_route_arns())
    # A first deployment, nothing served: a route answering with a fixed response gets a forward to green
    first = any(first_deploy.answers_fixed_response(route.actions) for route in production)
    if event.swap is None:  # The analysis alarm (and blue's baseline) before production first moves
        analysis_alarm.put(clients.cloudwatch, context, green.targetGroupArn)
    if first or any(routes.needs_change(route, target) for route in production):
        # Never send production to a target group without healthy targets.
        check_health.require_healthy(clients, context, green)
        for route in production:
            # The one call that moves this step's share of this route, atomically.
            if first_deploy.answers_fixed_response(route.actions):
                routes.modify(clients.elbv2, route, first_deploy.forward_instead(route.actions, green.targetGroupArn))
            else:
                routes.move(clients.elbv2, route, target)
    if first:
        target = {green.targetGroupArn: 100}

    complete = weight == 100
    if complete:
        # Testers now reach the previous version through the test route.
        test = routes.describe(clients.elbv2, config.test_route_arn())
        routes.move(clients.elbv2, test, {context.blueTargetGroupArn: 1})
        if not ecs.is_primary(clients.ecs, config, green.id):  # a retried swap skips the no-op switch
            ecs.make_primary(clients.ecs, config, green.arn)
    if len(schedule) > 1:
        notify.milestone(
            notifier or NullNotifier(),
            context,
            f"Production at {weight}% on {context.imageTag} (step {step + 1}/{len(schedule)}).",
        )
    now = clock.now()
    if event.swap is None and event.approval and event.approval.get("action") == "approve":
        approval = event.approval
        deployment_events.emit(
            deps.events, DetailType.APPROVED, context, who=approval.get("decidedBy"), why=approval.get("reason") or None
        )
    deployment_events.emit(
        deps.events, DetailType.TRAFFIC_SHIFTED, context, weights=target, greenWeight=weight, greenTaskSet=green.id
    )
    return SwapResult(
        swappedAt=now,
        bakeDeadline=now + timedelta(seconds=config.bakeSeconds),
        productionWeights=target,
        step=step,
        weight=weight,
        complete=complete,
        firstShiftAt=event.swap.firstShiftAt if event.swap and event.swap.firstShiftAt else now,
    )
