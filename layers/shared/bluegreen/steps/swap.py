"""Swap: production to green in one ModifyRule call, test rule to blue, green primary."""

from __future__ import annotations

from datetime import timedelta

from .. import clock, ecs, elbv2
from ..aws import AwsClients
from ..models import GreenEvent, SwapResult
from . import health


def run(event: GreenEvent, clients: AwsClients) -> SwapResult:
    context, green = event.context, event.green
    config = context.config
    production = elbv2.describe_rule(clients.elbv2, config.productionRuleArn)
    weights = elbv2.forward_weights(production.actions, production.ruleArn)
    target = {green.targetGroupArn: 100, context.blueTargetGroupArn: 0}

    if weights != target:
        # Never point production at a target group without healthy targets.
        health.require_healthy(clients, context, green)
        # The one call that moves production: blue -> green, atomically.
        elbv2.modify_rule(
            clients.elbv2, config.productionRuleArn, elbv2.with_forward_weights(production.actions, target)
        )

    # Testers now reach the previous version through the test rule.
    test = elbv2.describe_rule(clients.elbv2, config.testRuleArn)
    test_target = {context.blueTargetGroupArn: 1}
    if elbv2.forward_weights(test.actions, test.ruleArn) != test_target:
        elbv2.modify_rule(clients.elbv2, config.testRuleArn, elbv2.with_forward_weights(test.actions, test_target))

    ecs.make_primary(clients.ecs, config, green.arn)
    now = clock.now()
    return SwapResult(
        swappedAt=now,
        bakeDeadline=now + timedelta(seconds=config.bakeSeconds),
        productionWeights=target,
    )
