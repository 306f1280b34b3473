"""``bluegreen doctor SERVICE``: a read-only preflight of one service, as pure checks over typed facts.

:mod:`bluegreen_cli.doctor_aws` reads the facts (ECS, Elastic Load Balancing, CloudWatch, Lambda, ECR, and
``iam:SimulatePrincipalPolicy`` for the stack's roles); everything here decides, so the checks are tested with
table-driven fakes. Each check gives one :class:`Check`: a name, PASS / WARN / FAIL, and how to fix it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Result = Literal["PASS", "WARN", "FAIL"]
MAX_TASK_SETS = 5  # CreateTaskSet fails with "5 deployments exist on the service", DRAINING ones included
# An alarm still INSUFFICIENT_DATA this long after its last state change never gets data: it can never fire.
STUCK_INSUFFICIENT_DATA = timedelta(hours=1)


class Fact(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class Check(Fact):
    name: str
    result: Result
    detail: str
    fix: str = ""


class RouteFacts(Fact):
    arn: str
    role: Literal["production", "test"]
    exists: bool = True
    error: str = ""  # why it could not be read
    targetGroups: dict[str, int] = Field(default_factory=dict)  # forward target group -> weight
    stickiness: bool = False
    stickinessSeconds: int | None = None


class TargetGroupFacts(Fact):
    arn: str
    exists: bool = True
    intervalSeconds: int | None = None
    healthyThreshold: int | None = None
    deregistrationDelaySeconds: int | None = None


class AlarmFacts(Fact):
    name: str
    exists: bool = True
    state: str | None = None  # OK | ALARM | INSUFFICIENT_DATA
    stateSince: datetime | None = None


class HookFacts(Fact):
    functionArn: str
    exists: bool = True


class ImageFacts(Fact):
    repository: str
    reference: str  # the tag or digest the service runs
    repositoryExists: bool = True
    found: bool = True


class Permission(Fact):
    """One authorization the workflow needs: a function's role, an action on a resource with context keys."""

    function: str  # the function's logical id in template.yaml
    action: str
    resource: str
    context: dict[str, str] = Field(default_factory=dict)


class PermissionResult(Fact):
    permission: Permission
    role: str | None = None  # the role's ARN (None: the function was not found in the stack)
    decision: str = "allowed"  # allowed | implicitDeny | explicitDeny | error
    error: str = ""


class ServiceFacts(Fact):
    service: str
    cluster: str
    exists: bool = True
    deploymentController: str | None = None
    taskSets: list[str] = Field(default_factory=list)  # statuses (PRIMARY, ACTIVE, DRAINING)
    targetGroupArns: list[str] = Field(default_factory=list)
    healthWaitTimeoutSeconds: int = 900
    bakeSeconds: int = 600
    routes: list[RouteFacts] = Field(default_factory=list)
    targetGroups: list[TargetGroupFacts] = Field(default_factory=list)
    alarms: list[AlarmFacts] = Field(default_factory=list)
    hooks: list[HookFacts] = Field(default_factory=list)
    images: list[ImageFacts] = Field(default_factory=list)
    permissions: list[PermissionResult] = Field(default_factory=list)
    now: datetime | None = None


def _pass(name: str, detail: str) -> Check:
    return Check(name=name, result="PASS", detail=detail)


def check_controller(facts: ServiceFacts) -> Check:
    name = "deployment controller"
    if not facts.exists:
        return Check(
            name=name,
            result="FAIL",
            detail=f"service {facts.service} does not exist (or is not ACTIVE) in cluster {facts.cluster}",
            fix="fix 'cluster' and 'service' in the service configuration",
        )
    if facts.deploymentController != "EXTERNAL":
        return Check(
            name=name,
            result="FAIL",
            detail=f"{facts.service} uses the {facts.deploymentController or 'ECS'} deployment controller",
            fix="task sets need EXTERNAL, set only when a service is created: move it with bluegreen adopt",
        )
    return _pass(name, "EXTERNAL")


