"""The inventory of AWS calls (docs/aws-calls.yaml) is complete, cited, and agrees with template.yaml and with
AWS's authorization data (cfn-lint's copy). See tests/fast/aws_inventory.py for how the calls are found."""

from __future__ import annotations

from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.fast import aws_inventory as inventory

ROWS = inventory.load_rows()
TEMPLATE = yaml_parse((inventory.ROOT / "template.yaml").read_text(encoding="utf-8"))


def _authorizations() -> list[tuple[str, dict]]:
    return [(row["operation"], auth) for row in ROWS for auth in row["authorizations"]]


def test_every_call_the_code_makes_has_a_row() -> None:
    # Given the product's code and the inventory
    calls = inventory.scan()
    covered = inventory.row_operations(ROWS)
    # When each call site's operation is looked up
    missing = {name: sorted(entry["files"]) for name, entry in calls.items() if not entry["candidates"] & covered}
    # Then every one has a row
    assert not missing, f"add a row to docs/aws-calls.yaml for each of these calls: {missing}"
    assert len(calls) > 40  # the scan found the product's calls (not an empty tree)


def test_the_scan_sees_calls_hidden_behind_wrappers_and_paginators(tmp_path: Path) -> None:
    # Given code calling AWS through a paginator, Powertools and a client, and a product helper of the same name
    source = tmp_path / "sample.py"
    source.write_text(
        "def f(ecs, provider, parameters, elbv2):\n"
        "    ecs.get_paginator('list_tasks').paginate(cluster='c')\n"
        "    parameters.get_secret('s', transform='json')\n"
        "    provider.get('/p', decrypt=True)\n"
        "    elbv2.modify_rule(RuleArn='r', Actions=[])\n"
        "    {}.get('key')\n"
    )
    # When it is scanned
    found = inventory.scan([source])
    # Then each AWS operation is named, and dict.get is not one
    assert found["list_tasks"]["candidates"] == {("ecs", "ListTasks")}
    assert found["get_secret"]["candidates"] == {("secretsmanager", "GetSecretValue")}
    assert found["get"]["candidates"] == {("ssm", "GetParameter")}
    assert found["modify_rule"]["candidates"] == {("elbv2", "ModifyRule")}
    assert len(found) == 4


def test_a_product_helper_named_like_an_operation_is_not_a_call() -> None:
    # Given adopt.py, which calls bluegreen.aws.elbv2.describe_rule (a helper), never EventBridge's DescribeRule
    found = inventory.scan([inventory.ROOT / "cli" / "bluegreen_cli" / "adopt.py"])
    # Then the scan does not report DescribeRule
    assert "describe_rule" not in found


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["operation"])
def test_every_row_is_complete_and_cited(row: dict) -> None:
    # Given a row, then it names its callers, what it authorizes, what the code relies on and a citation
    assert row["callers"], "who calls it"
    assert row["authorizations"], "the IAM action(s) AWS authorizes for it"
    assert row["parameters"], "the parameters and answer fields the code relies on"
    assert row["errors"], "the errors it handles (or 'none')"
    assert row["citation"] and all(str(url).startswith("https://") for url in row["citation"])


def test_operation_names_are_real_botocore_operations() -> None:
    # Given the rows, when their operations are checked against botocore's service models
    known = {pair for pairs in inventory.operations().values() for pair in pairs}
    unknown = [
        row["operation"]
        for row in ROWS
        if not row["operation"].startswith("logs:(") and tuple(row["operation"].split(":", 1)) not in known
    ]
    # Then each is a real operation of a service the product uses
    assert not unknown


def _auth_id(value: object) -> str:
    return value if isinstance(value, str) else str(value["action"])  # type: ignore[index]


