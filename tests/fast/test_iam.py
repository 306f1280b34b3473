"""The emulator's IAM evaluation (emulator/bluegreen_emulator/iam.py): pure, no moto, no AWS."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from samtranslator.yaml_helper import yaml_parse

from bluegreen_emulator import iam
from bluegreen_emulator.template import LOCAL_SCOPE, TEMPLATE_PATH

ACCOUNT, REGION = "123456789012", "us-east-1"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:bluegreen/slack-AbCdEf"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:bluegreen-deployment"
RULE_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/demo-alb/1/2/3"


class FakeLookup:
    def secret_arn(self, secret_id: str) -> str:
        return SECRET_ARN if secret_id == "bluegreen/slack" else f"arn:aws:secretsmanager:::secret:{secret_id}-x"

    def state_machine_of_task_token(self, task_token: str) -> str:
        return MACHINE_ARN

    def next_task_definition_revision(self, family: str) -> int:
        return 2


ENV = iam.Env("aws", REGION, ACCOUNT, FakeLookup())


def refs(**overrides: Any) -> dict[str, Any]:
    raw = yaml_parse(TEMPLATE_PATH.read_text())
    values: dict[str, Any] = {name: spec.get("Default") for name, spec in raw["Parameters"].items()}
    values.update(LOCAL_SCOPE)  # the required scoping parameters, as the emulator passes them
    values.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"})
    values.update(
        {"AWS::StackName": "bluegreen", "AWS::URLSuffix": "amazonaws.com", "SlackSecretName": "bluegreen/slack"}
    )
    values["DeploymentsTable"] = "bluegreen-DeploymentsTable"
    values["DeploymentsTable.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/bluegreen-DeploymentsTable"
    for logical_id, resource in raw["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            values[logical_id] = f"bluegreen-{logical_id}"
            values[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bluegreen-{logical_id}"
    values.update(overrides)
    return values


def authorizer(**overrides: Any) -> iam.Authorizer:
    raw = yaml_parse(TEMPLATE_PATH.read_text())
    return iam.Authorizer(policies=iam.template_policies(raw, refs(**overrides)), env=ENV)


def policy(*statements: dict[str, Any]) -> iam.Policy:
    return iam.parse_policy({"Statement": list(statements)})


# --- evaluation -----------------------------------------------------------------------------


def test_wildcards_match_actions_case_insensitively_and_arns_case_sensitively() -> None:
    # Given a statement with wildcards in the action and the resource
    p = policy({"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "arn:aws:ecs:*:*:service/prod-?/*"})
    # Then the action matches in any case, the resource only as written, ``?`` one character
    assert iam.is_allowed(p, iam.Request("ECS:describeservices", "arn:aws:ecs:r:1:service/prod-a/web"))
    assert not iam.is_allowed(p, iam.Request("ecs:DescribeServices", "arn:aws:ecs:r:1:service/PROD-a/web"))
    assert not iam.is_allowed(p, iam.Request("ecs:DescribeServices", "arn:aws:ecs:r:1:service/prod-ab/web"))
    assert not iam.is_allowed(p, iam.Request("ecs:CreateTaskSet", "arn:aws:ecs:r:1:service/prod-a/web"))


def test_an_explicit_deny_wins_over_an_allow() -> None:
    # Given an Allow on everything and a Deny on one action
    p = policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ecs:DeleteTaskSet", "Resource": "*"},
    )
    # Then the denied action is refused, the others allowed
    assert not iam.is_allowed(p, iam.Request("ecs:DeleteTaskSet", "arn:x"))
    assert iam.is_allowed(p, iam.Request("ecs:DescribeTaskSets", "arn:x"))


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "allowed"),
    [
        ("StringEquals", "ecs-tasks.amazonaws.com", {"iam:PassedToService": "ecs-tasks.amazonaws.com"}, True),
        ("StringEquals", "ecs-tasks.amazonaws.com", {"iam:PassedToService": "lambda.amazonaws.com"}, False),
        ("StringEquals", "ecs-tasks.amazonaws.com", {}, False),  # a missing key never matches
        ("StringLike", "arn:aws:ecs:*:service/prod/*", {"ecs:service": "arn:aws:ecs:r:1:service/prod/web"}, True),
        ("StringLike", "arn:aws:ecs:*:service/prod/*", {"ecs:service": "arn:aws:ecs:r:1:service/dev/web"}, False),
        ("StringNotEquals", "x", {}, True),
        ("StringEqualsIfExists", "x", {}, True),
        ("ArnLike", "arn:aws:ecs:*:cluster/prod", {"ecs:cluster": "arn:aws:ecs:r:1:cluster/prod"}, True),
    ],
)
def test_conditions(operator: str, wanted: str, context: dict[str, str], allowed: bool) -> None:
    # Given an Allow with one condition
    key = next(iter(context), "iam:PassedToService")
    p = policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {key: wanted}}})
    # Then the request is allowed exactly when the condition holds
    assert iam.is_allowed(p, iam.Request("iam:PassRole", "arn:x", context)) is allowed


def test_an_unknown_condition_operator_fails_loudly() -> None:
    p = policy({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateGreaterThan": {"k": "v"}}})
    with pytest.raises(ValueError, match="DateGreaterThan"):
        iam.is_allowed(p, iam.Request("a:B", "arn:x"))


def test_sub_ref_and_getatt_resolve_against_the_emulator_values() -> None:
    values = {"AWS::Region": "us-east-1", "Name": "web", "Table.Arn": "arn:t"}
    assert iam.resolve({"Fn::Sub": "a:${AWS::Region}:${Name}:${!Literal}"}, values) == "a:us-east-1:web:${Literal}"
    assert iam.resolve({"Fn::Sub": ["${X}-${Name}", {"X": {"Ref": "Name"}}]}, values) == "web-web"
    assert iam.resolve({"Fn::GetAtt": ["Table", "Arn"]}, values) == "arn:t"
    assert iam.resolve({"Fn::GetAtt": "Table.Arn"}, values) == "arn:t"
    with pytest.raises(KeyError):
        iam.resolve({"Fn::Sub": "${Unknown}"}, values)


# --- the template's policies -------------------------------------------------------------------


def test_every_function_that_posts_to_slack_may_read_the_slack_secret() -> None:
    # Given the template's policies, with the stack's Slack secret
    auth = authorizer()
    # When each function that posts to Slack reads the secret (Swap posts the canary/linear milestones)
    posting = [
        "ValidateFunction",
        "SwapFunction",
        "BakeFunction",
        "OpenGateFunction",
        "DeleteOldFunction",
        "CleanupFunction",
        "RollbackFunction",
        "SlackCallbackFunction",
    ]
    for function in posting:
        auth.check(function, "secretsmanager", "GetSecretValue", {"SecretId": "bluegreen/slack"})
    # Then none is denied, and a function that posts nothing may not read it
    assert auth.denials == []
    with pytest.raises(ClientError) as raised:
        auth.check("CheckHealthFunction", "secretsmanager", "GetSecretValue", {"SecretId": "bluegreen/slack"})
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    # ... nor another secret
    with pytest.raises(ClientError):
        auth.check("SwapFunction", "secretsmanager", "GetSecretValue", {"SecretId": "prod/db"})


def test_register_task_definition_checks_the_family_the_tags_and_the_passed_roles() -> None:
    # Given a stack limited to the "web" family and "web-*" task roles
    auth = authorizer(TaskDefinitionFamilyPattern="web", TaskRoleNamePattern="web-*")
    params = {
        "family": "web",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/web-execution",
        "containerDefinitions": [],
        "tags": [{"key": "bluegreen:image", "value": "v2"}],
    }
    # When CreateGreen registers a revision of "web" with tags and a role of the pattern: allowed
    auth.check("CreateGreenFunction", "ecs", "RegisterTaskDefinition", params)
    requests = iam.requests_for("ecs", "RegisterTaskDefinition", params, ENV)
    assert [r.action for r in requests] == ["ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"]
    assert requests[0].resource == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2"
    # Then another family, or a role outside the pattern, is refused as AWS would
    with pytest.raises(ClientError, match="ecs:RegisterTaskDefinition"):
        auth.check("CreateGreenFunction", "ecs", "RegisterTaskDefinition", {**params, "family": "billing"})
    with pytest.raises(ClientError, match="iam:PassRole"):
        auth.check(
            "CreateGreenFunction",
            "ecs",
            "RegisterTaskDefinition",
            {**params, "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/admin"},
        )


def test_modify_rule_is_limited_to_the_configured_load_balancer_and_to_the_functions_that_switch_traffic() -> None:
    auth = authorizer(LoadBalancerName="demo-alb")
    auth.check("SwapFunction", "elbv2", "ModifyRule", {"RuleArn": RULE_ARN, "Actions": []})
    auth.check("RollbackFunction", "elbv2", "ModifyRule", {"RuleArn": RULE_ARN, "Actions": []})
    other = RULE_ARN.replace("demo-alb", "other-alb")
    with pytest.raises(ClientError) as raised:
        auth.check("SwapFunction", "elbv2", "ModifyRule", {"RuleArn": other, "Actions": []})
    assert raised.value.response["Error"]["Code"] == "AccessDenied"  # ELB's query protocol code
    with pytest.raises(ClientError):
        auth.check("CreateGreenFunction", "elbv2", "ModifyRule", {"RuleArn": RULE_ARN, "Actions": []})
    assert [d.principal for d in auth.denials] == ["SwapFunction", "CreateGreenFunction"]


def test_ecs_calls_are_scoped_to_the_configured_cluster() -> None:
    auth = authorizer(EcsClusterName="prod")
    params = {"cluster": "prod", "service": "web", "taskSet": "ecs-svc/1", "force": True}
    auth.check("DeleteOldFunction", "ecs", "DeleteTaskSet", params)
    with pytest.raises(ClientError):
        auth.check("DeleteOldFunction", "ecs", "DeleteTaskSet", {**params, "cluster": "dev"})
    with pytest.raises(ClientError):  # CheckHealth only reads
        auth.check("CheckHealthFunction", "ecs", "DeleteTaskSet", params)


def test_the_state_machine_may_invoke_its_functions_only() -> None:
    auth = authorizer()
    swap = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bluegreen-SwapFunction"
    assert auth.allows("DeploymentStateMachine", iam.Request("lambda:InvokeFunction", swap))
    other = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:somebody-else"
    assert not auth.allows("DeploymentStateMachine", iam.Request("lambda:InvokeFunction", other))


def test_an_operation_missing_from_the_table_fails_loudly() -> None:
    with pytest.raises(iam.UnmodelledOperation, match="ecs:DeleteService"):
        iam.requests_for("ecs", "DeleteService", {"service": "web"}, ENV)
