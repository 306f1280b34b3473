"""Helpers shared by the unit tests: build state-machine payloads, drive the steps, read AWS state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.aws import elbv2
from bluegreen.aws.store import Store
from bluegreen.deps import Deps
from bluegreen.domain.errors import GreenNotHealthyYet
from bluegreen.domain.models import (
    CleanupEvent,
    DeploymentContext,
    GreenEvent,
    GreenTaskSet,
    HealthReport,
    StepEvent,
    SwapResult,
    ValidateEvent,
)
from bluegreen.slack.notify import NullNotifier
from bluegreen.steps import check_health, cleanup, create_green, delete_old, rollback, swap, validate

EXECUTION_NAME = "deploy-demo-web-v2-0001"
EXECUTION_ARN = f"arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:{EXECUTION_NAME}"

TABLE_NAME = "bluegreen-deployments"
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
# The workflow's own bookkeeping (deployment lock, gates); not part of the deployed service.
BOOKKEEPING_SERVICES = ("dynamodb",)


# --- payloads the state machine sends to the handlers ----------------------------------
def validate_payload(execution_input: Any, name: str = EXECUTION_NAME) -> dict[str, Any]:
    """What the Validate state's ``Parameters`` build: the raw input plus the execution's id and name."""
    arn = EXECUTION_ARN.rsplit(":", 1)[0] + f":{name}"
    return {"input": execution_input, "executionArn": arn, "executionName": name}


def state_data(
    context: DeploymentContext | None = None,
    green: GreenTaskSet | None = None,
    swap_result: SwapResult | None = None,
    error: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The whole state data as later states receive it (the execution input plus each state's ResultPath)."""
    data: dict[str, Any] = {
        "service": context.service if context else "demo-web",
        "imageTag": context.imageTag if context else "v2",
    }
    if context is not None:
        data["context"] = context.dump()
    if green is not None:
        data["green"] = green.dump()
    if swap_result is not None:
        data["swap"] = swap_result.dump()
    if error is not None:
        data["error"] = error
    data.update(extra)
    return data


def lambda_error(name: str, message: str) -> dict[str, Any]:
    """A Catch's ``$.error`` for a Lambda function error: the Cause is the Lambda error JSON."""
    cause = {"errorMessage": message, "errorType": name, "requestId": "8f5f2a6c", "stackTrace": ["  File ..."]}
    return {"Error": name, "Cause": json.dumps(cause)}


# --- driving the workflow step by step --------------------------------------------------
def elapse(world: Any, seconds: float, step: float = 5) -> None:
    """Let ``seconds`` of simulated time pass; the data plane reconciles every ``step`` seconds."""
    remaining = seconds
    while remaining > 0:
        world.advance(min(step, remaining))
        remaining -= step


def store_of(world: Any) -> Store:
    """The deployments table as the handlers see it (created by the ``store`` fixture)."""
    return Store(table=world.clients.dynamodb.Table(TABLE_NAME), sfn=world.clients.sfn)


def deps_of(world: Any) -> Deps:
    """What the steps use, on the test's moto account, without Slack."""
    return Deps(clients=world.clients, store=store_of(world), notifier=NullNotifier(), ssm=world.provider)


def run_validate(world: Any, tag: str = "v2", name: str = EXECUTION_NAME, **fields: Any) -> DeploymentContext:
    event = ValidateEvent.model_validate(validate_payload({"service": "demo-web", "imageTag": tag, **fields}, name))
    return validate.run(event, deps_of(world))


def run_create_green(world: Any, context: DeploymentContext) -> GreenTaskSet:
    return create_green.run(StepEvent.model_validate(state_data(context)), deps_of(world))


def wait_until_healthy(
    world: Any, context: DeploymentContext, green: GreenTaskSet, interval: float = 10, limit: float = 120
) -> HealthReport:
    """Poll CheckHealth every ``interval`` simulated seconds, as the state machine's Retry does."""
    waited = 0.0
    while True:
        try:
            return check_health.run(GreenEvent(context=context, green=green), deps_of(world))
        except GreenNotHealthyYet:
            if waited >= limit:
                raise
        elapse(world, interval)
        waited += interval


def run_swap(world: Any, context: DeploymentContext, green: GreenTaskSet) -> SwapResult:
    return swap.run(GreenEvent.model_validate(state_data(context, green)), deps_of(world))


def run_delete_old(world: Any, data: dict[str, Any]) -> Any:
    return delete_old.run(GreenEvent.model_validate(data), deps_of(world))


def run_cleanup(world: Any, data: dict[str, Any], execution_arn: str = EXECUTION_ARN) -> Any:
    request = CleanupEvent.model_validate({"state": data, "executionArn": execution_arn})
    return cleanup.run(request, deps_of(world))


def run_rollback(world: Any, data: dict[str, Any]) -> Any:
    return rollback.run(StepEvent.model_validate(data), deps_of(world))


@dataclass
class Deployment:
    """A deployment driven up to some state."""

    context: DeploymentContext
    green: GreenTaskSet | None = None
    swap: SwapResult | None = None

    def state(self, **extra: Any) -> dict[str, Any]:
        return state_data(self.context, self.green, self.swap, **extra)


