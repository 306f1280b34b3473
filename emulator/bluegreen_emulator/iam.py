"""IAM in the emulator: every AWS call a function makes is checked against THAT function's policy.

moto checks no permissions, so a missing permission in ``template.yaml`` would be invisible in tests. The
emulator reads each function's ``Policies`` from the template (inline statements with ``!Sub`` / ``!Ref`` /
``!GetAtt`` resolved against the emulator's values, and the SAM policy templates the template uses), builds
the request AWS would authorize for each call (action, resource ARNs, condition keys, and the implicit
actions some operations need, e.g. ``iam:PassRole`` for the roles of a task definition) and evaluates it:
an explicit Deny wins, else some Allow statement must match the action, the resource and every condition,
else the call fails with the service's access-denied error, as AWS would.

The evaluation (:func:`is_allowed`) and the request table (:data:`REQUESTS`) are pure; the emulator passes a
:class:`Lookup` for the few values that only the backend knows (a secret's full ARN, the next revision).
An operation missing from the table fails loudly (:class:`UnmodelledOperation`) so the table stays complete.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

# --- policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sid: str = ""


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: an action on a resource with the request's condition keys."""

    action: str  # service prefix:Action, e.g. ecs:CreateTaskSet
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, str] = field(default_factory=dict)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def parse_policy(document: Mapping[str, Any]) -> Policy:
    statements = []
    for raw in _as_tuple(document.get("Statement")):
        unsupported = {"NotAction", "NotResource", "Principal", "NotPrincipal"} & set(raw)
        if unsupported:
            raise ValueError(f"Statement {raw.get('Sid', '')}: the emulator does not model {sorted(unsupported)}")
        statements.append(
            Statement(
                effect=raw["Effect"],
                actions=_as_tuple(raw["Action"]),
                resources=_as_tuple(raw["Resource"]),
                conditions=raw.get("Condition") or {},
                sid=raw.get("Sid", ""),
            )
        )
    return Policy(tuple(statements))


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    return bool(_wildcard(pattern, case_sensitive).match(value))


def _string_equals(wanted: str, actual: str) -> bool:
    return wanted == actual


def _string_like(wanted: str, actual: str) -> bool:
    return wildcard_match(wanted, actual)


def _arn_like(wanted: str, actual: str) -> bool:
    # ArnLike compares the six ARN fields; a wildcard match over the whole ARN is the same for our ARNs.
    # ArnEquals behaves the same: "each of the six colon-delimited components of the ARN is checked separately
    # and each can include multi-character match wildcards (*) or single-character match wildcards (?)"
    # (IAM User Guide, "IAM JSON policy elements: Condition operators", Amazon Resource Name (ARN) operators).
    return wildcard_match(wanted, actual)


# operator -> (test, negated)
CONDITION_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
}


def _condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, str]) -> bool:
    base, if_exists = (operator[: -len("IfExists")], True) if operator.endswith("IfExists") else (operator, False)
    if base not in CONDITION_OPERATORS:
        raise ValueError(f"Condition operator {operator} is not modelled by the emulator's IAM")
    test, negated = CONDITION_OPERATORS[base]
    # Condition keys are case-insensitive; values are compared as the operator says.
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if actual is None:
        # A missing key: positive operators fail, negated ones hold (AWS), ...IfExists always holds.
        return if_exists or negated
    values = _as_tuple(wanted)
    matched = any(test(str(w), actual) for w in values)
    return not matched if negated else matched


def statement_applies(statement: Statement, request: Request) -> bool:
    if not any(wildcard_match(a, request.action, case_sensitive=False) for a in statement.actions):
        return False
    if not any(wildcard_match(r, request.resource) for r in statement.resources):
        return False
    return all(
        _condition_holds(operator, key, wanted, request.context)
        for operator, keys in statement.conditions.items()
        for key, wanted in keys.items()
    )


def is_allowed(policy: Policy, request: Request) -> bool:
    """AWS's evaluation for one identity policy: explicit Deny wins, then an Allow, else implicit deny."""
    applying = [s for s in policy.statements if statement_applies(s, request)]
    if any(s.effect == "Deny" for s in applying):
        return False
    return any(s.effect == "Allow" for s in applying)


