"""The AWS calls of the hooks (thin helpers; the verdicts are in :mod:`bluegreen.domain.hooks`)."""

from __future__ import annotations

import functools
import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.aws.clients import BOTO_CONFIG, error_code, is_transient, transient_errors
from bluegreen.aws.routes import kind_of
from bluegreen.domain.errors import HookFunctionNotFound, TransientAwsError
from bluegreen.domain.hooks import MAX_HOOK_SECONDS, HooksConfig, LambdaHook


@functools.cache
def get_lambda_client() -> Any:
    # A synchronous invoke waits for the function (a probe or a hook), up to a hook's longest timeout.
    return boto3.session.Session().client(
        "lambda", config=BOTO_CONFIG.merge(Config(read_timeout=MAX_HOOK_SECONDS + 30))
    )


def invoke(client: Any, function_arn: str, payload: dict[str, Any]) -> tuple[bytes, str | None]:
    """Invoke synchronously: ``(response payload, FunctionError or None)``; an API refusal is a function error."""
    try:
        response = client.invoke(FunctionName=function_arn, Payload=json.dumps(payload).encode())
    except ClientError as error:
        if is_transient(error):
            raise TransientAwsError(f"Invoking hook {function_arn} failed transiently: {error}") from error
        return str(error).encode(), error_code(error)
    return response["Payload"].read(), response.get("FunctionError")


def check_functions(client: Any, hooks: HooksConfig) -> None:
    """Every hook function exists (GetFunctionConfiguration, which the stack may call on that pattern)."""
    for arn in sorted({hook.functionArn for hook in hooks.all() if isinstance(hook, LambdaHook)}):
        try:
            client.get_function_configuration(FunctionName=arn)
        except ClientError as error:
            if is_transient(error):
                raise TransientAwsError(f"Looking up hook function {arn} failed transiently: {error}") from error
            raise HookFunctionNotFound(
                f"Hook function {arn} cannot be found ({error_code(error)}). Deploy it, or fix functionArn in "
                f"the service configuration's hooks."
            ) from error


# --- ECS one-off task hooks ----------------------------------------------------------------------
HOOK_STARTED_BY = "bluegreen-hook"  # RunTask's startedBy: find (and stop) the tasks hooks started
HOOK_GROUP_PREFIX = "bluegreen:"  # RunTask's group: the execution whose hook started the task


def task_group(execution_name: str) -> str:
    """The ``group`` of the one-off tasks an execution's hooks start (at most 255 characters)."""
    return f"{HOOK_GROUP_PREFIX}{execution_name}"[:255]


def stop_hook_tasks(ecs: Any, cluster: str, execution_name: str, reason: str) -> list[str]:
    """Stop the one-off tasks this execution's ``ecsTask`` hooks started that still run (their ARNs).

    A hook's task outlives the invocation that started it (a timed-out or retried RunHooks, a hook failing, the
    execution ending): ListTasks by ``startedBy`` finds every such task of the cluster, DescribeTasks' ``group``
    tells this execution's apart.
    """
    group = task_group(execution_name)
    with transient_errors():
        arns: list[str] = []
        # "When you specify startedBy as the filter, it must be the only filter that you use"; the default desired
        # status is RUNNING (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html).
        for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, startedBy=HOOK_STARTED_BY):
            arns.extend(page.get("taskArns", []))
        stopped = []
        for start in range(0, len(arns), 100):  # DescribeTasks takes at most 100 tasks
            for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100]).get("tasks", []):
                if task.get("group") == group and task.get("lastStatus") != "STOPPED":
                    ecs.stop_task(cluster=cluster, task=task["taskArn"], reason=reason[:255])
                    stopped.append(str(task["taskArn"]))
    return stopped


def run_task(
    ecs: Any, cluster: str, task_set: dict[str, Any], container: str, command: list[str], group: str
) -> tuple[str | None, str]:
    """Run green's task definition once with ``command``: ``(task ARN, "")`` or ``(None, why it did not start)``."""
    arguments: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": task_set["taskDefinition"],
        "count": 1,
        "startedBy": HOOK_STARTED_BY,
        "group": group[:255],
        "overrides": {"containerOverrides": [{"name": container, "command": command}]},
    }
    if task_set.get("networkConfiguration"):
        arguments["networkConfiguration"] = task_set["networkConfiguration"]
    if task_set.get("capacityProviderStrategy"):
        arguments["capacityProviderStrategy"] = task_set["capacityProviderStrategy"]
    elif task_set.get("launchType"):
        arguments["launchType"] = task_set["launchType"]
    if task_set.get("platformVersion"):
        arguments["platformVersion"] = task_set["platformVersion"]
    try:
        response = ecs.run_task(**arguments)
    except ClientError as error:
        if is_transient(error):
            raise TransientAwsError(f"RunTask for a hook failed transiently: {error}") from error
        return None, f"RunTask refused: {error}"
    tasks = response.get("tasks") or []
    if not tasks:
        failures = response.get("failures") or [{}]
        return None, f"RunTask started no task: {failures[0].get('reason', 'no reason given')}"
    return tasks[0]["taskArn"], ""


def describe_task(ecs: Any, cluster: str, task_arn: str) -> dict[str, Any]:
    with_transient = ecs.describe_tasks(cluster=cluster, tasks=[task_arn]).get("tasks") or [{}]
    return dict(with_transient[0])


def stop_task(ecs: Any, cluster: str, task_arn: str, reason: str) -> None:
    ecs.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])


def log_stream(definition: dict[str, Any], container: str, task_arn: str) -> str | None:
    """The task's awslogs stream (``group:prefix/container/task-id``), if the container logs to CloudWatch."""
    containers: list[dict[str, Any]] = definition.get("containerDefinitions", [])
    spec = next((c for c in containers if c.get("name") == container), {})
    logging = spec.get("logConfiguration") or {}
    options = logging.get("options") or {}
    if logging.get("logDriver") != "awslogs" or "awslogs-stream-prefix" not in options:
        return None
    task_id = task_arn.rsplit("/", 1)[-1]
    return f"{options.get('awslogs-group', '?')}:{options['awslogs-stream-prefix']}/{container}/{task_id}"


# --- HTTP probe hooks ------------------------------------------------------------------------------
def listener_of(route_arn: str) -> str:
    """The listener ARN of a route (a listener rule's, or the listener itself)."""
    if kind_of(route_arn) == "listener":
        return route_arn
    prefix, path = route_arn.split(":listener-rule/", 1)
    return f"{prefix}:listener/{path.rsplit('/', 1)[0]}"


def listener_protocol_port(elbv2: Any, route_arn: str) -> tuple[str | None, int]:
    """``(protocol, port)`` of the listener the route is on."""
    with transient_errors():
        listener = elbv2.describe_listeners(ListenerArns=[listener_of(route_arn)])["Listeners"][0]
    return listener.get("Protocol"), int(listener["Port"])


def listener_endpoint(elbv2: Any, route_arn: str) -> tuple[str | None, str, int]:
    """``(protocol, load balancer DNS name, port)`` of the listener the route is on."""
    with transient_errors():
        listener = elbv2.describe_listeners(ListenerArns=[listener_of(route_arn)])["Listeners"][0]
        balancer = elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])["LoadBalancers"][0]
    return listener.get("Protocol"), balancer["DNSName"], int(listener["Port"])
