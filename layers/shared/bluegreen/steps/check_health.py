"""Wait healthy: is green steady with every target healthy? Raise to poll again."""

from __future__ import annotations

from typing import Any

from .. import clock, ecs, elbv2
from .. import events as deployment_events
from ..aws import AwsClients
from ..deps import Deps
from ..errors import GreenNotHealthy, GreenNotHealthyYet, HealthCheckTimeout
from ..events import DetailType
from ..models import DeploymentContext, GreenEvent, GreenTaskSet, HealthReport


def green_status(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> tuple[bool, str, int, int]:
    """``(healthy, summary, healthy_targets, desired)`` for the green task set right now."""
    config = context.config
    service = ecs.describe_service(clients.ecs, config)
    task_set: dict[str, Any] | None = next(
        (ts for ts in ecs.live_task_sets(clients.ecs, config) if ts["id"] == green.id), None
    )
    if task_set is None:
        return False, f"task set {green.id} no longer exists", 0, 0
    desired = ecs.desired_count(service, task_set)
    running = int(task_set.get("runningCount", 0))
    stability = task_set.get("stabilityStatus", "STABILIZING")
    descriptions = elbv2.target_health(clients.elbv2, green.targetGroupArn)
    healthy = elbv2.healthy_count(descriptions)
    all_healthy = bool(descriptions) and healthy == len(descriptions)
    ok = stability == "STEADY_STATE" and running >= desired and healthy >= desired and all_healthy
    summary = (
        f"task set {green.id}: {stability}, {running}/{desired} tasks running; "
        f"targets: {elbv2.describe_health(descriptions)}"
    )
    return ok, summary, healthy, desired


def run(event: GreenEvent, deps: Deps) -> HealthReport:
    report = check(event.context, event.green, deps.clients)
    deployment_events.emit(deps.events, DetailType.GREEN_HEALTHY, event.context, greenTaskSet=event.green.id)
    return report


def check(context: DeploymentContext, green: GreenTaskSet, clients: AwsClients) -> HealthReport:
    healthy, summary, healthy_targets, desired = green_status(clients, context, green)
    if healthy:
        return HealthReport(healthyTargets=healthy_targets, desiredCount=desired)
    if clock.now() >= green.healthDeadline:
        raise HealthCheckTimeout(
            f"Green did not become healthy within {context.config.healthWaitTimeoutSeconds}s ({summary}). "
            f"Check the new image's logs and the target group's health check; production was not changed."
        )
    raise GreenNotHealthyYet(f"Green is not healthy yet: {summary}")


def require_healthy(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> None:
    """Safety check right before production is switched to green."""
    healthy, summary, _, _ = green_status(clients, context, green)
    if not healthy:
        raise GreenNotHealthy(f"Refusing to send production to green, it is not healthy: {summary}.")
