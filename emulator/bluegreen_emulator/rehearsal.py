"""Seed the emulator with a snapshot (``bluegreen local serve --snapshot FILE``): a rehearsal of a release.

The emulator answers as the snapshot's account and region (moto takes the account from ``MOTO_ACCOUNT_ID``,
see :class:`~bluegreen_emulator.emulator.Emulator`), and every resource gets the id and ARN it has in the
file: moto generates its own (VPC, subnet and security group ids, load balancer, listener, rule and target
group ARNs, task set ids, task definition revisions), so each is created through the API and then given
the snapshot's identity in moto's backend. Those renames reach into moto's internals, like the patches in
:mod:`.patches` do, and are written for the same moto version (checked on import of that module).

What a snapshot cannot carry is simulated: every image of the file starts healthy tasks, and each Lambda
hook function is a stand-in that answers ``SUCCEEDED`` (its code is not run).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ecr.models import ecr_backends
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen.aws.config import parameter_name
from bluegreen_cli.snapshot import SCOPING_PARAMETERS, Snapshot

from . import patches
from .cfn import ALARM_PROPERTIES
from .dataplane import WatchedService
from .emulator import STACK, Emulator
from .seed import DemoService

patches.check_moto_version()


def emulator_for(snapshot: Snapshot, **kwargs: Any) -> Emulator:
    """An emulator answering as the snapshot's account and region, with its stack's scoping parameters."""
    parameters = {k: v for k, v in snapshot.stackParameters.items() if k in SCOPING_PARAMETERS}
    parameters.update(kwargs.pop("parameters", None) or {})
    return Emulator(account=snapshot.account, region=snapshot.region, parameters=parameters, **kwargs)


def _rename(table: dict[str, Any], old: str, new: str) -> Any:
    item = table.pop(old)
    table[new] = item
    return item


# --- EC2 ----------------------------------------------------------------------------------------------
def _seed_network(emu: Emulator, snapshot: Snapshot) -> None:
    ec2 = emu.client("ec2")
    backend = ec2_backends[emu.account][emu.region]
    for vpc in snapshot.network.vpcs:
        created = ec2.create_vpc(CidrBlock=vpc["CidrBlock"])["Vpc"]["VpcId"]
        # moto gap: moto's ECS tasks need a private DNS name, which its ENIs get only in a VPC with DNS
        # hostnames; the rehearsal turns them on (a task's DNS name is not something a release reads).
        ec2.modify_vpc_attribute(VpcId=created, EnableDnsHostnames={"Value": True})
        new = vpc["VpcId"]
        _rename(backend.vpcs, created, new).id = new
        # moto keys a VPC's security groups by its id and records it in its default route table and ACL.
        if created in backend.groups:
            _rename(backend.groups, created, new)
        for group in backend.groups.get(new, {}).values():
            group.vpc_id = new
        for table in (backend.route_tables, backend.network_acls):
            for item in table.values():
                if getattr(item, "vpc_id", None) == created:
                    item.vpc_id = new
    for subnet in snapshot.network.subnets:
        created = ec2.create_subnet(
            VpcId=subnet["VpcId"], CidrBlock=subnet["CidrBlock"], AvailabilityZone=subnet["AvailabilityZone"]
        )["Subnet"]
        item = _rename(backend.subnets[created["AvailabilityZone"]], created["SubnetId"], subnet["SubnetId"])
        item.id = subnet["SubnetId"]
    for group in snapshot.network.securityGroups:
        vpc = group.get("VpcId")
        if group["GroupName"] == "default" and vpc:
            existing = next(g for g in backend.groups[vpc].values() if g.name == "default")
            created = existing.id
        else:
            created = ec2.create_security_group(
                GroupName=group["GroupName"], Description=group.get("Description") or group["GroupName"], VpcId=vpc
            )["GroupId"]
        _rename(backend.groups[vpc], created, group["GroupId"]).id = group["GroupId"]


# --- ELBv2 --------------------------------------------------------------------------------------------
_TARGET_GROUP_FIELDS = (
    "Protocol",
    "ProtocolVersion",
    "Port",
    "VpcId",
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckPath",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "Matcher",
    "TargetType",
    "IpAddressType",
)


def _conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DescribeRules answers both ``Values`` and the ``*Config`` of a condition; CreateRule takes one."""
    cleaned = []
    for condition in conditions:
        if any(key.endswith("Config") for key in condition):
            condition = {k: v for k, v in condition.items() if k != "Values"}
        cleaned.append(condition)
    return cleaned


