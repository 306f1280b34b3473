"""Wait healthy: are green's own targets healthy? Raise to poll again.

Green is judged by the targets of its own running tasks (their ENI addresses), so
targets of another task set still draining in the same target group, or the old
address of a replaced task, do not hold it back (see :mod:`bluegreen.domain.green_health`).
"""

from __future__ import annotations

from typing import Any

from bluegreen.aws import ecs, elbv2, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.clients import AwsClients, transient_errors
from bluegreen.aws.events import DetailType
from bluegreen.deps import Deps
from bluegreen.domain import clock, zones
from bluegreen.domain.errors import (
    GreenCrashLooping,
    GreenNotHealthy,
    GreenNotHealthyYet,
    GreenRecovering,
    HealthCheckTimeout,
)
from bluegreen.domain.green_health import crash_reasons, judge
from bluegreen.domain.models import (
    DeploymentContext,
    GreenEvent,
    GreenObservation,
    GreenTaskSet,
    GreenVerdict,
    HealthReport,
    StoppedTask,
    TargetObservation,
    ZoneObservation,
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
    task_zones = _zones_of_tasks(tasks)
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
        zones=task_zones,
    )


# --- Network Load Balancer zones ----------------------------------------------------------
def _zones_of_tasks(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """Address -> Availability Zone of running tasks (DescribeTasks ``availabilityZone``)."""
    return {
        address: task["availabilityZone"]
        for task in tasks
        if task.get("lastStatus") == "RUNNING" and task.get("availabilityZone") and (address := ecs.task_address(task))
    }


def _attributes(items: list[Any]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


def behind_network_load_balancer(context: DeploymentContext) -> bool:
    return routes.load_balancer_of(context.config.production_route_arns()[0])[1] == "network"


def observe_zones(
    clients: AwsClients, context: DeploymentContext, green: GreenTaskSet, observation: GreenObservation
) -> ZoneObservation:
    """The NLB's zones, its cross-zone setting for green's group, and where green and blue have healthy targets."""
    config, client = context.config, clients.elbv2
    balancer_arn = routes.load_balancer_arn_of(config.production_route_arns()[0])
    with transient_errors():
        balancer = client.describe_load_balancers(LoadBalancerArns=[balancer_arn])["LoadBalancers"][0]
        group = _attributes(client.describe_target_group_attributes(TargetGroupArn=green.targetGroupArn)["Attributes"])
        inherited = None
        if group.get(zones.CROSS_ZONE_ATTRIBUTE) in (None, zones.INHERIT):
            described = client.describe_load_balancer_attributes(LoadBalancerArn=balancer_arn)
            inherited = _attributes(described["Attributes"])
    green_healthy = {t.address for t in observation.targets if t.state == elbv2.HEALTHY}
    blue_healthy: dict[str, int] = {}
    if context.blue is not None:
        blue_zones = _zones_of_tasks(ecs.running_tasks(clients.ecs, config, context.blue.id))
        healthy = {
            d["Target"]["Id"]
            for d in elbv2.target_health(client, context.blueTargetGroupArn)
            if d["TargetHealth"]["State"] == elbv2.HEALTHY
        }
        blue_healthy = zones.zones_of(blue_zones, healthy)
    return ZoneObservation(
        enabledZones=[zone["ZoneName"] for zone in balancer.get("AvailabilityZones", [])],
        crossZone=zones.cross_zone(
            group.get(zones.CROSS_ZONE_ATTRIBUTE), (inherited or {}).get(zones.CROSS_ZONE_ATTRIBUTE)
        ),
        greenHealthy=zones.zones_of(observation.zones, green_healthy & set(observation.addresses)),
        blueHealthy=blue_healthy,
        minHealthyPerZone=zones.min_healthy_per_zone(group.get(zones.DNS_FAILOVER_COUNT)),
    )


def _zone_check(
    clients: AwsClients,
    context: DeploymentContext,
    green: GreenTaskSet,
    observation: GreenObservation,
    verdict: GreenVerdict,
) -> GreenVerdict:
    """An otherwise healthy green behind an NLB must also serve every zone where blue serves (:mod:`..zones`)."""
    if not verdict.healthy or not behind_network_load_balancer(context):
        return verdict
    zone_verdict = zones.judge(observe_zones(clients, context, green, observation))
    summary = f"{verdict.summary}; {zone_verdict.summary}"
    if zone_verdict.covered:
        return verdict.model_copy(update={"summary": summary})
    return verdict.model_copy(update={"healthy": False, "zonesMissing": zone_verdict.missing, "summary": summary})


def green_verdict(
    clients: AwsClients, context: DeploymentContext, green: GreenTaskSet, zone_check: bool = False
) -> GreenVerdict:
    """Judge green now; stopped tasks are read only when green is not healthy (for the crash-loop breaker).

    ``zone_check`` (the health gate and the switch): behind an NLB, also every zone where blue serves.
    """
    observation = observe(clients, context, green)
    verdict = judge(observation)
    if zone_check:
        verdict = _zone_check(clients, context, green, observation, verdict)
    if not verdict.healthy and observation.exists and not verdict.zonesMissing:
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
    report = check(event.context, event.green, deps.clients)
    deployment_events.emit(deps.events, DetailType.GREEN_HEALTHY, event.context, greenTaskSet=event.green.id)
    return report


def check(context: DeploymentContext, green: GreenTaskSet, clients: AwsClients) -> HealthReport:
    verdict = green_verdict(clients, context, green, zone_check=True)
    if verdict.healthy:
        return HealthReport(healthyTargets=verdict.healthyTargets, desiredCount=verdict.desired)
    if clock.now() >= green.healthDeadline:
        advice = "Check the new image's logs and the target group's health check"
        if verdict.zonesMissing:
            advice = (
                f"Behind a Network Load Balancer with cross-zone load balancing off, green needs a healthy target "
                f"in every zone where blue serves; it has none in {', '.join(verdict.zonesMissing)}: check that "
                f"green's subnets cover those zones and that ECS could place tasks there, or turn cross-zone load "
                f"balancing on for green's target group"
            )
        raise HealthCheckTimeout(
            f"Green did not become healthy within {context.config.healthWaitTimeoutSeconds}s ({verdict.summary}). "
            f"{advice}; production was not changed."
        )
    raise GreenNotHealthyYet(f"Green is not healthy yet: {verdict.summary}")


def require_healthy(clients: AwsClients, context: DeploymentContext, green: GreenTaskSet) -> None:
    """Safety check right before production is switched to (more of) green.

    No healthy target of its own: refuse (``GreenNotHealthy``). Some but fewer than desired (a task
    being replaced, a scale-out starting): ``GreenRecovering``, which the state machine retries briefly.
    A crash loop raises ``GreenCrashLooping``.
    """
    verdict = green_verdict(clients, context, green, zone_check=True)
    if verdict.healthy:
        return
    if verdict.zonesMissing:  # Moving production would take these zones out of the NLB's DNS
        raise GreenNotHealthy(
            f"Refusing to send production to green: behind the Network Load Balancer it has no healthy target in "
            f"{', '.join(verdict.zonesMissing)}, where blue serves now: {verdict.summary}."
        )
    if verdict.healthyTargets == 0:
        raise GreenNotHealthy(f"Refusing to send production to green, it is not healthy: {verdict.summary}.")
    raise GreenRecovering(
        f"Green has {verdict.healthyTargets} of {verdict.desired} healthy targets; waiting for ECS to replace "
        f"the rest before moving production: {verdict.summary}."
    )
