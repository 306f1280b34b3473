"""Wait healthy: are green's own targets healthy? Raise to poll again.

Green is judged by the targets of its own running tasks (their ENI addresses), so
targets of another task set still draining in the same target group, or the old
address of a replaced task, do not hold it back (see :mod:`bluegreen.green_health`).
"""

from __future__ import annotations

from typing import Any

from .. import clock, ecs, elbv2
from ..aws import AwsClients
from ..deps import Deps
from ..errors import GreenCrashLooping, GreenNotHealthy, GreenNotHealthyYet, GreenRecovering, HealthCheckTimeout
from ..green_health import crash_reasons, judge
from ..models import (
    DeploymentContext,
    GreenEvent,
    GreenObservation,
    GreenTaskSet,
    GreenVerdict,
    HealthReport,
    StoppedTask,
    TargetObservation,
)


def observe(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> GreenObservation:
    """Read green's task set, its running tasks' addresses and its target group's health (no changes)."""
    config = context.config
    service = ecs.describe_service(clients.ecs, config)
    task_set: dict[str, Any] | None = next(
        (ts for ts in ecs.live_task_sets(clients.ecs, config) if ts["id"] == green.id), None
    )
    if task_set is None:
        return GreenObservation(taskSetId=green.id, exists=False)
    tasks = ecs.running_tasks(clients.ecs, config, green.id)
    addresses = [a for t in tasks if t.get("lastStatus") == "RUNNING" and (a := ecs.task_address(t))]
    descriptions = elbv2.target_health(clients.elbv2, green.targetGroupArn)
    return GreenObservation(
        taskSetId=green.id,
        stability=task_set.get("stabilityStatus", "STABILIZING"),
        desired=ecs.desired_count(service, task_set),
        running=int(task_set.get("runningCount", 0)),
        addresses=addresses,
        targets=[
            TargetObservation(
                address=d["Target"]["Id"], state=d["TargetHealth"]["State"], reason=d["TargetHealth"].get("Reason")
            )
            for d in descriptions
        ],
    )


def green_verdict(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> GreenVerdict:
    """Judge green now; stopped tasks are read only when green is not healthy (for the crash-loop breaker)."""
    observation = observe(clients, context, green)
    verdict = judge(observation)
    if not verdict.healthy and observation.exists:
        stopped = ecs.stopped_tasks(clients.ecs, context.config, green.id, ecs.family_of(green.taskDefinition))
        observation.stopped = [
            StoppedTask(taskArn=t["taskArn"], stoppedReason=t.get("stoppedReason", ""), stopCode=t.get("stopCode"))
            for t in stopped
        ]
        verdict = judge(observation)
        if verdict.crashLooping:
            raise GreenCrashLooping(
                f"Green's tasks keep stopping ({crash_reasons(observation.stopped)}); the crash-loop circuit "
                f"breaker stopped the deployment. Check the image's logs ({context.image}). {verdict.summary}."
            )
    return verdict


def run(event: GreenEvent, deps: Deps) -> HealthReport:
    return check(event.context, event.green, deps.clients)


def check(context: DeploymentContext, green: GreenTaskSet, clients: AwsClients) -> HealthReport:
    verdict = green_verdict(clients, context, green)
    if verdict.healthy:
        return HealthReport(healthyTargets=verdict.healthyTargets, desiredCount=verdict.desired)
    if clock.now() >= green.healthDeadline:
        raise HealthCheckTimeout(
            f"Green did not become healthy within {context.config.healthWaitTimeoutSeconds}s ({verdict.summary}). "
            f"Check the new image's logs and the target group's health check; production was not changed."
        )
    raise GreenNotHealthyYet(f"Green is not healthy yet: {verdict.summary}")


def require_healthy(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> None:
    """Safety check right before production is switched to (more of) green.

    No healthy target of its own: refuse (``GreenNotHealthy``). Some but fewer than desired (a task
    being replaced, a scale-out starting): ``GreenRecovering``, which the state machine retries briefly.
    A crash loop raises ``GreenCrashLooping``.
    """
    verdict = green_verdict(clients, context, green)
    if verdict.healthy:
        return
    if verdict.healthyTargets == 0:
        raise GreenNotHealthy(f"Refusing to send production to green, it is not healthy: {verdict.summary}.")
    raise GreenRecovering(
        f"Green has {verdict.healthyTargets} of {verdict.desired} healthy targets; waiting for ECS to replace "
        f"the rest before moving production: {verdict.summary}."
    )