def check_task_sets(facts: ServiceFacts) -> Check:
    name = "task sets"
    count = len(facts.taskSets)
    listed = ", ".join(sorted(facts.taskSets)) or "none"
    if count >= MAX_TASK_SETS:
        return Check(
            name=name,
            result="FAIL",
            detail=f"{count} task sets ({listed}): CreateTaskSet refuses a 6th, DRAINING ones count",
            fix="delete the stale task sets (aws ecs delete-task-set) or wait for DRAINING ones to end",
        )
    if count == MAX_TASK_SETS - 1:
        return Check(
            name=name,
            result="WARN",
            detail=f"{count} task sets ({listed}): one release fits, a rollback's draining green may block the next",
            fix="delete task sets the service no longer needs",
        )
    return _pass(name, f"{count} of {MAX_TASK_SETS} ({listed})")


def check_routes(facts: ServiceFacts) -> list[Check]:
    checks = []
    configured = set(facts.targetGroupArns)
    for route in facts.routes:
        name = f"{route.role} route {short(route.arn)}"
        if not route.exists:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=route.error or "does not exist",
                    fix="fix productionRoutes / testRoute (or productionRuleArn / testRuleArn) in the configuration",
                )
            )
            continue
        receiving = {arn for arn, weight in route.targetGroups.items() if weight > 0}
        if not receiving or not receiving <= configured:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"forwards to {sorted(short(a) for a in receiving) or 'nothing'}, not the configured "
                    "target groups",
                    fix="point the route at one of 'targetGroupArns', or fix 'targetGroupArns'",
                )
            )
            continue
        checks.append(_pass(name, f"forwards to {', '.join(sorted(short(a) for a in receiving))}"))
    return checks


def check_stickiness(facts: ServiceFacts) -> list[Check]:
    checks = []
    for route in facts.routes:
        if route.role != "production" or not route.exists:
            continue
        name = f"stickiness {short(route.arn)}"
        if route.stickiness:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"target group stickiness is on ({route.stickinessSeconds or '?'} s): clients with the "
                    "cookie stay on their target group whatever the weights, so the switch and a rollback do not "
                    "move them",
                    fix="turn TargetGroupStickinessConfig off on the production route's forward action",
                )
            )
        else:
            checks.append(_pass(name, "off"))
    return checks


def check_target_groups(facts: ServiceFacts) -> list[Check]:
    checks = []
    for group in facts.targetGroups:
        name = f"target group {short(group.arn)}"
        if not group.exists:
            checks.append(
                Check(
                    name=name, result="FAIL", detail="does not exist", fix="fix 'targetGroupArns' in the configuration"
                )
            )
            continue
        healthy_after = (group.intervalSeconds or 30) * (group.healthyThreshold or 5)
        if healthy_after >= facts.healthWaitTimeoutSeconds:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"a target is healthy after {group.intervalSeconds} s x {group.healthyThreshold} checks = "
                    f"{healthy_after} s, not before healthWaitTimeoutSeconds ({facts.healthWaitTimeoutSeconds} s)",
                    fix="lower the health-check interval or healthy threshold, or raise healthWaitTimeoutSeconds",
                )
            )
            continue
        delay = group.deregistrationDelaySeconds
        if delay is not None and delay > facts.bakeSeconds:
            checks.append(
                Check(
                    name=name,
                    result="WARN",
                    detail=f"healthy after {healthy_after} s; deregistration delay {delay} s is longer than the bake "
                    f"({facts.bakeSeconds} s): a deleted task set stays DRAINING (and counts toward {MAX_TASK_SETS}) "
                    "that long",
                    fix="lower deregistration_delay.timeout_seconds to what requests need to finish",
                )
            )
            continue
        checks.append(_pass(name, f"healthy after {healthy_after} s; deregistration delay {delay} s"))
    return checks