def _seed_load_balancing(emu: Emulator, snapshot: Snapshot) -> None:
    elbv2 = emu.client("elbv2")
    backend = elbv2_backends[emu.account][emu.region]
    for state in snapshot.targetGroups:
        group = state.targetGroup
        fields = {k: group[k] for k in _TARGET_GROUP_FIELDS if k in group}
        created = elbv2.create_target_group(Name=group["TargetGroupName"], **fields)["TargetGroups"][0]
        _rename(backend.target_groups, created["TargetGroupArn"], group["TargetGroupArn"]).arn = group["TargetGroupArn"]
        for key, value in state.attributes.items():
            try:  # moto knows most attributes; the data plane reads the deregistration delay and stickiness
                elbv2.modify_target_group_attributes(
                    TargetGroupArn=group["TargetGroupArn"], Attributes=[{"Key": key, "Value": value}]
                )
            except elbv2.exceptions.ClientError:
                continue
    for balancer in snapshot.loadBalancers:
        subnets = [zone["SubnetId"] for zone in balancer.get("AvailabilityZones") or [] if zone.get("SubnetId")]
        kind = {"Type": balancer.get("Type", "application"), "Scheme": balancer.get("Scheme", "internet-facing")}
        if balancer.get("SecurityGroups"):
            kind["SecurityGroups"] = balancer["SecurityGroups"]
        created = elbv2.create_load_balancer(Name=balancer["LoadBalancerName"], Subnets=subnets, **kind)
        item = _rename(
            backend.load_balancers, created["LoadBalancers"][0]["LoadBalancerArn"], balancer["LoadBalancerArn"]
        )
        item.arn = balancer["LoadBalancerArn"]
        if balancer.get("DNSName"):
            item.dns_name = balancer["DNSName"]
    for listener in snapshot.listeners:
        created = elbv2.create_listener(
            LoadBalancerArn=listener["LoadBalancerArn"],
            Protocol=listener["Protocol"],
            Port=listener["Port"],
            DefaultActions=listener["DefaultActions"],
        )["Listeners"][0]["ListenerArn"]
        balancer = backend.load_balancers[listener["LoadBalancerArn"]]
        item = _rename(balancer.listeners, created, listener["ListenerArn"])
        item.arn = listener["ListenerArn"]
        for rule in item._default_rule.values():
            rule.listener_arn = item.arn
    for rule in snapshot.rules:
        if rule.get("IsDefault"):
            continue  # a listener's default rule is its default actions (above)
        listener_arn = rule["RuleArn"].replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
        created = elbv2.create_rule(
            ListenerArn=listener_arn,
            Priority=int(rule["Priority"]),
            Conditions=_conditions(rule.get("Conditions") or []),
            Actions=rule["Actions"],
        )["Rules"][0]["RuleArn"]
        listener = next(
            b.listeners[listener_arn] for b in backend.load_balancers.values() if listener_arn in b.listeners
        )
        _rename(listener._non_default_rules, created, rule["RuleArn"]).arn = rule["RuleArn"]


# --- ECS ------------------------------------------------------------------------------------------------
_TASK_DEFINITION_FIELDS = (
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "runtimePlatform",
    "ephemeralStorage",
)
_TASK_SET_FIELDS = ("externalId", "launchType", "capacityProviderStrategy", "platformVersion", "serviceRegistries")