# --- template -----------------------------------------------------------------------------


def resolve(value: Any, refs: Mapping[str, Any]) -> Any:
    """Resolve ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` / ``Fn::Join`` recursively against ``refs``."""
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return refs[argument]
        if key == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return refs[f"{logical_id}.{attribute}"]
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            local = {**refs, **{k: resolve(v, refs) for k, v in variables.items()}}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                if name not in local:
                    raise KeyError(f"Fn::Sub: unknown ${{{name}}}")
                return str(local[name])

            return re.sub(r"\$\{([^}]+)\}", substitute, text)
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(p) for p in resolve(parts, refs))
    return {k: resolve(v, refs) for k, v in value.items()}


# The SAM policy templates the template uses, as SAM expands them (policy_templates.json of SAM).
SAM_POLICY_TEMPLATES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[dict[str, Any]]]] = {
    "LambdaInvokePolicy": lambda p, refs: [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": resolve(
                {"Fn::Sub": ["arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${name}*", {}]},
                {**refs, "name": p["FunctionName"]},
            ),
        }
    ],
}


def resource_policy(resource: Mapping[str, Any], refs: Mapping[str, Any]) -> Policy:
    """The identity policy SAM builds for a function's or state machine's role from its ``Policies``."""
    statements: list[dict[str, Any]] = []
    for item in _as_tuple((resource.get("Properties") or {}).get("Policies")):
        if isinstance(item, dict) and "Statement" in item:
            statements.extend(_as_tuple(resolve(item, refs)["Statement"]))
            continue
        if isinstance(item, dict) and len(item) == 1:
            ((name, parameters),) = item.items()
            if name not in SAM_POLICY_TEMPLATES:
                raise ValueError(f"SAM policy template {name} is not modelled by the emulator's IAM")
            statements.extend(SAM_POLICY_TEMPLATES[name](resolve(parameters, refs), refs))
            continue
        raise ValueError(f"Policy {item!r}: managed policies by name are not modelled by the emulator's IAM")
    return parse_policy({"Statement": statements})


def attached_statements(resources: Mapping[str, Any], logical_id: str, refs: Mapping[str, Any]) -> list[Any]:
    """Statements of ``AWS::IAM::Policy`` resources attached to the role SAM generates for ``logical_id``
    (``<logical id>Role``, referenced with ``!Ref``)."""
    role = {"Ref": f"{logical_id}Role"}
    statements: list[Any] = []
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::IAM::Policy" and role in _as_tuple(props.get("Roles")):
            statements.extend(_as_tuple(resolve(props["PolicyDocument"], refs).get("Statement")))
    return statements


def template_policies(template: Mapping[str, Any], refs: Mapping[str, Any]) -> dict[str, Policy]:
    """Logical id -> policy, for every function and state machine of the template (its ``Policies`` and the
    ``AWS::IAM::Policy`` resources attached to its generated role)."""
    kinds = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
    resources = template.get("Resources") or {}
    policies = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") not in kinds:
            continue
        own = resource_policy(resource, refs)
        attached = parse_policy({"Statement": attached_statements(resources, logical_id, refs)})
        policies[logical_id] = Policy(own.statements + attached.statements)
    return policies


# --- requests -----------------------------------------------------------------------------


class Lookup(Protocol):
    """What only the backend knows."""

    def secret_arn(self, secret_id: str) -> str: ...

    def state_machine_of_task_token(self, task_token: str) -> str: ...

    def next_task_definition_revision(self, family: str) -> int: ...

    def task_definition_roles(self, task_definition: str) -> list[str]: ...  # RunTask passes them


@dataclass(frozen=True)
class Env:
    partition: str
    region: str
    account: str
    lookup: Lookup

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{resource}"
        )


class UnmodelledOperation(Exception):
    """A function called an operation the emulator's IAM table does not know: add it to ``REQUESTS``."""


