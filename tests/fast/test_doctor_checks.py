"""The checks of ``bluegreen doctor``: pure functions over ServiceFacts, driven by tables of fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bluegreen_cli.doctor import (
    Account,
    AlarmFacts,
    HookFacts,
    ImageFacts,
    Permission,
    PermissionResult,
    RouteFacts,
    ServiceFacts,
    TargetGroupFacts,
    Workload,
    exit_status,
    required_permissions,
    run_checks,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1"
GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2"
PROD = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3"
TEST = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/4"
ROLE = "arn:aws:iam::123456789012:role/stack-SwapFunctionRole"


def healthy_service(**changes: object) -> ServiceFacts:
    """A service every check passes on; ``changes`` replace fields."""
    facts = ServiceFacts(
        service="web",
        cluster="prod",
        deploymentController="EXTERNAL",
        taskSets=["PRIMARY"],
        targetGroupArns=[BLUE, GREEN],
        healthWaitTimeoutSeconds=300,
        bakeSeconds=600,
        routes=[
            RouteFacts(arn=PROD, role="production", targetGroups={BLUE: 1}),
            RouteFacts(arn=TEST, role="test", targetGroups={GREEN: 1}),
        ],
        targetGroups=[
            TargetGroupFacts(arn=arn, intervalSeconds=10, healthyThreshold=2, deregistrationDelaySeconds=30)
            for arn in (BLUE, GREEN)
        ],
        alarms=[AlarmFacts(name="web-5xx", state="OK", stateSince=NOW - timedelta(days=3))],
        hooks=[HookFacts(functionArn="arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-smoke")],
        images=[ImageFacts(repository="web", reference="sha256:abc")],
        permissions=[
            PermissionResult(
                permission=Permission(function="SwapFunction", action="elasticloadbalancing:ModifyRule", resource=PROD),
                role=ROLE,
            )
        ],
        now=NOW,
    )
    return facts.model_copy(update=changes)


def results(facts: ServiceFacts) -> dict[str, str]:
    return {check.name: check.result for check in run_checks(facts)}


def test_a_healthy_service_passes_every_check() -> None:
    checks = run_checks(healthy_service())
    assert {c.result for c in checks} == {"PASS"}
    assert exit_status(checks) == 0
    assert len(checks) == 11


STICKY = [
    RouteFacts(arn=PROD, role="production", targetGroups={BLUE: 1}, stickiness=True, stickinessSeconds=3600),
    RouteFacts(arn=TEST, role="test", targetGroups={GREEN: 1}),
]
STICKY_TEST_ONLY = [
    RouteFacts(arn=PROD, role="production", targetGroups={BLUE: 1}),
    RouteFacts(arn=TEST, role="test", targetGroups={GREEN: 1}, stickiness=True),
]
SLOW_GROUP = [TargetGroupFacts(arn=BLUE, intervalSeconds=60, healthyThreshold=5, deregistrationDelaySeconds=30)]
LONG_DRAIN = [TargetGroupFacts(arn=BLUE, intervalSeconds=10, healthyThreshold=2, deregistrationDelaySeconds=900)]


@pytest.mark.parametrize(
    ("changes", "check", "result", "words"),
    [
        ({"deploymentController": "ECS"}, "deployment controller", "FAIL", "bluegreen adopt"),
        ({"deploymentController": "CODE_DEPLOY"}, "deployment controller", "FAIL", "CODE_DEPLOY"),
        ({"taskSets": ["PRIMARY", "ACTIVE", "DRAINING", "DRAINING", "DRAINING"]}, "task sets", "FAIL", "DRAINING"),
        ({"taskSets": ["PRIMARY", "DRAINING", "DRAINING", "DRAINING"]}, "task sets", "WARN", "4 task sets"),
        ({"routes": STICKY}, "stickiness lb/1/2/3", "FAIL", "whatever the weights"),
        (
            {"routes": [RouteFacts(arn=PROD, role="production", exists=False, error="Route gone")]},
            "production route lb/1/2/3",
            "FAIL",
            "Route gone",
        ),
        (
            {"routes": [RouteFacts(arn=PROD, role="production", targetGroups={"arn:other": 1})]},
            "production route lb/1/2/3",
            "FAIL",
            "not the configured target groups",
        ),
        ({"targetGroups": SLOW_GROUP}, "target group web-a/1", "FAIL", "300 s, not before healthWaitTimeoutSeconds"),
        ({"targetGroups": LONG_DRAIN}, "target group web-a/1", "WARN", "longer than the bake"),
        ({"targetGroups": [TargetGroupFacts(arn=BLUE, exists=False)]}, "target group web-a/1", "FAIL", "not exist"),
        ({"alarms": [AlarmFacts(name="web-5xx", exists=False)]}, "alarm web-5xx", "FAIL", "does not exist"),
        (
            {"alarms": [AlarmFacts(name="web-5xx", state="INSUFFICIENT_DATA", stateSince=NOW - timedelta(days=2))]},
            "alarm web-5xx",
            "FAIL",
            "gets no data",
        ),
        (
            {"alarms": [AlarmFacts(name="web-5xx", state="INSUFFICIENT_DATA", stateSince=NOW - timedelta(minutes=5))]},
            "alarm web-5xx",
            "WARN",
            "yet",
        ),
        ({"alarms": [AlarmFacts(name="web-5xx", state="ALARM", stateSince=NOW)]}, "alarm web-5xx", "PASS", "ALARM"),
        (
            {"hooks": [HookFacts(functionArn="arn:aws:lambda:us-east-1:1:function:gone", exists=False)]},
            "hook function:gone",
            "FAIL",
            "does not exist",
        ),
        ({"images": [ImageFacts(repository="web", reference="v1", found=False)]}, "image web", "FAIL", "not in ECR"),
        (
            {"images": [ImageFacts(repository="web", reference="v1", repositoryExists=False, found=False)]},
            "image web",
            "FAIL",
            "repository web does not exist",
        ),
    ],
)
def test_each_problem_is_reported_with_a_fix(changes: dict, check: str, result: str, words: str) -> None:
    # Given a service with one problem, when it is checked
    checks = {c.name: c for c in run_checks(healthy_service(**changes))}
    # Then that check says so, with how to fix it, and the exit status follows
    assert checks[check].result == result, checks[check]
    assert words in checks[check].detail + checks[check].fix
    if result == "FAIL":
        assert checks[check].fix
    assert exit_status(list(checks.values())) == (1 if result == "FAIL" else 0)


def test_stickiness_on_the_test_route_is_not_a_failure() -> None:
    # The test route carries no production traffic: only production stickiness defeats the switch
    assert "FAIL" not in results(healthy_service(routes=STICKY_TEST_ONLY)).values()


def test_a_missing_service_is_the_only_check() -> None:
    checks = run_checks(healthy_service(exists=False))
    assert [(c.name, c.result) for c in checks] == [("deployment controller", "FAIL")]


@pytest.mark.parametrize(
    ("result", "expected", "words"),
    [
        (
            PermissionResult(permission=Permission(function="SwapFunction", action="a:B", resource="*")),
            "FAIL",
            "not found in the stack",
        ),
        (
            PermissionResult(
                permission=Permission(function="SwapFunction", action="a:B", resource="*"),
                role=ROLE,
                decision="implicitDeny",
            ),
            "FAIL",
            "implicitDeny",
        ),
        (
            PermissionResult(
                permission=Permission(function="SwapFunction", action="a:B", resource="*"),
                role=ROLE,
                decision="explicitDeny",
            ),
            "FAIL",
            "explicitDeny",
        ),
        (
            PermissionResult(
                permission=Permission(function="SwapFunction", action="a:B", resource="*"),
                role=ROLE,
                decision="error",
                error="AccessDenied",
            ),
            "FAIL",
            "SimulatePrincipalPolicy",
        ),
    ],
)
def test_permission_results(result: PermissionResult, expected: str, words: str) -> None:
    (check,) = [c for c in run_checks(healthy_service(permissions=[result])) if c.name.startswith("IAM ")]
    assert check.result == expected
    assert words in check.detail + check.fix


ACCOUNT = Account(region="us-east-1", account="123456789012")
WORKLOAD = Workload(
    taskDefinitionFamily="web",
    nextRevision=8,
    taskRoles=["arn:aws:iam::123456789012:role/web-task"],
    parameterName="/bluegreen/services/web",
    lambdaHooks=["arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-smoke"],
    routes={PROD: "rule", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/nlb/1/2": "listener"},
)


def _needed() -> dict[tuple[str, str], list[Permission]]:
    table: dict[tuple[str, str], list[Permission]] = {}
    for permission in required_permissions(ACCOUNT, "prod", "web", ["web"], ["web-5xx"], WORKLOAD):
        table.setdefault((permission.function, permission.action), []).append(permission)
    return table


def test_list_tasks_is_simulated_on_star_with_the_cluster() -> None:
    # AWS authorizes ListTasks without containerInstance on "*"; the workflow's scope is the ecs:cluster key
    (permission,) = _needed()[("CheckHealthFunction", "ecs:ListTasks")]
    assert permission.resource == "*"
    assert permission.context == {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod"}


def test_the_simulated_resources_are_the_workflows_exact_arns() -> None:
    needed = _needed()
    (register,) = needed[("CreateGreenFunction", "ecs:RegisterTaskDefinition")]
    assert register.resource == "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"
    (pass_role,) = needed[("CreateGreenFunction", "iam:PassRole")]
    assert pass_role.context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    (primary,) = needed[("SwapFunction", "ecs:UpdateServicePrimaryTaskSet")]
    assert primary.context["ecs:service"] == "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
    assert [p.resource for p in needed[("SwapFunction", "elasticloadbalancing:ModifyRule")]] == [PROD]
    assert len(needed[("RollbackFunction", "elasticloadbalancing:ModifyListener")]) == 1
    assert needed[("RunHooksFunction", "lambda:InvokeFunction")][0].resource == WORKLOAD.lambdaHooks[0]
    assert needed[("ValidateFunction", "ssm:GetParameter")][0].resource.endswith(":parameter/bluegreen/services/web")


def test_every_simulated_action_is_in_the_inventory() -> None:
    # Given the inventory's authorizations, then doctor simulates only actions some row of it names
    from tests.fast import aws_inventory

    actions = {auth["action"] for row in aws_inventory.load_rows() for auth in row["authorizations"]}
    assert {action for _, action in _needed()} <= actions