def check_alarms(facts: ServiceFacts) -> list[Check]:
    checks = []
    for alarm in facts.alarms:
        name = f"alarm {alarm.name}"
        if not alarm.exists:
            checks.append(
                Check(name=name, result="FAIL", detail="does not exist", fix="create it, or fix 'alarmNames'")
            )
        elif alarm.state == "INSUFFICIENT_DATA":
            stuck = bool(facts.now and alarm.stateSince and facts.now - alarm.stateSince >= STUCK_INSUFFICIENT_DATA)
            checks.append(
                Check(
                    name=name,
                    result="FAIL" if stuck else "WARN",
                    detail=f"INSUFFICIENT_DATA since {alarm.stateSince or '?'}: it cannot fire"
                    + (" and gets no data" if stuck else " yet"),
                    fix="check the alarm's metric, dimensions and namespace (the metric must receive data)",
                )
            )
        else:
            checks.append(_pass(name, str(alarm.state)))
    return checks


def check_hooks(facts: ServiceFacts) -> list[Check]:
    return [
        _pass(f"hook {short(hook.functionArn)}", "exists")
        if hook.exists
        else Check(
            name=f"hook {short(hook.functionArn)}",
            result="FAIL",
            detail="the function does not exist",
            fix="deploy it, or fix the hook's functionArn",
        )
        for hook in facts.hooks
    ]


def check_images(facts: ServiceFacts) -> list[Check]:
    checks = []
    for image in facts.images:
        name = f"image {image.repository}"
        if not image.repositoryExists:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"repository {image.repository} does not exist",
                    fix="fix 'repository' (or 'repositories') in the configuration",
                )
            )
        elif not image.found:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"{image.reference}, which the service runs, is not in ECR",
                    fix="push it again or deploy a release that exists: a rollback needs the running image",
                )
            )
        else:
            checks.append(_pass(name, f"{short(image.reference)} resolves"))
    return checks


def check_permissions(facts: ServiceFacts) -> list[Check]:
    checks = []
    for item in facts.permissions:
        grant = item.permission
        name = f"IAM {grant.function} {grant.action}"
        where = short(grant.resource) + "".join(f" [{k}={short(v)}]" for k, v in sorted(grant.context.items()))
        if item.role is None:
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"function {grant.function} not found in the stack",
                    fix="pass --stack (the ecs-bluegreen stack's name)",
                )
            )
        elif item.decision == "error":
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"could not simulate: {item.error}",
                    fix="allow iam:SimulatePrincipalPolicy on the stack's roles to the identity running doctor",
                )
            )
        elif item.decision != "allowed":
            checks.append(
                Check(
                    name=name,
                    result="FAIL",
                    detail=f"{item.decision} on {where}",
                    fix=f"grant {grant.action} to {short(item.role)} (template.yaml {grant.function}) on this "
                    "resource, or fix the stack's parameters (cluster, load balancer, name patterns)",
                )
            )
        else:
            checks.append(_pass(name, f"allowed on {where}"))
    return checks


def run_checks(facts: ServiceFacts) -> list[Check]:
    checks = [check_controller(facts)]
    if not facts.exists:
        return checks
    checks.append(check_task_sets(facts))
    checks += check_routes(facts)
    checks += check_stickiness(facts)
    checks += check_target_groups(facts)
    checks += check_alarms(facts)
    checks += check_hooks(facts)
    checks += check_images(facts)
    checks += check_permissions(facts)
    return checks


def exit_status(checks: list[Check]) -> int:
    return 1 if any(check.result == "FAIL" for check in checks) else 0


def short(arn: str) -> str:
    """The readable tail of an ARN (``listener-rule/app/lb/.../rule-id`` -> ``lb/.../rule-id``)."""
    if not arn.startswith("arn:"):
        return arn
    resource = arn.split(":", 5)[-1]
    for prefix in ("listener-rule/app/", "listener-rule/net/", "listener/app/", "listener/net/", "targetgroup/"):
        if resource.startswith(prefix):
            return resource[len(prefix) :]
    return resource


# --- the authorizations the workflow needs, with the exact ARNs and context keys it uses ----------------
class Account(Fact):
    partition: str = "aws"
    region: str
    account: str

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if regional else ''}:{self.account}:{resource}"