@pytest.mark.parametrize(("operation", "auth"), _authorizations(), ids=_auth_id)
def test_a_rows_resource_type_and_condition_keys_are_ones_aws_allows(operation: str, auth: dict) -> None:
    # Given one authorization of a row
    action = auth["action"]
    prefix = action.split(":", 1)[0]
    types = inventory.action_resource_types(action)
    # Then AWS's data knows the action
    assert types is not None, f"{operation}: {action} is not an action in AWS's authorization data"
    # and the resource type is one AWS lists for it ("*" is always allowed: the widest grant)
    if auth.get("dataGap"):
        assert inventory.resource_type(prefix, auth["resource"]), f"{auth['resource']} is no {prefix} resource type"
        assert "https://" in auth["dataGap"], "a departure from AWS's data needs a citation"
    elif auth["resource"] != "*":
        assert auth["resource"] in types, f"{operation}: {action} is authorized on {types}, not {auth['resource']}"
    # and its ARN has that resource type's format
    if auth.get("arn") and auth["resource"] != "*":
        assert inventory.arn_matches(prefix, [auth["resource"]], auth["arn"]), auth["arn"]
    # and each condition key is a global key, a key of the resource type, or an action-level key of the service
    # (cfn-lint's data carries resource-level condition keys only: action-level ones are checked by prefix)
    resource_keys = set((inventory.resource_type(prefix, auth["resource"]) or {}).get("ConditionKeys", []))
    for key in auth.get("conditionKeys") or []:
        assert key.startswith("aws:") or key in resource_keys or key.split(":", 1)[0] == prefix, key


def test_list_tasks_is_recorded_as_aws_authorizes_it() -> None:
    # Given the ListTasks row: AWS authorizes ListTasks without containerInstance on "*", scoped with ecs:cluster
    (row,) = [r for r in ROWS if r["operation"] == "ecs:ListTasks"]
    (auth,) = row["authorizations"]
    assert auth["resource"] == "*" and auth["conditionKeys"] == ["ecs:cluster"]
    assert any("aws-cdk/issues/3199" in url for url in row["citation"])


GRANTS = inventory.template_grants(TEMPLATE)


def test_the_template_grants_something() -> None:
    assert len(GRANTS) > 100


@pytest.mark.parametrize("grant", GRANTS, ids=lambda g: f"{g['owner']}:{g['action']}")
def test_every_template_action_is_a_rows_action_with_a_resource_aws_allows(grant: dict) -> None:
    # Given one action the template grants a function (or the state machine), then it agrees with the rows and
    # with AWS's authorization data
    assert inventory.grant_problems(grant, ROWS) == []


CLUSTER_ARN = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/${EcsClusterName}"
TASKS = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${EcsClusterName}/*"
INSTANCES = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:container-instance/${EcsClusterName}/*"


@pytest.mark.parametrize(
    ("grant", "problem"),
    [
        # ListTasks on "*" scoped with ecs:cluster (how AWS authorizes it) and on the instances both agree
        ({"action": "ecs:ListTasks", "resources": ["*"], "conditionKeys": ["ecs:cluster"]}, None),
        ({"action": "ecs:ListTasks", "resources": [INSTANCES, TASKS], "conditionKeys": []}, None),
        # ... but on task ARNs alone it is authorized on nothing AWS evaluates
        ({"action": "ecs:ListTasks", "resources": [TASKS], "conditionKeys": []}, "AWS authorizes it on"),
        ({"action": "ecs:ListTasks", "resources": ["*"], "conditionKeys": ["ecs:service"]}, "no row records"),
        ({"action": "ecs:ListTaskz", "resources": ["*"], "conditionKeys": []}, "no row"),
        ({"action": "ecs:CreateTaskSet", "resources": [CLUSTER_ARN], "conditionKeys": []}, "AWS authorizes it on"),
        ({"action": "s3:GetObject", "resources": ["*"], "conditionKeys": []}, "no row"),
    ],
)
def test_the_template_check_catches_what_aws_would_refuse(grant: dict, problem: str | None) -> None:
    problems = inventory.grant_problems({"owner": "SomeFunction", **grant}, ROWS)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_the_document_is_generated_from_the_data() -> None:
    # Given the YAML, then docs/aws-calls.md is what the generator writes (python -m tests.fast.aws_inventory)
    assert inventory.DOCUMENT.read_text(encoding="utf-8") == inventory.render(ROWS)
