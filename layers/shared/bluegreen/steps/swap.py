"""Swap: move production to green, all at once or step by step (canary, linear).

Every step is one ``ModifyRule`` on the production rule's weighted forward action.
Only the last step (green at 100) points the test rule at blue and makes green primary;
until then testers keep reaching green through the test rule.
"""

from __future__ import annotations

from datetime import timedelta

from .. import clock, ecs, elbv2, notify, policy
from ..deps import Deps
from ..models import GreenEvent, SwapResult
from ..notify import NullNotifier
from . import check_health


def run(event: GreenEvent, deps: Deps) -> SwapResult:
    clients, notifier = deps.clients, deps.notifier
    context, green = event.context, event.green
    config = context.config
    schedule = config.trafficShift.schedule()
    step, weight = policy.next_step(schedule, None if event.swap is None else event.swap.step)
    target = policy.production_weights(green.targetGroupArn, context.blueTargetGroupArn, weight)

    production = elbv2.describe_rule(clients.elbv2, config.productionRuleArn)
    if elbv2.forward_weights(production.actions, production.ruleArn) != target:
        # Never send production to a target group without healthy targets.
        check_health.require_healthy(clients, context, green)
        # The one call that moves this step's share of production, atomically.
        elbv2.modify_rule(
            clients.elbv2, config.productionRuleArn, elbv2.with_forward_weights(production.actions, target)
        )

    complete = weight == 100
    if complete:
        # Testers now reach the previous version through the test rule.
        test = elbv2.describe_rule(clients.elbv2, config.testRuleArn)
        test_target = {context.blueTargetGroupArn: 1}
        if elbv2.forward_weights(test.actions, test.ruleArn) != test_target:
            elbv2.modify_rule(clients.elbv2, config.testRuleArn, elbv2.with_forward_weights(test.actions, test_target))
        if not ecs.is_primary(clients.ecs, config, green.id):  # a retried swap skips the no-op switch
            ecs.make_primary(clients.ecs, config, green.arn)
    if len(schedule) > 1:
        notify.milestone(
            notifier or NullNotifier(),
            context,
            f"Production at {weight}% on {context.imageTag} (step {step + 1}/{len(schedule)}).",
        )
    now = clock.now()
    return SwapResult(
        swappedAt=now,
        bakeDeadline=now + timedelta(seconds=config.bakeSeconds),
        productionWeights=target,
        step=step,
        weight=weight,
        complete=complete,
    )