class Workload(Fact):
    """What the permissions depend on besides the configuration: the running task definition's family and roles."""

    taskDefinitionFamily: str | None = None
    nextRevision: int = 1
    taskRoles: list[str] = Field(default_factory=list)  # task and execution role ARNs (passed to ECS)
    parameterName: str  # the SSM parameter holding the configuration
    lambdaHooks: list[str] = Field(default_factory=list)  # hook function ARNs
    routes: dict[str, str] = Field(default_factory=dict)  # route ARN -> rule | listener


def _cluster_name(cluster: str) -> str:
    return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster


def required_permissions(
    account: Account,
    cluster: str,
    service: str,
    repositories: list[str],
    alarms: list[str],
    workload: Workload,
) -> list[Permission]:
    """The authorizations of the inventory (docs/aws-calls.yaml) that depend on this service, per function.

    Resources and context keys are the ones AWS evaluates for the workflow's calls: ListTasks on "*" with
    ecs:cluster, the task set and service ARNs with ecs:cluster and ecs:service, iam:PassRole with
    iam:PassedToService ecs-tasks.amazonaws.com.
    """
    name = _cluster_name(cluster)
    cluster_arn = cluster if cluster.startswith("arn:") else account.arn("ecs", f"cluster/{name}")
    service_arn = account.arn("ecs", f"service/{name}/{service}")
    task_set = account.arn("ecs", f"task-set/{name}/{service}/ecs-svc/0000000000000000000")
    ecs_context = {"ecs:cluster": cluster_arn}
    service_context = {**ecs_context, "ecs:service": service_arn}
    tasks = account.arn("ecs", f"task/{name}/0")

    def p(function: str, action: str, resource: str, context: dict[str, str] | None = None) -> Permission:
        return Permission(function=function, action=action, resource=resource, context=context or {})

    needed = [
        p("ValidateFunction", "ssm:GetParameter", account.arn("ssm", f"parameter{workload.parameterName}")),
        p("ValidateFunction", "ecs:DescribeServices", service_arn, service_context),
        p("ValidateFunction", "elasticloadbalancing:DescribeRules", "*"),
    ]
    needed += [
        p("ValidateFunction", "ecr:DescribeImages", account.arn("ecr", f"repository/{repository}"))
        for repository in repositories
    ]
    for function in ("ValidateFunction", "BakeFunction"):
        needed += [
            p(function, "cloudwatch:DescribeAlarms", account.arn("cloudwatch", f"alarm:{alarm}")) for alarm in alarms
        ]
    for hook in workload.lambdaHooks:
        needed.append(p("ValidateFunction", "lambda:GetFunctionConfiguration", hook))
        needed.append(p("RunHooksFunction", "lambda:InvokeFunction", hook))
    if workload.taskDefinitionFamily:
        definition = account.arn("ecs", f"task-definition/{workload.taskDefinitionFamily}:{workload.nextRevision}")
        needed.append(p("CreateGreenFunction", "ecs:RegisterTaskDefinition", definition))
        needed += [
            p("CreateGreenFunction", "iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
            for role in workload.taskRoles
        ]
    needed.append(p("CreateGreenFunction", "ecs:CreateTaskSet", task_set, service_context))
    for function in ("CheckHealthFunction", "SwapFunction", "DeleteOldFunction"):
        needed.append(p(function, "ecs:ListTasks", "*", ecs_context))
    needed.append(p("CheckHealthFunction", "ecs:DescribeTasks", tasks, ecs_context))
    for function in ("SwapFunction", "RollbackFunction", "ExecutionEndedFunction"):
        for route, kind in workload.routes.items():
            action = "elasticloadbalancing:ModifyRule" if kind == "rule" else "elasticloadbalancing:ModifyListener"
            needed.append(p(function, action, route))
        needed.append(p(function, "ecs:UpdateServicePrimaryTaskSet", service_arn, service_context))
    for function in ("DeleteOldFunction", "CleanupFunction", "RollbackFunction", "ExecutionEndedFunction"):
        needed.append(p(function, "ecs:DeleteTaskSet", task_set, service_context))
    return needed
