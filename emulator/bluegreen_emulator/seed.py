"""The demo environment: a VPC, an ALB with production and test rules, two target groups,
an ECR repository with images, an EXTERNAL ECS service with a blue task set, an alarm,
and the service's configuration document in SSM."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bluegreen.aws.config import parameter_name

from .dataplane import (
    ALARM,
    CRASHLOOP,
    HEALTHY,
    RISING_5XX,
    SLOW,
    SLOW_MEAN,
    SLOW_TAIL,
    UNHEALTHY,
    DataPlane,
    WatchedService,
    rolling_key,
)

# Tags pushed to the demo repository and how their containers behave.
IMAGES = {
    "v1": HEALTHY,
    "v2": HEALTHY,
    "v3": HEALTHY,
    "v2-broken": UNHEALTHY,
    "v2-5xx": ALARM,
    "v2-crash": CRASHLOOP,
    "v2-slow": SLOW,  # Answers HTTP after 1.5 simulated seconds (an HTTP probe's latency bound)
    "v2-5xx-rising": RISING_5XX,  # The built-in analysis demo
    "v2-slow-tail": SLOW_TAIL,  # A slow p95 with a good mean (the analysis judges a percentile)
    "v2-slow-mean": SLOW_MEAN,  # A worse mean with a p95 within the limit
}
MOVING_TAG = "latest"  # points at v2; refused by default
# What a service's production rule answers before its first deployment (one way of two)
NOT_LIVE_YET = {
    "Type": "fixed-response",
    "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "not live yet"},
}
# The sidecar of a service seeded with ``sidecar=True`` (its own repository, env vars and a secret).
SIDECAR = "log-router"
SIDECAR_TAGS = ("1.0", "1.1")
SECRET_VALUE = "demo-db-password-never-shown"  # the SSM parameter's value: must never appear anywhere


@dataclass
class DemoService:
    name: str
    cluster: str
    repository: str
    repository_uri: str
    digests: dict[str, str]
    production_rule_arn: str
    test_rule_arn: str
    target_groups: list[str]
    alarm_name: str
    blue_task_set: str
    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    # Every production route (rule or listener ARNs; production_rule_arn is the first) and the layout
    production_routes: list[str] = field(default_factory=list)
    layout: str = "rules"


def _manifest(repository: str, tag: str) -> str:
    layer = hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": f"sha256:{layer}",
            },
            # moto derives the image digest from the layer digests.
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


def push_image(ecr: Any, repository: str, tag: str) -> str:
    return ecr.put_image(repositoryName=repository, imageManifest=_manifest(repository, tag), imageTag=tag)["image"][
        "imageId"
    ]["imageDigest"]


def seed_network(clients: Any, name: str) -> dict[str, Any]:
    ec2 = clients.client("ec2")
    region = ec2.meta.region_name  # the zones of the emulator's region (us-east-1a, us-east-1b by default)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{name}-tasks", Description="demo tasks", VpcId=vpc)["GroupId"]
    elbv2 = clients.client("elbv2")
    balancer = elbv2.create_load_balancer(Name=f"{name}-alb", Subnets=subnets, SecurityGroups=[group])["LoadBalancers"][
        0
    ]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    return {"vpc": vpc, "subnets": subnets, "security_group": group, "listener": listener}


def seed_service(
    session: Any,
    plane: DataPlane,
    name: str = "demo-web",
    network: dict[str, Any] | None = None,
    priority: int = 10,
    config_overrides: dict[str, Any] | None = None,
    deployment_controller: str = "EXTERNAL",
    first_task_set: bool = True,
    production_action: str = "forward",
    layout: str = "rules",
    sidecar: bool = False,
) -> DemoService:
    """Seed one deployable service (with its own rules, target groups, repository and alarm).

    ``first_task_set=False`` leaves an EXTERNAL service empty (no task set) with ``network``
    and ``taskDefinition`` in its configuration; ``production_action="fixed-response"`` makes the
    production rule answer 503 until the first deployment. A service on another deployment controller
    (ECS, CODE_DEPLOY) runs its tasks itself behind the first target group, as a rolling service does.
    """
    network = network or seed_network(session, name)
    ecr, ecs, elbv2 = session.client("ecr"), session.client("ecs"), session.client("elbv2")
    cloudwatch, ssm, iam = session.client("cloudwatch"), session.client("ssm"), session.client("iam")

    repository_uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    digests = {tag: push_image(ecr, name, tag) for tag in IMAGES}
    ecr.put_image(repositoryName=name, imageManifest=_manifest(name, "v2"), imageTag=MOVING_TAG)
    for tag, behaviour in IMAGES.items():
        plane.behaviours[digests[tag]] = behaviour

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    network_lb = layout == "nlb"
    target_groups = [
        elbv2.create_target_group(
            Name=f"{name}-{suffix}",
            Protocol="TCP" if network_lb else "HTTP",
            Port=8080,
            VpcId=network["vpc"],
            TargetType="ip",
            # Targets turn healthy after interval x healthy threshold = 20 s (the data plane reads these).
            HealthCheckIntervalSeconds=10,
            HealthCheckTimeoutSeconds=5 if not network_lb else 10,
            HealthyThresholdCount=2,
            **({} if network_lb else {"HealthCheckPath": "/health"}),
        )["TargetGroups"][0]["TargetGroupArn"]
        for suffix in ("a", "b")
    ]
    routes_config: dict[str, Any]
    if layout in ("listener-ports", "nlb"):
        production_routes, test_route = _seed_listeners(elbv2, network, name, target_groups, network_lb)
        routes_config = {"productionRoutes": production_routes, "testRoute": test_route}
    else:
        production_actions = [{"Type": "forward", "TargetGroupArn": target_groups[0]}]
        if production_action == "fixed-response":
            production_actions = [NOT_LIVE_YET]
        hosts = [f"{name}.example.com"] + ([f"api.{name}.example.com"] if layout == "several-rules" else [])
        production_routes = [
            elbv2.create_rule(
                ListenerArn=network["listener"],
                Priority=priority if index == 0 else priority + 1 + index,
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
                Actions=production_actions,
            )["Rules"][0]["RuleArn"]
            for index, host in enumerate(hosts)
        ]
        test_route = elbv2.create_rule(
            ListenerArn=network["listener"],
            Priority=priority + 1,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"test.{name}.example.com"]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": target_groups[1]}],
        )["Rules"][0]["RuleArn"]
        routes_config = (
            {"productionRuleArn": production_routes[0], "testRuleArn": test_route}
            if layout == "rules"
            else {"productionRoutes": production_routes, "testRoute": test_route}
        )
    production_rule, test_rule = production_routes[0], test_route

    role = iam.create_role(
        RoleName=f"{name}-task-execution",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    cluster = f"{name}-cluster"
    ecs.create_cluster(clusterName=cluster)
    containers: list[dict[str, Any]] = [
        {
            "name": "web",
            "image": f"{repository_uri}@{digests['v1']}",
            "memory": 512,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "STAGE", "value": "demo"}],
        }
    ]
    extra: dict[str, Any] = {"network": network}
    repositories: dict[str, str] = {}
    if sidecar:  # A second container with its own repository, env vars and a secret reference
        sidecar_repo = f"{name}-{SIDECAR}"
        sidecar_uri = ecr.create_repository(repositoryName=sidecar_repo)["repository"]["repositoryUri"]
        sidecar_digests = {tag: push_image(ecr, sidecar_repo, tag) for tag in SIDECAR_TAGS}
        ssm.put_parameter(Name=f"/{name}/db-password", Type="SecureString", Value=SECRET_VALUE)
        secret_arn = f"arn:aws:ssm:{session.region_name}:{role.split(':')[4]}:parameter/{name}/db-password"
        containers[0]["memory"] = 384
        containers[0]["environment"].append({"name": "LOG_FORMAT", "value": "json"})
        containers[0]["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": secret_arn}]
        containers.append(
            {
                "name": SIDECAR,
                "image": f"{sidecar_uri}@{sidecar_digests['1.0']}",
                "memory": 128,
                "essential": False,
                "environment": [{"name": "FLUSH_SECONDS", "value": "5"}],
            }
        )
        repositories[SIDECAR] = sidecar_repo
        extra.update({"sidecarRepository": sidecar_repo, "sidecarDigests": sidecar_digests, "secretArn": secret_arn})
    task_definition = ecs.register_task_definition(
        family=name,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=role,
        containerDefinitions=containers,
    )["taskDefinition"]["taskDefinitionArn"]
    awsvpc = {
        "subnets": network["subnets"],
        "securityGroups": [network["security_group"]],
        "assignPublicIp": "DISABLED",
    }
    load_balancers = [{"targetGroupArn": target_groups[0], "containerName": "web", "containerPort": 8080}]
    blue = ""
    if deployment_controller != "EXTERNAL":
        # A rolling (or CodeDeploy) service: the service itself carries the network and load balancer.
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            desiredCount=2,
            taskDefinition=task_definition,
            launchType="FARGATE",
            platformVersion="1.4.0",
            networkConfiguration={"awsvpcConfiguration": awsvpc},
            loadBalancers=load_balancers,
            deploymentController={"type": deployment_controller},
        )
    else:
        ecs.create_service(
            cluster=cluster, serviceName=name, desiredCount=2, deploymentController={"type": deployment_controller}
        )
    if deployment_controller == "EXTERNAL" and first_task_set:
        created = ecs.create_task_set(
            cluster=cluster,
            service=name,
            taskDefinition=task_definition,
            externalId="initial",
            launchType="FARGATE",
            platformVersion="1.4.0",
            networkConfiguration={"awsvpcConfiguration": awsvpc},
            loadBalancers=load_balancers,
            scale={"unit": "PERCENT", "value": 100.0},
        )["taskSet"]
        ecs.update_service_primary_task_set(cluster=cluster, service=name, primaryTaskSet=created["taskSetArn"])
        blue = created["id"]

    alarm = f"{name}-5xx"
    # A metric alarm on the 5xx answered by the service's targets, in either target group (green and
    # blue alternate between them), from the ALB metrics the emulator publishes. ELB reports a 5xx count only
    # when it is not zero: SUM(METRICS()) adds what is there (m1 + m2 would be missing when one is).
    # The alarm watches the load balancer the production route is on (its own one for listener layouts);
    # behind an NLB, target resets (AWS/NetworkELB TCP_Target_Reset_Count) instead of HTTP 5xx.
    route_listener = production_routes[0] if layout in ("listener-ports", "nlb") else network["listener"]
    balancer = elbv2.describe_listeners(ListenerArns=[route_listener])["Listeners"][0]["LoadBalancerArn"]
    namespace, metric_name = ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count")
    if network_lb:
        namespace, metric_name = ("AWS/NetworkELB", "TCP_Target_Reset_Count")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription=f"{name}: more than 10 target 5xx a minute",
        Metrics=[
            *(
                {
                    "Id": f"tg{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric_name,
                            "Dimensions": [
                                {"Name": "LoadBalancer", "Value": balancer.split(":loadbalancer/")[-1]},
                                {"Name": "TargetGroup", "Value": group.split(":")[-1]},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                }
                for index, group in enumerate(target_groups)
            ),
            {"Id": "total", "Expression": "SUM(METRICS())", "Label": "Target 5xx", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="Seeded")

    config = {
        "cluster": cluster,
        "service": name,
        "containerName": "web",
        "repository": name,
        **routes_config,
        "targetGroupArns": target_groups,
        "healthWaitTimeoutSeconds": 300,
        "alarmNames": [alarm],
        "bakeSeconds": 120,
        "slackChannel": "#deploys",
    }
    if deployment_controller == "EXTERNAL" and not first_task_set:  # What the first task set needs
        config["network"] = {**awsvpc, "launchType": "FARGATE", "platformVersion": "1.4.0"}
        config["taskDefinition"] = name
    if repositories:
        config["repositories"] = repositories
    config.update(config_overrides or {})
    ssm.put_parameter(Name=parameter_name(name), Type="String", Value=json.dumps(config), Overwrite=True)

    if blue:
        plane.mark_running(blue, cluster, name)
    elif deployment_controller != "EXTERNAL":
        plane.mark_running(rolling_key(cluster, name), cluster, name)
    plane.watch(WatchedService(cluster, name, production_rule, alarm, 8080))
    plane.reconcile()
    return DemoService(
        name=name,
        cluster=cluster,
        repository=name,
        repository_uri=repository_uri,
        digests=digests,
        production_rule_arn=production_rule,
        test_rule_arn=test_rule,
        target_groups=target_groups,
        alarm_name=alarm,
        blue_task_set=blue,
        config=config,
        extra=extra,
        production_routes=production_routes,
        layout=layout,
    )


# --- route layouts ------------------------------------------------------------------------
# rules: one production rule and one test rule (host headers) on the shared ALB listener :80
# several-rules: two production rules (web and api host names) and a test rule
# listener-ports: the CodeDeploy layout, its own ALB: production listener :80, test listener :8080 (default actions)
# nlb: a Network Load Balancer with TCP listeners :80 (production) and :8080 (test)
LAYOUTS = ("rules", "several-rules", "listener-ports", "nlb")


def _seed_listeners(
    elbv2: Any, network: dict[str, Any], name: str, target_groups: list[str], network_lb: bool
) -> tuple[list[str], str]:
    """A load balancer of its own with a production listener (:80) and a test listener (:8080)."""
    kind = {"Type": "network"} if network_lb else {"SecurityGroups": [network["security_group"]]}
    balancer_name = f"{name}-{'nlb' if network_lb else 'lb'}"
    created = elbv2.create_load_balancer(Name=balancer_name, Subnets=network["subnets"], **kind)
    balancer = created["LoadBalancers"][0]["LoadBalancerArn"]
    protocol = "TCP" if network_lb else "HTTP"
    listeners = [
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol=protocol,
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )["Listeners"][0]["ListenerArn"]
        for port, group in ((80, target_groups[0]), (8080, target_groups[1]))
    ]
    return [listeners[0]], listeners[1]