def _name(value: str) -> str:
    """The last path element of an ARN or a bare name."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _ecs_cluster(env: Env, params: Mapping[str, Any]) -> str:
    cluster = params.get("cluster") or "default"
    return cluster if cluster.startswith("arn:") else env.arn("ecs", f"cluster/{cluster}")


def _ecs_service(env: Env, params: Mapping[str, Any], service: str | None = None) -> str:
    service = service or params["service"]
    if service.startswith("arn:"):
        return service
    return env.arn("ecs", f"service/{_name(_ecs_cluster(env, params))}/{service}")


def _ecs_context(env: Env, params: Mapping[str, Any], service_arn: str | None = None) -> dict[str, str]:
    context = {"ecs:cluster": _ecs_cluster(env, params)}
    if service_arn:
        context["ecs:service"] = service_arn
    return context


def _ecs_service_request(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        service = _ecs_service(env, params)
        return [Request(action, service, _ecs_context(env, params, service))]

    return build


def _ecs_describe_services(env: Env, params: Mapping[str, Any]) -> list[Request]:
    return [
        Request("ecs:DescribeServices", arn, _ecs_context(env, params, arn))
        for arn in (_ecs_service(env, params, s) for s in params.get("services", []))
    ]


def _ecs_delete_task_set(env: Env, params: Mapping[str, Any]) -> list[Request]:
    service = _ecs_service(env, params)
    task_set = params["taskSet"]
    if not task_set.startswith("arn:"):
        task_set = env.arn("ecs", f"task-set/{_name(_ecs_cluster(env, params))}/{_name(service)}/{task_set}")
    return [Request("ecs:DeleteTaskSet", task_set, _ecs_context(env, params, service))]


# The resource types of the ECS actions the emulator authorizes, as the Service Authorization Reference lists
# them (cfn-lint bundles the same data, AdditionalSpecs/Policies.json; tests/fast/test_iam_resource_types.py
# checks this table against it when cfn-lint is installed). An action is authorized on the ARN of the resource
# the request names; one whose request names none of its resource types is authorized on "*".
ECS_RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "CreateTaskSet": ("task-set",),
    "DeleteTaskSet": ("task-set",),
    "DescribeServices": ("service",),
    "DescribeTaskDefinition": (),
    "DescribeTaskSets": ("task-set",),
    "DescribeTasks": ("task",),
    "ListTasks": ("container-instance",),
    "RunTask": ("task-definition",),
    "StopTask": ("task",),
    "UpdateServicePrimaryTaskSet": ("service",),
    "UpdateTaskSet": ("task-set",),
}


def _ecs_list_tasks(env: Env, params: Mapping[str, Any]) -> list[Request]:
    """ListTasks: its one resource type is container-instance, so without ``containerInstance`` it is on "*".

    The reference lists container-instance as ListTasks's resource type, and AWS authorizes a call without a
    container instance on resource "*" ("User: ... is not authorized to perform: ecs:ListTasks on resource: *",
    aws/aws-cdk#3199, cdklabs/construct-hub#1207, awsdocs/amazon-ecs-developer-guide#211): a policy scoped to
    container-instance or task ARNs denies it; the ``ecs:cluster`` condition key scopes it to a cluster.
    """
    cluster = _ecs_cluster(env, params)
    instance = params.get("containerInstance")
    if not instance:
        return [Request("ecs:ListTasks", "*", {"ecs:cluster": cluster})]
    if not instance.startswith("arn:"):
        instance = env.arn("ecs", f"container-instance/{_name(cluster)}/{instance}")
    return [Request("ecs:ListTasks", instance, {"ecs:cluster": cluster})]


def _ecs_describe_task_sets(env: Env, params: Mapping[str, Any]) -> list[Request]:
    """DescribeTaskSets is authorized on each task set it names (resource type task-set), with ecs:service."""
    service = _ecs_service(env, params)
    cluster = _name(_ecs_cluster(env, params))
    arns = [
        t if t.startswith("arn:") else env.arn("ecs", f"task-set/{cluster}/{_name(service)}/{t}")
        for t in params.get("taskSets") or []
    ]
    # No taskSets: ECS refuses the call (InvalidParameterException) before any task set is authorized; the
    # service ARN stands for it so that an unauthorized caller still hears AccessDenied first.
    return [Request("ecs:DescribeTaskSets", arn, _ecs_context(env, params, service)) for arn in arns or [service]]


def _ecs_describe_tasks(env: Env, params: Mapping[str, Any]) -> list[Request]:
    cluster = _ecs_cluster(env, params)
    arns = [t if t.startswith("arn:") else env.arn("ecs", f"task/{_name(cluster)}/{t}") for t in params["tasks"]]
    return [Request("ecs:DescribeTasks", arn, {"ecs:cluster": cluster}) for arn in arns]


_TASK_ROLE_FIELDS = ("taskRoleArn", "executionRoleArn")


def _ecs_register_task_definition(env: Env, params: Mapping[str, Any]) -> list[Request]:
    family = params["family"]
    arn = env.arn("ecs", f"task-definition/{family}:{env.lookup.next_task_definition_revision(family)}")
    tags = {t["key"]: t["value"] for t in params.get("tags") or []}
    tag_context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    requests = [Request("ecs:RegisterTaskDefinition", arn, tag_context)]
    if tags:  # tagging on create needs ecs:TagResource too (with ecs:CreateAction)
        requests.append(Request("ecs:TagResource", arn, {**tag_context, "ecs:CreateAction": "RegisterTaskDefinition"}))
    for role in sorted({params[f] for f in _TASK_ROLE_FIELDS if params.get(f)}):
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
    return requests


def _star(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    """Actions that support no resource-level permissions: AWS authorizes them on "*"."""
    return lambda env, params: [Request(action, "*")]


def _ecr_repositories(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        names = params.get("repositoryNames") or ([params["repositoryName"]] if "repositoryName" in params else ["*"])
        account = params.get("registryId") or env.account
        return [Request(action, f"arn:{env.partition}:ecr:{env.region}:{account}:repository/{n}") for n in names]

    return build


def _alarms(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        names = params.get("AlarmNames") or [f"{params.get('AlarmNamePrefix', '')}*"]
        return [Request(action, env.arn("cloudwatch", f"alarm:{n}")) for n in names]

    return build


# Each action of a TransactWriteItems is authorized as its own operation (DynamoDB developer guide, "Using IAM
# with DynamoDB transactions"): a ConditionCheck needs dynamodb:ConditionCheckItem.
_TRANSACT_ACTIONS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}


def _dynamodb_transact_write(env: Env, params: Mapping[str, Any]) -> list[Request]:
    requests = []
    for item in params["TransactItems"]:
        ((kind, action),) = item.items()
        requests.extend(_dynamodb(_TRANSACT_ACTIONS[kind])(env, action))
    return requests


def _ssm_parameter(name: str, env: Env) -> str:
    return env.arn("ssm", f"parameter{name}" if name.startswith("/") else f"parameter/{name}")


def _dynamodb(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        table = params["TableName"]
        arn = table if table.startswith("arn:") else env.arn("dynamodb", f"table/{table}")
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return [Request(action, arn)]

    return build


def _task_token(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    return lambda env, params: [Request(action, env.lookup.state_machine_of_task_token(params["taskToken"]))]


def _put_events(env: Env, params: Mapping[str, Any]) -> list[Request]:
    """PutEvents is authorized on each entry's event bus (the default bus when an entry names none)."""
    buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries") or []}
    return [
        Request("events:PutEvents", bus if bus.startswith("arn:") else env.arn("events", f"event-bus/{bus}"))
        for bus in sorted(buses)
    ]


def _lambda_function(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    """A function by name, partial or full ARN (a qualifier after the name is dropped)."""

    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        name = str(params["FunctionName"]).split(":function:")[-1].split(":")[0]
        return [Request(action, env.arn("lambda", f"function:{name}"))]

    return build


def _ecs_run_task(env: Env, params: Mapping[str, Any]) -> list[Request]:
    """RunTask is authorized on the task definition, with ecs:cluster; it passes the definition's roles."""
    definition = params["taskDefinition"]
    if not definition.startswith("arn:"):
        definition = env.arn("ecs", f"task-definition/{definition}")
    requests = [Request("ecs:RunTask", definition, {"ecs:cluster": _ecs_cluster(env, params)})]
    for role in env.lookup.task_definition_roles(definition):
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
    return requests


def _ecs_tasks(action: str) -> Callable[[Env, Mapping[str, Any]], list[Request]]:
    """DescribeTasks / StopTask on each task's ARN, with ecs:cluster."""

    def build(env: Env, params: Mapping[str, Any]) -> list[Request]:
        cluster = _ecs_cluster(env, params)
        tasks = params.get("tasks") or [params["task"]]
        arns = [t if t.startswith("arn:") else env.arn("ecs", f"task/{_name(cluster)}/{t}") for t in tasks]
        return [Request(action, arn, {"ecs:cluster": cluster}) for arn in arns]

    return build


# (botocore service name, operation) -> the authorizations AWS makes for it.
REQUESTS: dict[tuple[str, str], Callable[[Env, Mapping[str, Any]], list[Request]]] = {
    ("ecs", "DescribeServices"): _ecs_describe_services,
    ("ecs", "DescribeTaskSets"): _ecs_describe_task_sets,
    ("ecs", "CreateTaskSet"): _ecs_service_request("ecs:CreateTaskSet"),
    ("ecs", "UpdateTaskSet"): _ecs_service_request("ecs:UpdateTaskSet"),
    ("ecs", "UpdateServicePrimaryTaskSet"): _ecs_service_request("ecs:UpdateServicePrimaryTaskSet"),
    ("ecs", "DeleteTaskSet"): _ecs_delete_task_set,
    ("ecs", "DescribeTaskDefinition"): _star("ecs:DescribeTaskDefinition"),
    ("ecs", "ListTasks"): _ecs_list_tasks,
    ("ecs", "DescribeTasks"): _ecs_describe_tasks,
    ("ecs", "RegisterTaskDefinition"): _ecs_register_task_definition,
    ("elbv2", "DescribeRules"): _star("elasticloadbalancing:DescribeRules"),
    ("elbv2", "DescribeTargetHealth"): _star("elasticloadbalancing:DescribeTargetHealth"),
    ("elbv2", "ModifyRule"): lambda env, p: [Request("elasticloadbalancing:ModifyRule", p["RuleArn"])],
    # Listener routes (DescribeListeners, like every ELB Describe*, authorizes no resource)
    ("elbv2", "DescribeListeners"): _star("elasticloadbalancing:DescribeListeners"),
    ("elbv2", "DescribeLoadBalancers"): _star("elasticloadbalancing:DescribeLoadBalancers"),  # Probes
    ("elbv2", "ModifyListener"): lambda env, p: [Request("elasticloadbalancing:ModifyListener", p["ListenerArn"])],
    # The NLB zone check (its zones, cross-zone settings; DescribeLoadBalancers above)
    ("elbv2", "DescribeLoadBalancerAttributes"): _star("elasticloadbalancing:DescribeLoadBalancerAttributes"),
    ("elbv2", "DescribeTargetGroupAttributes"): _star("elasticloadbalancing:DescribeTargetGroupAttributes"),
    ("ecr", "DescribeImages"): _ecr_repositories("ecr:DescribeImages"),
    ("ecr", "DescribeRepositories"): _ecr_repositories("ecr:DescribeRepositories"),
    ("cloudwatch", "DescribeAlarms"): _alarms("cloudwatch:DescribeAlarms"),
    # The built-in analysis alarm (its ARN carries the name) and the metrics it reads
    ("cloudwatch", "PutMetricAlarm"): lambda env, p: [
        Request("cloudwatch:PutMetricAlarm", env.arn("cloudwatch", f"alarm:{p['AlarmName']}"))
    ],
    ("cloudwatch", "DeleteAlarms"): _alarms("cloudwatch:DeleteAlarms"),
    ("cloudwatch", "GetMetricData"): _star("cloudwatch:GetMetricData"),
    ("ssm", "GetParameter"): lambda env, p: [Request("ssm:GetParameter", _ssm_parameter(p["Name"], env))],
    ("ssm", "GetParametersByPath"): lambda env, p: [Request("ssm:GetParametersByPath", _ssm_parameter(p["Path"], env))],
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("dynamodb:Query"),
    ("dynamodb", "TransactWriteItems"): _dynamodb_transact_write,  # Gates open only while running
    ("stepfunctions", "DescribeExecution"): lambda env, p: [Request("states:DescribeExecution", p["executionArn"])],
    ("stepfunctions", "StopExecution"): lambda env, p: [Request("states:StopExecution", p["executionArn"])],
    ("stepfunctions", "StartExecution"): lambda env, p: [Request("states:StartExecution", p["stateMachineArn"])],
    ("stepfunctions", "SendTaskSuccess"): _task_token("states:SendTaskSuccess"),
    ("stepfunctions", "SendTaskFailure"): _task_token("states:SendTaskFailure"),
    ("stepfunctions", "SendTaskHeartbeat"): _task_token("states:SendTaskHeartbeat"),
    ("ecs", "RunTask"): _ecs_run_task,  # EcsTask hooks
    ("ecs", "StopTask"): _ecs_tasks("ecs:StopTask"),
    ("lambda", "GetFunctionConfiguration"): _lambda_function("lambda:GetFunctionConfiguration"),
    ("lambda", "Invoke"): lambda env, p: [
        Request(
            "lambda:InvokeFunction",
            p["FunctionName"]
            if p["FunctionName"].startswith("arn:")
            else env.arn("lambda", f"function:{p['FunctionName']}"),
        )
    ],
    ("events", "PutEvents"): _put_events,  # Deployment events
    ("secretsmanager", "GetSecretValue"): lambda env, p: [
        Request("secretsmanager:GetSecretValue", env.lookup.secret_arn(p["SecretId"]))
    ],
}

# JSON-protocol services answer AccessDeniedException; the query-protocol ones (ELB, CloudWatch) AccessDenied.
_QUERY_PROTOCOL = {"elbv2", "cloudwatch", "iam", "sts", "sns"}


def requests_for(service: str, operation: str, params: Mapping[str, Any], env: Env) -> list[Request]:
    builder = REQUESTS.get((service, operation))
    if builder is None:
        raise UnmodelledOperation(
            f"{service}:{operation} is not in the emulator's IAM table (emulator/bluegreen_emulator/iam.py REQUESTS): "
            "add how AWS authorizes it"
        )
    return builder(env, params)


def denied(service: str, operation: str, request: Request, principal: str) -> ClientError:
    """The error AWS returns for a call the caller's policies do not allow."""
    code = "AccessDenied" if service in _QUERY_PROTOCOL else "AccessDeniedException"
    message = (
        f"User: {principal} is not authorized to perform: {request.action} on resource: {request.resource} "
        f"because no identity-based policy allows the {request.action} action"
    )
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return ClientError(response, operation)


def first_denied(policy: Policy, requests: list[Request]) -> Request | None:
    return next((r for r in requests if not is_allowed(policy, r)), None)


# --- enforcement --------------------------------------------------------------------------


@dataclass
class Denial:
    principal: str  # the function (or state machine) logical id
    operation: str
    request: Request


@dataclass
class Authorizer:
    """Checks each call of a function against its policy; keeps every denial for tests to read."""

    policies: dict[str, Policy]
    env: Env
    role_prefix: str = "bluegreen"
    denials: list[Denial] = field(default_factory=list)

    def principal(self, logical_id: str) -> str:
        role = f"{self.role_prefix}-{logical_id}Role"
        return f"arn:{self.env.partition}:sts::{self.env.account}:assumed-role/{role}/{self.role_prefix}-{logical_id}"

    def check(self, logical_id: str, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Raise the service's access-denied ``ClientError`` unless ``logical_id``'s policy allows the call."""
        request = first_denied(self.policies[logical_id], requests_for(service, operation, params, self.env))
        if request is not None:
            self.denials.append(Denial(logical_id, operation, request))
            raise denied(service, operation, request, self.principal(logical_id))

    def allows(self, logical_id: str, request: Request) -> bool:
        allowed = is_allowed(self.policies[logical_id], request)
        if not allowed:
            self.denials.append(Denial(logical_id, request.action.split(":", 1)[1], request))
        return allowed