def _seed_ecs(emu: Emulator, snapshot: Snapshot) -> str:
    """The cluster, task definitions (same revisions), the EXTERNAL service and its task sets; the primary's id."""
    ecs = emu.client("ecs")
    backend = ecs_backends[emu.account][emu.region]
    cluster = snapshot.cluster["clusterName"]
    ecs.create_cluster(clusterName=cluster)
    for definition in snapshot.taskDefinitions:
        fields = {k: definition[k] for k in _TASK_DEFINITION_FIELDS if definition.get(k)}
        if definition.get("tags"):
            fields["tags"] = definition["tags"]
        family = definition["family"]
        created = ecs.register_task_definition(
            family=family, containerDefinitions=definition["containerDefinitions"], **fields
        )["taskDefinition"]
        revisions = backend.task_definitions[family]
        item = _rename(revisions, created["revision"], definition["revision"])
        item.revision = definition["revision"]
        item.arn = definition["taskDefinitionArn"]
        backend.task_definitions[family] = dict(sorted(revisions.items()))
    service = snapshot.ecsService
    long_arn = service["serviceArn"].count("/") == 2
    ecs.put_account_setting(name="serviceLongArnFormat", value="enabled" if long_arn else "disabled")
    ecs.create_service(
        cluster=cluster,
        serviceName=service["serviceName"],
        desiredCount=service.get("desiredCount", 1),
        deploymentController=service.get("deploymentController") or {"type": "EXTERNAL"},
        **(
            {"healthCheckGracePeriodSeconds": service["healthCheckGracePeriodSeconds"]}
            if service.get("healthCheckGracePeriodSeconds")
            else {}
        ),
    )
    moto_service = backend.services[f"{cluster}:{service['serviceName']}"]
    primary = ""
    for task_set in snapshot.taskSets:
        fields = {k: task_set[k] for k in _TASK_SET_FIELDS if task_set.get(k)}
        if task_set.get("networkConfiguration"):
            fields["networkConfiguration"] = task_set["networkConfiguration"]
        if task_set.get("loadBalancers"):
            fields["loadBalancers"] = task_set["loadBalancers"]
        created = ecs.create_task_set(
            cluster=cluster,
            service=service["serviceName"],
            taskDefinition=task_set["taskDefinition"],
            scale=task_set.get("scale") or {"unit": "PERCENT", "value": 100.0},
            **fields,
        )["taskSet"]
        item = next(ts for ts in moto_service.task_sets if ts.id == created["id"])
        item.id, item.task_set_arn = task_set["id"], task_set["taskSetArn"]
        if task_set.get("status") == "PRIMARY":
            ecs.update_service_primary_task_set(
                cluster=cluster, service=service["serviceName"], primaryTaskSet=task_set["taskSetArn"]
            )
            primary = task_set["id"]
    return primary


# --- the rest: alarms, configuration, images, hooks --------------------------------------------------


def _seed_alarms(emu: Emulator, snapshot: Snapshot) -> None:
    cloudwatch = emu.client("cloudwatch")
    for alarm in snapshot.alarms:
        if alarm.get("type") == "CompositeAlarm":
            cloudwatch.put_composite_alarm(
                AlarmName=alarm["AlarmName"],
                AlarmRule=alarm["AlarmRule"],
                **{k: alarm[k] for k in ("AlarmDescription", "ActionsEnabled", "AlarmActions") if k in alarm},
            )
        else:
            cloudwatch.put_metric_alarm(
                AlarmName=alarm["AlarmName"], **{k: alarm[k] for k in ALARM_PROPERTIES if alarm.get(k) is not None}
            )
        if alarm.get("StateValue"):
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue=alarm["StateValue"],
                StateReason=alarm.get("StateReason") or "as in the snapshot",
            )