def deploy_until_swapped(world: Any, tag: str = "v2", name: str = EXECUTION_NAME) -> Deployment:
    context = run_validate(world, tag, name)
    green = run_create_green(world, context)
    wait_until_healthy(world, context, green)
    return Deployment(context, green, run_swap(world, context, green))


# --- reading AWS state ------------------------------------------------------------------
def rule_actions(world: Any, rule_arn: str) -> list[dict[str, Any]]:
    return world.clients.elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]["Actions"]


def rule_weights(world: Any, rule_arn: str) -> dict[str, int]:
    return elbv2.forward_weights(rule_actions(world, rule_arn))


def production_weights(world: Any) -> dict[str, int]:
    return rule_weights(world, world.demo.production_rule_arn)


def task_sets(world: Any) -> list[dict[str, Any]]:
    """Every task set of the demo service that still runs (PRIMARY or ACTIVE)."""
    described = world.clients.ecs.describe_services(cluster=world.demo.cluster, services=[world.demo.name])
    return [ts for ts in described["services"][0]["taskSets"] if ts["status"] in ("PRIMARY", "ACTIVE")]


def task_set(world: Any, task_set_id: str) -> dict[str, Any] | None:
    return next((ts for ts in task_sets(world) if ts["id"] == task_set_id), None)


def task_set_summary(world: Any) -> list[tuple[str, str, str, str]]:
    """``(id, status, target group, externalId)`` of each live task set, sorted."""
    return sorted(
        (ts["id"], ts["status"], ts["loadBalancers"][0]["targetGroupArn"], ts.get("externalId", ""))
        for ts in task_sets(world)
    )


def task_definitions(world: Any) -> list[str]:
    return world.clients.ecs.list_task_definitions(familyPrefix=world.demo.name)["taskDefinitionArns"]


def aws_state(world: Any) -> dict[str, Any]:
    """What a user could observe of the demo service: rules, task sets, task definitions."""
    return {
        "production": rule_actions(world, world.demo.production_rule_arn),
        "test": rule_actions(world, world.demo.test_rule_arn),
        "taskSets": task_set_summary(world),
        "taskDefinitions": task_definitions(world),
    }


def add_task_set(world: Any, target_group_arn: str, external_id: str) -> dict[str, Any]:
    """Create a task set like blue's (same task definition and network) on another target group."""
    blue = task_set(world, world.demo.blue_task_set)
    return world.clients.ecs.create_task_set(
        cluster=world.demo.cluster,
        service=world.demo.name,
        taskDefinition=blue["taskDefinition"],
        externalId=external_id,
        launchType=blue["launchType"],
        networkConfiguration=blue["networkConfiguration"],
        loadBalancers=[{"targetGroupArn": target_group_arn, "containerName": "web", "containerPort": 8080}],
        scale={"unit": "PERCENT", "value": 100.0},
    )["taskSet"]


def put_config(world: Any, **changes: Any) -> dict[str, Any]:
    """Overwrite the demo service's configuration document in SSM."""
    config = {**world.demo.config, **changes}
    world.clients.ssm.put_parameter(
        Name="/bluegreen/services/demo-web", Value=json.dumps(config), Type="String", Overwrite=True
    )
    return config


def create_target_group(world: Any, name: str) -> str:
    return world.clients.elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=world.demo.extra["network"]["vpc"], TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]


def set_forward(world: Any, rule_arn: str, weights: dict[str, int]) -> None:
    world.clients.elbv2.modify_rule(
        RuleArn=rule_arn,
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in weights.items()]},
            }
        ],
    )


# --- recording (and failing) AWS API calls ----------------------------------------------
@dataclass
class ApiCall:
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class ApiRecorder:
    """Every AWS API call made through any boto3 client (the tests' and the handlers' cached ones)."""

    calls: list[ApiCall] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    block_all: bool = False

    def reset(self) -> None:
        self.calls.clear()

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def mutating(self) -> list[str]:
        """Calls that change the deployed service's resources (ECS, ELB, ECR, SSM, CloudWatch)."""
        return [
            c.operation
            for c in self.calls
            if c.service not in BOOKKEEPING_SERVICES and not c.operation.startswith(READ_ONLY_PREFIXES)
        ]

    def modify_rule_calls(self, rule_arn: str) -> list[ApiCall]:
        return [c for c in self.calls if c.operation == "ModifyRule" and c.params.get("RuleArn") == rule_arn]

    def fail(
        self, operation: str, code: str = "ThrottlingException", status: int = 400, times: int = 1, after: int = 0
    ) -> None:
        """Let ``after`` calls of ``operation`` through, then make the next ``times`` fail with ``code``."""
        self.failures.append({"operation": operation, "code": code, "status": status, "left": times, "skip": after})

    def before(self, call: ApiCall) -> None:
        if self.block_all:
            raise AssertionError(f"unexpected AWS call {call.service}:{call.operation}")
        for planned in self.failures:
            if planned["operation"] != call.operation or planned["left"] <= 0:
                continue
            if planned["skip"] > 0:
                planned["skip"] -= 1
                continue
            planned["left"] -= 1
            raise ClientError(
                {
                    "Error": {"Code": planned["code"], "Message": "injected by the test"},
                    "ResponseMetadata": {"HTTPStatusCode": planned["status"]},
                },
                call.operation,
            )
