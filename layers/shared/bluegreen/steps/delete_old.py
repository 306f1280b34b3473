"""Delete old: remove the task set behind the test rule, found from the live rules, never from input."""

from __future__ import annotations

from .. import ecs, notify, policy, routes
from ..deps import Deps
from ..models import DeploymentResult, GreenEvent
from . import check_health


def run(event: GreenEvent, deps: Deps) -> DeploymentResult:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context, green = event.context, event.green
    config = context.config
    production = routes.describe_all(clients.elbv2, config.production_route_arns())  # issue #14: every route
    test = routes.describe(clients.elbv2, config.test_route_arn())
    groups = policy.old_groups(routes.merged_weights(production), routes.weights(test), green.targetGroupArn)
    task_sets = ecs.live_task_sets(clients.ecs, config)
    doomed = policy.old_task_sets(groups, green.id, [policy.TaskSetInfo.of(ts) for ts in task_sets])
    deleted: str | None = None
    # A green that keeps crashing is rolled back while blue still exists (GreenCrashLooping -> Rollback).
    check_health.green_verdict(clients, context, green)
    # Bookkeeping first, so a failure here still leaves blue in place for a rollback. The lock can go
    # before the delete: a deployment started meanwhile finds blue on the test target group and refuses.
    closed = store.close_open_gate(context.service, context.executionArn, "PASSED", "deployment finished")
    if closed:
        notifier.update_gate(closed)
    store.record_end(context.service, context.executionArn, "deployed")
    store.release_lock(context.service, context.executionArn)
    for task_set in doomed:
        ecs.delete_task_set(clients.ecs, config, task_set.id)
        deleted = task_set.id
    notify.milestone(
        notifier,
        context,
        f"Deployed {context.imageTag}: bake passed, production on task set {green.id}; old task set {deleted} deleted.",
    )
    return DeploymentResult(
        service=context.service,
        imageTag=context.imageTag,
        imageDigest=context.imageDigest,
        taskSet=green.id,
        targetGroupArn=green.targetGroupArn,
        deletedTaskSet=deleted,
        plan=context.plan,  # issue 10: the execution's output says what the release changed
    )
