"""``bluegreen config from-codedeploy``: a CodeDeploy ECS deployment group as this tool's service
configuration. :func:`service_config` is pure; :func:`read` makes the few describe calls it needs."""

from __future__ import annotations

from typing import Any

from .common import UsageError

# CodeDeploy's predefined ECS deployment configurations -> this tool's trafficShift.
PREDEFINED = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "ALL_AT_ONCE"},
    "CodeDeployDefault.ECSCanary10Percent5Minutes": {"type": "CANARY", "percent": 10, "intervalSeconds": 300},
    "CodeDeployDefault.ECSCanary10Percent15Minutes": {"type": "CANARY", "percent": 10, "intervalSeconds": 900},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {"type": "LINEAR", "percent": 10, "intervalSeconds": 60},
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {"type": "LINEAR", "percent": 10, "intervalSeconds": 180},
}


def traffic_shift(config_name: str, routing: dict[str, Any] | None) -> dict[str, Any]:
    """trafficShift from a deployment configuration's name or its trafficRoutingConfig (custom configurations)."""
    if config_name in PREDEFINED:
        return dict(PREDEFINED[config_name])
    routing = routing or {}
    if routing.get("type") == "TimeBasedCanary":
        canary = routing.get("timeBasedCanary") or {}
        percent, minutes = canary["canaryPercentage"], canary["canaryInterval"]
        return {"type": "CANARY", "percent": percent, "intervalSeconds": 60 * minutes}
    if routing.get("type") == "TimeBasedLinear":
        linear = routing.get("timeBasedLinear") or {}
        percent, minutes = linear["linearPercentage"], linear["linearInterval"]
        return {"type": "LINEAR", "percent": percent, "intervalSeconds": 60 * minutes}
    return {"type": "ALL_AT_ONCE"}


def service_config(
    group: dict[str, Any],
    target_group_arns: list[str],
    container_name: str,
    repository: str,
    routing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The service configuration equivalent to a CodeDeploy ECS deployment group (``GetDeploymentGroup``)."""
    services = group.get("ecsServices") or []
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if not services or not pairs:
        raise UsageError(
            f"deployment group {group.get('deploymentGroupName')} is not an ECS blue/green group",
            "pick the deployment group of an ECS service behind a load balancer",
        )
    pair = pairs[0]
    production = (pair.get("prodTrafficRoute") or {}).get("listenerArns") or []
    test = (pair.get("testTrafficRoute") or {}).get("listenerArns") or []
    if not test:
        raise UsageError(
            "the deployment group has no test listener",
            "add a test listener (e.g. port 8080) forwarding to the idle target group; this tool needs a test route",
        )
    bluegreen = group.get("blueGreenDeploymentConfiguration") or {}
    ready = bluegreen.get("deploymentReadyOption") or {}
    wait_minutes = int(ready.get("waitTimeInMinutes") or 0)
    termination = (bluegreen.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("terminationWaitTimeInMinutes")
    alarms = group.get("alarmConfiguration") or {}
    config: dict[str, Any] = {
        "cluster": services[0]["clusterName"],
        "service": services[0]["serviceName"],
        "containerName": container_name,
        "repository": repository,
        "productionRoutes": production,
        "testRoute": test[0],
        "targetGroupArns": target_group_arns,
        "alarmNames": [alarm["name"] for alarm in alarms.get("alarms") or []] if alarms.get("enabled") else [],
        # CodeDeploy keeps the original task set for the termination wait while it watches the alarms: the bake.
        "bakeSeconds": min(86400, max(60, 60 * int(termination or 0))) if termination is not None else 600,
        "trafficShift": traffic_shift(str(group.get("deploymentConfigName", "")), routing),
        # STOP_DEPLOYMENT waits for someone to reroute: an approval gate; CONTINUE_DEPLOYMENT goes on alone.
        "approval": (
            {"required": True, "timeoutSeconds": max(60, 60 * wait_minutes)}
            if ready.get("actionOnTimeout") == "STOP_DEPLOYMENT"
            else {"required": False}
        ),
    }
    return config


def read(session: Any, application: str, deployment_group: str) -> dict[str, Any]:
    """Describe the deployment group, its target groups and the service's container, then convert."""
    codedeploy, elbv2, ecs = session.client("codedeploy"), session.client("elbv2"), session.client("ecs")
    group = codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=deployment_group)[
        "deploymentGroupInfo"
    ]
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
    names = [tg["name"] for tg in pairs[0].get("targetGroups") or []]
    arns = [tg["TargetGroupArn"] for tg in elbv2.describe_target_groups(Names=names)["TargetGroups"]] if names else []
    routing = None
    name = str(group.get("deploymentConfigName", ""))
    if name and name not in PREDEFINED:
        routing = codedeploy.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"].get(
            "trafficRoutingConfig"
        )
    container, repository = "", ""
    services = group.get("ecsServices") or []
    if services:
        service = ecs.describe_services(cluster=services[0]["clusterName"], services=[services[0]["serviceName"]])[
            "services"
        ][0]
        balancers = service.get("loadBalancers") or []
        # A CODE_DEPLOY service names its task definition; an EXTERNAL one only through its task sets (the primary).
        primary = next((ts for ts in service.get("taskSets") or [] if ts.get("status") == "PRIMARY"), {})
        serving = service.get("taskDefinition") or primary.get("taskDefinition")
        definition = ecs.describe_task_definition(taskDefinition=serving)["taskDefinition"]
        container = balancers[0]["containerName"] if balancers else definition["containerDefinitions"][0]["name"]
        image = next(c["image"] for c in definition["containerDefinitions"] if c["name"] == container)
        repository = image.split("/", 1)[-1].split("@")[0].split(":")[0]
    return service_config(group, arns, container, repository, routing)