def _manifest(digest: str) -> str:
    """A manifest standing for the image of ``digest`` (the snapshot has no layers)."""
    layer = hashlib.sha256(digest.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": digest},
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


def _seed_images(emu: Emulator, snapshot: Snapshot) -> dict[str, dict[str, str]]:
    """The repositories with their tags at the snapshot's digests; {repository: {tag: digest}}."""
    ecr = emu.client("ecr")
    backend = ecr_backends[emu.account][emu.region]
    tags: dict[str, dict[str, str]] = {}
    for state in snapshot.repositories:
        name = state.repository["repositoryName"]
        ecr.create_repository(repositoryName=name)
        tags[name] = {}
        # Oldest first: a tag moved since stays on the newest image, as in the repository.
        for image in sorted(state.images, key=lambda i: str(i.get("imagePushedAt") or "")):
            for tag in image.get("imageTags") or []:
                backend.put_image(name, _manifest(image["imageDigest"]), tag, digest=image["imageDigest"])
                tags[name][tag] = image["imageDigest"]
    return tags


def _stand_in_hook(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """A snapshot's Lambda hook in a rehearsal: its code is not run, it passes."""
    return {"hookStatus": "SUCCEEDED", "hookDetails": {"rehearsal": "stand-in: the function's code was not run"}}


def _seed_hooks(emu: Emulator, snapshot: Snapshot) -> None:
    lam = emu.client("lambda")
    role = emu.client("iam").get_role(RoleName=f"{STACK}-role")["Role"]["Arn"]
    for hook in snapshot.hookFunctions:
        configuration = hook.configuration
        lam.create_function(
            FunctionName=configuration["FunctionName"],
            Runtime=configuration.get("Runtime") or "python3.13",
            Role=role,
            Handler=configuration.get("Handler") or "app.handler",
            Code={"ZipFile": b"rehearsal stand-in"},
        )
        emu.dispatcher.register_callable(configuration["FunctionName"], _stand_in_hook)


def seed_snapshot(emu: Emulator, snapshot: Snapshot) -> DemoService:
    """Create what ``snapshot`` holds in ``emu`` (same names and ARNs), watched by the data plane."""
    if (emu.account, emu.region) != (snapshot.account, snapshot.region):
        raise ValueError(
            f"the emulator answers as {emu.account} {emu.region}, the snapshot is of {snapshot.account} "
            f"{snapshot.region}: start it with rehearsal.emulator_for(snapshot)"
        )
    config = snapshot.service_config()
    _seed_network(emu, snapshot)
    _seed_load_balancing(emu, snapshot)
    images = _seed_images(emu, snapshot)
    primary = _seed_ecs(emu, snapshot)
    _seed_alarms(emu, snapshot)
    _seed_hooks(emu, snapshot)
    emu.client("ssm").put_parameter(
        Name=snapshot.configParameter, Type="String", Value=json.dumps(snapshot.config), Overwrite=True
    )
    cluster, name = config.cluster, config.service
    for task_set in snapshot.taskSets:
        if task_set.get("status") in ("PRIMARY", "ACTIVE"):
            emu.plane.mark_running(task_set["id"], cluster, name)
    routes = config.production_route_arns()
    port = (
        next((lb.get("containerPort") for ts in snapshot.taskSets for lb in ts.get("loadBalancers") or []), None)
        or config.containerPort
        or 80
    )
    alarm = config.alarmNames[0] if config.alarmNames else None
    emu.plane.watch(WatchedService(cluster, name, routes[0], alarm, int(port)))
    emu.plane.reconcile()
    repository = snapshot.repositories[0].repository if snapshot.repositories else {}
    demo = DemoService(
        name=name,
        cluster=cluster,
        repository=config.repository,
        repository_uri=repository.get("repositoryUri", ""),
        digests=images.get(config.repository, {}),
        production_rule_arn=routes[0],
        test_rule_arn=config.test_route_arn(),
        target_groups=list(config.targetGroupArns),
        alarm_name=alarm or "",
        blue_task_set=primary,
        config=snapshot.config,
        production_routes=routes,
        layout="rules" if config.productionRuleArn else "listeners",
    )
    emu.services[name] = demo
    emu._table_written.set()  # the auto-approver looks at the new service's gates at once
    return demo


def shape(emu: Emulator, service: str) -> dict[str, Any]:
    """What describe calls say of the service's shape (the fields a release reads)."""
    demo = emu.services[service]
    ecs, elbv2, cloudwatch = emu.client("ecs"), emu.client("elbv2"), emu.client("cloudwatch")
    described = ecs.describe_services(cluster=demo.cluster, services=[service])["services"][0]
    task_sets = [
        {k: ts[k] for k in ("id", "taskSetArn", "status", "taskDefinition", "loadBalancers", "networkConfiguration")}
        for ts in described["taskSets"]
    ]
    definition = ecs.describe_task_definition(taskDefinition=task_sets[0]["taskDefinition"])["taskDefinition"]
    routes = [*demo.production_routes, demo.test_rule_arn]
    rule_arns = [route for route in routes if ":listener-rule/" in route]
    listener_arns = [route for route in routes if ":listener/" in route]
    rules = elbv2.describe_rules(RuleArns=rule_arns)["Rules"] if rule_arns else []
    listeners = elbv2.describe_listeners(ListenerArns=listener_arns)["Listeners"] if listener_arns else []
    groups = elbv2.describe_target_groups(TargetGroupArns=demo.target_groups)["TargetGroups"]
    alarm = cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]
    return {
        "serviceArn": described["serviceArn"],
        "controller": described["deploymentController"],
        "taskSets": task_sets,
        "containers": definition["containerDefinitions"],
        "revision": definition["revision"],
        "rules": [(r["RuleArn"], r["Priority"], r["Conditions"], r["Actions"]) for r in rules],
        "listeners": [(li["ListenerArn"], li["Protocol"], li["Port"], li["DefaultActions"]) for li in listeners],
        "targetGroups": [
            (g["TargetGroupArn"], g["VpcId"], g.get("HealthCheckPath"), g["HealthCheckIntervalSeconds"]) for g in groups
        ],
        "deregistrationDelay": [
            {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=g)["Attributes"]}[
                "deregistration_delay.timeout_seconds"
            ]
            for g in demo.target_groups
        ],
        "alarm": (alarm["AlarmArn"], alarm["Metrics"], alarm["Threshold"], alarm["StateValue"]),
        "images": {
            tag: emu.client("ecr").describe_images(repositoryName=demo.repository, imageIds=[{"imageTag": tag}])[
                "imageDetails"
            ][0]["imageDigest"]
            for tag in ("v1", "v2")
        },
        "config": json.loads(emu.client("ssm").get_parameter(Name=parameter_name(service))["Parameter"]["Value"]),
    }
