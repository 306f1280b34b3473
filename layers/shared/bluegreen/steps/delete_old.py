"""Delete old: remove the task set behind the test rule, found from the live rules, never from input."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from bluegreen import watch_end
from bluegreen.aws import analysis_alarm, ecs, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.events import DetailType
from bluegreen.aws.store import Store
from bluegreen.deps import Deps
from bluegreen.domain import policy, to_previous
from bluegreen.domain.models import DeploymentContext, DeploymentResult, GreenEvent
from bluegreen.slack import notify
from bluegreen.slack.notify import SlackNotifier
from bluegreen.steps import check_health

logger = Logger(child=True)


def run(event: GreenEvent, deps: Deps) -> DeploymentResult:
    clients, store, notifier = deps.clients, deps.store, deps.notifier
    context, green = event.context, event.green
    config = context.config
    production = routes.describe_all(clients.elbv2, config.production_route_arns())  # Every route
    test = routes.describe(clients.elbv2, config.test_route_arn())
    groups = policy.old_groups(routes.merged_weights(production), routes.weights(test), green.targetGroupArn)
    task_sets = ecs.live_task_sets(clients.ecs, config)
    doomed = policy.old_task_sets(groups, green.id, [policy.TaskSetInfo.of(ts) for ts in task_sets])
    # Blue is deleted only if no watched alarm is in ALARM now, at the end of the bake (or of the keep-old hold):
    # an alarm whose event was lost rolls back here, while blue still exists (watch_end). Not when an earlier
    # attempt of this task already deleted blue (nothing left to roll back to): it only finishes then.
    if doomed or context.blue is None:
        end = watch_end.WatchEnd.KEEP_OLD if config.keepOld.enabled else watch_end.WatchEnd.BAKE
        watch_end.check(clients.cloudwatch, context, watch_end.moment(end), store, notifier)
    deleted: str | None = None
    # A green that keeps crashing is rolled back while blue still exists (GreenCrashLooping -> Rollback).
    check_health.green_verdict(clients, context, green)
    # Was green judged at all (or did it never serve enough requests)? Read before the alarm goes.
    first_shift = event.swap.firstShiftAt if event.swap else None
    verdict = analysis_alarm.read_verdict(clients.cloudwatch, context, green.targetGroupArn, first_shift)
    analysis_alarm.delete(clients.cloudwatch, context)  # The analysis ends with the bake
    # Bookkeeping first, so a failure here still leaves blue in place for a rollback. The lock can go
    # before the delete: a deployment started meanwhile finds blue on the test target group and refuses.
    record = release_record(event)
    if verdict is not None:  # Bluegreen status / history show it
        record.update(analysis=verdict.summary, analysisVerdict=verdict.verdict)
    store.record_end(context.service, context.executionArn, "deployed", release=record)
    closed = store.close_open_gate(context.service, context.executionArn, "PASSED", "deployment finished")
    if closed:
        notifier.update_gate(closed)
    store.release_lock(context.service, context.executionArn)
    for task_set in doomed:
        ecs.delete_task_set(clients.ecs, config, task_set.id)
        deleted = task_set.id
    text = f"Deployed {context.imageTag}: bake passed, production on task set {green.id}; " + (
        f"old task set {deleted} deleted." if deleted else "no old task set to delete (first deployment)."
    )
    if verdict is not None:
        text = f"{text.rstrip('.')}; {verdict.summary}."  # E.g. "analysis: not judged — …"
    _announce(store, notifier, context, text)
    deployment_events.emit(
        deps.events, DetailType.SUCCEEDED, context, greenTaskSet=green.id, outcome="deployed", analysis=verdict
    )
    return DeploymentResult(
        service=context.service,
        imageTag=context.imageTag,
        imageDigest=context.imageDigest,
        taskSet=green.id,
        targetGroupArn=green.targetGroupArn,
        deletedTaskSet=deleted,
        plan=context.plan,  # The execution's output says what the release changed
        hooks=event.hooks.results if event.hooks else [],  # And how its hooks went
        analysis=verdict,  # And whether the built-in analysis judged it
    )


def _announce(store: Store, notifier: SlackNotifier, context: DeploymentContext, text: str) -> None:
    """The "deployed" message; with a *Roll back to previous* button while a previous release is known."""
    if context.slackThread is None:
        return
    try:
        chosen = to_previous.plan(store, context.service, running=lambda _holder: True)  # a new lock: no button
    except Exception:  # noqa: BLE001 - the button is a convenience: the deployment is done either way
        logger.exception("Could not look up the previous release for the Slack button")
        chosen = None
    if not isinstance(chosen, to_previous.Plan) or chosen.live.executionArn != context.executionArn:
        notify.milestone(notifier, context, text)
        return
    from bluegreen.slack.messages import to_previous_blocks  # only when Slack is configured

    previous = chosen.previous  # its tag is unknown when it ran before the first recorded release
    previous_tag = previous.imageTag if previous.imageTag != "?" else f"{(previous.imageDigest or '')[:19]}…"
    blocks = to_previous_blocks(text, context.service, context.executionName, previous_tag)
    notify.milestone_with_button(notifier, context, text, blocks)


def release_record(event: GreenEvent) -> dict[str, Any]:
    """What the deployments table keeps of a release in production: ``--to-previous`` and stats."""
    context, swap = event.context, event.swap
    approval = event.approval or {}
    return {
        "imageDigest": context.imageDigest,
        "image": context.image,
        "taskDefinition": event.green.taskDefinition,
        "containerName": context.config.containerName,
        "imagePushedAt": context.imagePushedAt.isoformat(timespec="seconds") if context.imagePushedAt else None,
        "firstShiftAt": swap.firstShiftAt.isoformat(timespec="seconds") if swap and swap.firstShiftAt else None,
        "productionAt": swap.swappedAt.isoformat(timespec="seconds") if swap else None,
        "approvalWaitSeconds": approval.get("waitedSeconds"),
        "approvedBy": approval.get("decidedBy"),
        # what production ran before: --to-previous restores it even when no earlier release is recorded
        "replacedTaskDefinition": context.blue.taskDefinition if context.blue else None,  # None: first deployment
        "replacedImage": context.blue.image if context.blue else None,
    }
