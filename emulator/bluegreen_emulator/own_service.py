"""A service built the way a user builds one, through the AWS API only (each call has an AWS CLI twin).

Nothing here touches the emulator's internals: no seeding, no data-plane registration. The emulator must drive the
service because it is in the ECS backend, as ECS drives any service. Used by the ``own-service`` demo scenario and
the tests that check that any service is deployable, not only the seeded one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bluegreen.aws.config import parameter_name

LAYOUTS = ("rules", "listener-ports")  # listener rules on :80, or the CodeDeploy layout (:80 and :8080 listeners)
CONTAINER_PORT = 8080


@dataclass
class OwnService:
    name: str
    cluster: str
    repository: str
    layout: str
    target_groups: list[str]
    production_route: str
    test_route: str
    alarm_name: str
    first_task_set: str
    config: dict[str, Any]
    digests: dict[str, str] = field(default_factory=dict)


def image_manifest(repository: str, tag: str) -> str:
    """A minimal Docker v2 manifest, as ``docker push`` would upload (``aws ecr put-image --image-manifest``)."""
    layer = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": layer},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": layer}],
        }
    )


def build_service(  # noqa: PLR0915 - one call after another, as a runbook reads
    session: Any,
    name: str,
    layout: str = "rules",
    tags: tuple[str, ...] = ("v1", "v2", "v2-5xx"),
    desired_count: int = 2,
    cidr_index: int = 100,
    bake_seconds: int = 60,
) -> OwnService:
    """VPC, subnets, SG, ALB, listeners (or rules), two target groups, ECR repository and images, task definition,
    an EXTERNAL service with a first task set (``create-task-set``), an alarm and the SSM configuration."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    ec2, elbv2, ecr = session.client("ec2"), session.client("elbv2"), session.client("ecr")
    ecs, cloudwatch, ssm, iam = (session.client(n) for n in ("ecs", "cloudwatch", "ssm", "iam"))

    # aws ec2 create-vpc / create-subnet / create-security-group
    octet = cidr_index % 250
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description=f"{name} tasks", VpcId=vpc)["GroupId"]

    # aws elbv2 create-target-group (x2) / create-load-balancer / create-listener / create-rule
    target_groups = [
        elbv2.create_target_group(
            Name=f"{name}-{suffix}",
            Protocol="HTTP",
            Port=CONTAINER_PORT,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=10,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        for suffix in ("blue", "green")
    ]
    balancer = elbv2.create_load_balancer(Name=f"{name}-alb", Subnets=subnets, SecurityGroups=[group])["LoadBalancers"][
        0
    ]["LoadBalancerArn"]
    if layout == "listener-ports":
        production, test = (
            elbv2.create_listener(
                LoadBalancerArn=balancer,
                Protocol="HTTP",
                Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": target}],
            )["Listeners"][0]["ListenerArn"]
            for port, target in ((80, target_groups[0]), (8080, target_groups[1]))
        )
        routes: dict[str, Any] = {"productionRoutes": [production], "testRoute": test}
    else:
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]["ListenerArn"]
        production, test = (
            elbv2.create_rule(
                ListenerArn=listener,
                Priority=priority,
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": target}],
            )["Rules"][0]["RuleArn"]
            for priority, host, target in (
                (1, f"{name}.example.com", target_groups[0]),
                (2, f"test.{name}.example.com", target_groups[1]),
            )
        )
        routes = {"productionRuleArn": production, "testRuleArn": test}

    # aws ecr create-repository / put-image (what docker push does)
    repository_uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    digests = {
        tag: ecr.put_image(repositoryName=name, imageManifest=image_manifest(name, tag), imageTag=tag)["image"][
            "imageId"
        ]["imageDigest"]
        for tag in tags
    }

    # aws iam create-role / aws ecs register-task-definition / create-cluster / create-service / create-task-set
    role = iam.create_role(
        RoleName=f"{name}-execution",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    definition = ecs.register_task_definition(
        family=name,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=role,
        containerDefinitions=[
            {
                "name": "app",
                "image": f"{repository_uri}:{tags[0]}",
                "essential": True,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    cluster = f"{name}-cluster"
    ecs.create_cluster(clusterName=cluster)
    ecs.create_service(
        cluster=cluster, serviceName=name, desiredCount=desired_count, deploymentController={"type": "EXTERNAL"}
    )
    awsvpc = {"subnets": subnets, "securityGroups": [group], "assignPublicIp": "DISABLED"}
    first = ecs.create_task_set(
        cluster=cluster,
        service=name,
        taskDefinition=definition,
        externalId="first",
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": awsvpc},
        loadBalancers=[{"targetGroupArn": target_groups[0], "containerName": "app", "containerPort": CONTAINER_PORT}],
        scale={"unit": "PERCENT", "value": 100.0},
    )["taskSet"]
    ecs.update_service_primary_task_set(cluster=cluster, service=name, primaryTaskSet=first["taskSetArn"])

    # aws cloudwatch put-metric-alarm: target 5xx of either target group, from the ALB's metrics
    alarm = f"{name}-target-5xx"
    dimension = balancer.split(":loadbalancer/")[-1]
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Metrics=[
            *(
                {
                    "Id": f"tg{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApplicationELB",
                            "MetricName": "HTTPCode_Target_5XX_Count",
                            "Dimensions": [
                                {"Name": "LoadBalancer", "Value": dimension},
                                {"Name": "TargetGroup", "Value": target.split(":")[-1]},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                }
                for index, target in enumerate(target_groups)
            ),
            {"Id": "total", "Expression": "SUM(METRICS())", "Label": "Target 5xx", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )

    # aws ssm put-parameter: the service's configuration document
    config = {
        "cluster": cluster,
        "service": name,
        "containerName": "app",
        "repository": name,
        **routes,
        "targetGroupArns": target_groups,
        "healthWaitTimeoutSeconds": 300,
        "alarmNames": [alarm],
        "bakeSeconds": bake_seconds,
        "slackChannel": "#deploys",
    }
    ssm.put_parameter(Name=parameter_name(name), Type="String", Value=json.dumps(config), Overwrite=True)
    return OwnService(
        name=name,
        cluster=cluster,
        repository=name,
        layout=layout,
        target_groups=target_groups,
        production_route=production,
        test_route=test,
        alarm_name=alarm,
        first_task_set=first["id"],
        config=config,
        digests=digests,
    )
