"""Static checks of template.yaml and the state machine definitions: no AWS account, no network.

The SAM CLI check runs ``sam validate --lint`` (cfn-lint) on the template; the other tests read
the template with the SAM translator's YAML loader and check what the linter cannot: that the
state machine and the template agree, that every handler exists, that IAM stays least privilege
and that every failure in the state machine ends somewhere on purpose.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.unit.test_template_events import PUBLISHERS

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
TEMPLATE_TEXT = TEMPLATE_PATH.read_text()
TEMPLATE: dict[str, Any] = yaml_parse(TEMPLATE_TEXT)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTION_GLOBALS: dict[str, Any] = TEMPLATE.get("Globals", {}).get("Function", {})
ASL_FILES = sorted((REPO_ROOT / "statemachine").glob("*.asl.json"))
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")

# Actions whose IAM authorization supports no resource ARN, so a statement must say Resource "*".
# Anything else must be scoped to ARNs.
UNSCOPABLE_ACTIONS = frozenset(
    {
        "ecs:DescribeTaskDefinition",
        "cloudwatch:GetMetricData",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeLoadBalancers",  # An HTTP probe's listener URL
        "elasticloadbalancing:DescribeTargetHealth",
        # The NLB zone check (every ELB Describe* action authorizes no resource)
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        # Step Functions execution logging (vended log delivery).
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        # ListTasks without a container instance is authorized on "*" (scoped by the ecs:cluster condition)
        "ecs:ListTasks",
    }
)

# Actions AWS authorizes on "*" that a condition key scopes: a statement may grant them on "*" only with that
# condition. ListTasks without a container instance is authorized on "*" ("not authorized to perform:
# ecs:ListTasks on resource: *", aws/aws-cdk#3199, awsdocs/amazon-ecs-developer-guide#211).
CONDITION_SCOPED_ACTIONS = {"ecs:ListTasks": "ecs:cluster"}


def condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for keys in (statement.get("Condition") or {}).values() for key in keys}


# The AWS API actions each function's code calls (layers/shared/bluegreen/steps/* through the
# modules ecs, elbv2, ecr, alarms, config), plus the permissions those calls imply
# (ecs:TagResource for tags on RegisterTaskDefinition, iam:PassRole for the task roles).
# Change a function's calls and this table together with its policy in template.yaml.
SLACK = "secretsmanager:GetSecretValue"
# What a function that opens a gate (OpenGate, Bake) may do: write the gate with its Slack message.
GATE_OPENER = {
    "dynamodb:ConditionCheckItem",  # A gate is written only while its deployment runs
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    SLACK,
}
EXPECTED_ACTIONS = {
    "ValidateFunction": {
        "ssm:GetParameter",
        "ecr:DescribeImages",
        "ecr:DescribeRepositories",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetHealth",  # First deployment
        "elasticloadbalancing:DescribeListeners",
        "cloudwatch:DescribeAlarms",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "states:DescribeExecution",
        "lambda:GetFunctionConfiguration",  # Hook functions exist
        SLACK,
    },
    "RunHooksFunction": {
        "lambda:InvokeFunction",
        "elasticloadbalancing:DescribeRules",  # HTTP probes: the route, its listener and load balancer
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeLoadBalancers",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:RunTask",
        "ecs:ListTasks",  # a task an earlier, timed-out attempt started is stopped
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "iam:PassRole",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        SLACK,
    },
    "CreateGreenFunction": {
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:TagResource",
        "ecs:CreateTaskSet",
        "iam:PassRole",
        # Green recorded on the deployment, deleted again if the execution was stopped meanwhile
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "states:DescribeExecution",
        "ecs:DeleteTaskSet",
    },
    "CheckHealthFunction": {
        "ecs:DescribeServices",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeLoadBalancers",  # The NLB zone check
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
    },
    "SwapFunction": {
        "cloudwatch:PutMetricAlarm",  # Built-in analysis
        "cloudwatch:GetMetricData",  # Built-in analysis
        "cloudwatch:DescribeAlarms",  # the traffic step that ended: no watched alarm in ALARM (watch_end)
        "ecs:DescribeServices",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:ModifyListener",
        "ecs:UpdateServicePrimaryTaskSet",
        SLACK,  # Canary/linear milestones in the Slack thread
        "elasticloadbalancing:DescribeLoadBalancers",  # The NLB zone check
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
    },
    "BakeFunction": GATE_OPENER | {"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"},  # Analysis
    # the keep-old hold: the bake ended with no watched alarm in ALARM (watch_end), an analysis alarm explained
    "OpenGateFunction": GATE_OPENER | {"cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"},
    "DeleteOldFunction": {
        "cloudwatch:DeleteAlarms",  # Built-in analysis
        "cloudwatch:DescribeAlarms",  # the analysis verdict; no watched alarm in ALARM before blue goes
        "cloudwatch:GetMetricData",  # The analysis verdict (judged or not)
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",
        "ecs:DescribeServices",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "elasticloadbalancing:DescribeTargetHealth",
        "ecs:DeleteTaskSet",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        SLACK,
    },
    "CleanupFunction": {
        "cloudwatch:DeleteAlarms",  # Built-in analysis
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",
        "ecs:DescribeServices",
        "ecs:DeleteTaskSet",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        SLACK,
    },
    "RollbackFunction": {
        "cloudwatch:DeleteAlarms",  # Built-in analysis
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:ModifyListener",
        "ecs:UpdateServicePrimaryTaskSet",
        "ecs:DescribeServices",
        "ecs:DeleteTaskSet",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        SLACK,
    },
    "AlarmEventFunction": {
        "cloudwatch:DescribeAlarms",  # Built-in analysis
        "cloudwatch:GetMetricData",  # Built-in analysis
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "states:SendTaskFailure",
    },
    "EcrTriggerFunction": {
        "ssm:GetParametersByPath",
        "states:StartExecution",
        "states:DescribeExecution",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        SLACK,
    },
    "ExecutionEndedFunction": {
        "cloudwatch:DeleteAlarms",  # Built-in analysis
        "events:PutEvents",  # The cleanup it runs emits the deployment's events
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeListeners",  # Listener routes
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:ModifyListener",  # Restores listener routes like Rollback
        "ecs:UpdateServicePrimaryTaskSet",
        "ecs:DescribeServices",
        "ecs:DeleteTaskSet",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",  # Stops a redrive of a deployment already cleaned up
        SLACK,
    },
    "SlackCallbackFunction": {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ssm:GetParameter",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "lambda:InvokeFunction",
        SLACK,
    },
}
# The reconciler runs the execution-ended path for an end whose event was lost, and looks for unseen pushes.
EXPECTED_ACTIONS["ReconcilerFunction"] = (EXPECTED_ACTIONS["ExecutionEndedFunction"] - {"events:PutEvents"}) | {
    "ssm:GetParametersByPath",
    "ecr:DescribeImages",
}
# The steps that publish a deployment milestone on EventBridge (one list: test_template_events)
for _publisher in PUBLISHERS:
    EXPECTED_ACTIONS[_publisher] = EXPECTED_ACTIONS[_publisher] | {"events:PutEvents"}
# The HTTP probe calls no AWS API (RunHooks resolves the route); it has its own role (test_template_probe.py)
EXPECTED_ACTIONS["ProbeFunction"] = set()
# The Roll back to previous button (posted by DeleteOld, answered by the Slack callback)
EXPECTED_ACTIONS["DeleteOldFunction"] = EXPECTED_ACTIONS["DeleteOldFunction"] | {"dynamodb:Query"}
EXPECTED_ACTIONS["SlackCallbackFunction"] = EXPECTED_ACTIONS["SlackCallbackFunction"] | {
    "dynamodb:Query",
    "states:StartExecution",
    "states:DescribeExecution",
}

# The one-off tasks of the ecsTask hooks are found (by startedBy and group) and stopped at every end (the
# reconciler runs the execution-ended path for an end whose event was lost).
HOOK_TASK_STOPPER = {"ecs:ListTasks", "ecs:DescribeTasks", "ecs:StopTask"}
for _ender in ("CleanupFunction", "RollbackFunction", "ExecutionEndedFunction", "ReconcilerFunction"):
    EXPECTED_ACTIONS[_ender] = EXPECTED_ACTIONS[_ender] | HOOK_TASK_STOPPER

# Errors every Lambda Task must retry: the Lambda service's transient failures and our own
# TransientAwsError (throttling and 5xx that outlived the SDK's retries).
REQUIRED_RETRY_ERRORS = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "TransientAwsError",
    }
)

SAM_VALIDATE_TIMEOUT_SECONDS = 60
REDRIVABLE_END_TASKS = {"ValidationFailed", "Cleanup", "Rollback", "RollbackAfterDrain"}


# --- helpers -------------------------------------------------------------------------------
def resources_of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r.get("Type") == resource_type}


def functions() -> dict[str, dict[str, Any]]:
    return resources_of_type("AWS::Serverless::Function")


def state_machines() -> dict[str, dict[str, Any]]:
    return resources_of_type("AWS::Serverless::StateMachine")


def state_machine_for(asl_path: Path) -> tuple[str, dict[str, Any]]:
    """The state machine resource whose DefinitionUri is ``asl_path``."""
    for name, resource in state_machines().items():
        uri = resource["Properties"].get("DefinitionUri")
        if isinstance(uri, str) and (REPO_ROOT / uri).resolve() == asl_path.resolve():
            return name, resource["Properties"]
    raise AssertionError(f"{asl_path.relative_to(REPO_ROOT)} is not the DefinitionUri of any state machine")


def load_asl(asl_path: Path) -> dict[str, Any]:
    return json.loads(asl_path.read_text())


def iter_state_maps(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each ``States`` object: the top level, then those of Parallel branches and Map processors."""
    yield definition["States"]
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            yield from iter_state_maps(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from iter_state_maps(state[key])


def iter_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for states in iter_state_maps(definition):
        yield from states.items()


def task_states(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, state) for name, state in iter_states(definition) if state["Type"] == "Task"]


def transitions(state: dict[str, Any]) -> list[str]:
    """Names of the states ``state`` can move to (in its own States object)."""
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def reachable(states: dict[str, Any], start: str) -> set[str]:
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        pending.extend(transitions(states[name]))
    return seen


def referenced_resource(value: Any) -> str | None:
    """Logical id behind ``!GetAtt X.Arn`` or ``!Ref X`` (None for anything else)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::GetAtt":
            return argument[0] if isinstance(argument, list) else argument.split(".", 1)[0]
        if key == "Ref":
            return argument
    return None


def task_function(state: dict[str, Any], substitutions: dict[str, Any]) -> str | None:
    """Logical id of the function a Task invokes, directly or through the lambda:invoke integration."""
    target = state["Resource"]
    if target.startswith("arn:") and ":states:::lambda:invoke" in target:
        target = state.get("Parameters", {}).get("FunctionName", "")
    match = PLACEHOLDER.fullmatch(target)
    if not match:
        return None
    return referenced_resource(substitutions.get(match.group(1)))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(policies: Any) -> Iterator[dict[str, Any]]:
    """Inline statements of a SAM ``Policies`` property (policy templates and managed names skipped)."""
    for policy in as_list(policies or []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from as_list(policy["Statement"])


def all_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """``(owner, statement)`` for every IAM statement the template writes by hand."""
    for statement in policy_statements(FUNCTION_GLOBALS.get("Policies")):
        yield "Globals.Function", statement
    for name, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for statement in policy_statements(props.get("Policies")):
                yield name, statement
        elif resource.get("Type") == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in as_list(policy["PolicyDocument"]["Statement"]):
                    yield name, statement
        elif resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in as_list(props["PolicyDocument"]["Statement"]):
                yield name, statement


def managed_policy_names() -> Iterator[tuple[str, str]]:
    """``(owner, name or ARN)`` of every managed policy the template attaches."""
    for name, resource in [("Globals.Function", {"Properties": FUNCTION_GLOBALS}), *RESOURCES.items()]:
        props = resource.get("Properties", {})
        for policy in as_list(props.get("Policies") or []):
            if isinstance(policy, str):
                yield name, policy
        for arn in props.get("ManagedPolicyArns", []):
            if isinstance(arn, str):
                yield name, arn


def actions_of(statement: dict[str, Any]) -> list[str]:
    return [str(action) for action in as_list(statement.get("Action", []))]


def allows_every_resource(statement: dict[str, Any]) -> bool:
    return "*" in as_list(statement.get("Resource", []))


def handler_of(function: dict[str, Any]) -> str:
    return function["Properties"].get("Handler", FUNCTION_GLOBALS.get("Handler", ""))


def top_level_functions(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


# --- SAM CLI -------------------------------------------------------------------------------
@pytest.mark.sam
def test_sam_validate_lint_passes():
    # Given the SAM CLI installed in this virtualenv and fake credentials (no AWS account needed)
    sam = Path(sys.executable).parent / ("sam.exe" if os.name == "nt" else "sam")
    if not sam.exists():
        pytest.skip(f"SAM CLI not found at {sam}; install the dev extras: pip install -e '.[dev]'")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
        }
    )

    # When the template is validated and linted (cfn-lint, bundled with the SAM CLI)
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--region", "us-east-1", "--template-file", str(TEMPLATE_PATH)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SAM_VALIDATE_TIMEOUT_SECONDS,
        check=False,
    )

    # Then it passes with no lint findings
    assert result.returncode == 0, f"sam validate --lint failed:\n{result.stdout}\n{result.stderr}"


# --- state machine <-> template ------------------------------------------------------------
def test_state_machine_definitions_exist():
    # Given the template's state machines and the definitions under statemachine/
    # Then there is at least one definition, each used by a state machine, and every DefinitionUri exists
    assert ASL_FILES, "no statemachine/*.asl.json found"
    for asl_path in ASL_FILES:
        state_machine_for(asl_path)
    for name, resource in state_machines().items():
        uri = resource["Properties"]["DefinitionUri"]
        assert (REPO_ROOT / uri).is_file(), f"{name}: DefinitionUri {uri} does not exist"


@pytest.mark.parametrize("asl_path", ASL_FILES, ids=lambda path: path.name)
def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(asl_path: Path):
    # Given a state machine definition and the DefinitionSubstitutions of its resource
    name, props = state_machine_for(asl_path)
    substitutions = set(props.get("DefinitionSubstitutions", {}))

    # When the ${...} placeholders of the definition are collected
    placeholders = set(PLACEHOLDER.findall(asl_path.read_text()))

    # Then both sets are the same
    assert not placeholders - substitutions, f"{asl_path.name}: placeholders with no substitution in {name}"
    assert not substitutions - placeholders, f"{name}: DefinitionSubstitutions unused by {asl_path.name}"


@pytest.mark.parametrize("asl_path", ASL_FILES, ids=lambda path: path.name)
def test_every_task_invokes_a_function_of_the_template_that_the_state_machine_may_invoke(asl_path: Path):
    # Given a state machine definition, its substitutions and its policies
    name, props = state_machine_for(asl_path)
    substitutions = props.get("DefinitionSubstitutions", {})
    invokable = {
        referenced_resource(policy["LambdaInvokePolicy"]["FunctionName"])
        for policy in as_list(props.get("Policies", []))
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }

    for state_name, state in task_states(load_asl(asl_path)):
        # When the Task's Resource (or the FunctionName of a lambda:invoke integration) is resolved
        function = task_function(state, substitutions)

        # Then it is a function of this template, and the state machine's role may invoke it
        target = state.get("Parameters", {}).get("FunctionName", state["Resource"])
        assert function in functions(), f"{state_name}: {target} resolves to no function of the template"
        assert function in invokable, f"{name} has no LambdaInvokePolicy for {function} (used by {state_name})"


# --- functions -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(functions()))
def test_function_code_dir_has_the_handler(name: str):
    # Given a function and its handler (Handler, or the Globals default app.lambda_handler)
    props = functions()[name]["Properties"]
    module, _, handler = handler_of(functions()[name]).rpartition(".")
    code_dir = REPO_ROOT / props["CodeUri"]

    # Then CodeUri is a directory holding the module, and the module defines the handler
    assert code_dir.is_dir(), f"{name}: CodeUri {props['CodeUri']} is not a directory"
    source = code_dir / f"{module.replace('.', '/')}.py"
    assert source.is_file(), f"{name}: {source.relative_to(REPO_ROOT)} does not exist"
    assert handler in top_level_functions(source), f"{name}: {source.relative_to(REPO_ROOT)} defines no {handler}"


# --- IAM -------------------------------------------------------------------------------------
def test_no_statement_uses_a_wildcard_action_or_not_action():
    # Given every hand-written IAM statement
    statements = list(all_statements())
    assert statements

    for owner, statement in statements:
        # Then no action is a wildcard, and no Allow is written as NotAction / NotResource
        wildcards = [action for action in actions_of(statement) if "*" in action]
        assert not wildcards, f"{owner} {statement.get('Sid', '')}: wildcard actions {wildcards}"
        if statement.get("Effect") == "Allow":
            assert "NotAction" not in statement, f"{owner} {statement.get('Sid', '')}: Allow with NotAction"
            assert "NotResource" not in statement, f"{owner} {statement.get('Sid', '')}: Allow with NotResource"


def test_no_full_access_managed_policies():
    # Given every managed policy the template attaches by name or ARN
    # Then none of them is an AWS *FullAccess policy
    full_access = [(owner, policy) for owner, policy in managed_policy_names() if "FullAccess" in policy]
    assert not full_access, f"FullAccess managed policies: {full_access}"


def test_resource_star_only_for_actions_aws_cannot_scope():
    # Given the statements that allow every resource
    star_statements = [(owner, s) for owner, s in all_statements() if allows_every_resource(s)]

    for owner, statement in star_statements:
        # Then they only grant actions that support no resource-level permissions (or that a condition scopes)
        scoped = {a for a, key in CONDITION_SCOPED_ACTIONS.items() if key.lower() in condition_keys(statement)}
        scopable = sorted(set(actions_of(statement)) - UNSCOPABLE_ACTIONS - scoped)
        assert not scopable, f"{owner} {statement.get('Sid', '')}: Resource '*' for scopable actions {scopable}"


def test_every_resource_star_is_explained_by_a_comment():
    # Given the raw template text and the parsed statements that allow every resource
    lines = TEMPLATE_TEXT.splitlines()
    star_lines = [
        number for number, line in enumerate(lines) if re.fullmatch(r"\s*Resource:\s*([\"'])\*\1\s*(#.*)?", line)
    ]
    star_statements = [s for _, s in all_statements() if allows_every_resource(s)]

    # Then each is written as `Resource: "*"` (so it can be found) ...
    assert len(star_lines) == len(star_statements), (
        f'{len(star_statements)} statements allow Resource "*" but {len(star_lines)} lines read `Resource: "*"`; '
        f'write each one as `Resource: "*"` on its own line'
    )
    for number in star_lines:
        # ... with a YAML comment saying why, on the line itself or the line before
        previous = lines[number - 1].strip() if number else ""
        assert previous.startswith("#") or "#" in lines[number], (
            f'template.yaml line {number + 1}: `Resource: "*"` needs a comment saying why it cannot be scoped'
        )


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_policy_grants_exactly_what_its_code_calls(name: str):
    # Given a function's inline policy
    attached = [
        statement
        for resource in RESOURCES.values()
        if resource.get("Type") == "AWS::IAM::Policy"
        and {"Ref": f"{name}Role"} in as_list(resource["Properties"].get("Roles"))
        for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"])
    ]
    granted = {
        action
        for statement in [*policy_statements(functions()[name]["Properties"].get("Policies")), *attached]
        if statement.get("Effect") == "Allow"
        for action in actions_of(statement)
    }

    # Then it grants the actions its code calls, no more and no fewer (least privilege)
    assert name in EXPECTED_ACTIONS, f"{name}: add the actions its code calls to EXPECTED_ACTIONS"
    expected = EXPECTED_ACTIONS[name]
    assert not granted - expected, f"{name}: grants actions its code does not call: {sorted(granted - expected)}"
    assert not expected - granted, f"{name}: lacks actions its code calls: {sorted(expected - granted)}"


# --- failure handling in the state machine ---------------------------------------------------
@pytest.mark.parametrize("asl_path", ASL_FILES, ids=lambda path: path.name)
def test_every_task_retries_transient_errors_and_catches_everything(asl_path: Path):
    # Given the Task states of a definition
    definition = load_asl(asl_path)
    tasks = task_states(definition)
    assert tasks
    names = {name for states in iter_state_maps(definition) for name in states}

    for name, state in tasks:
        # Then one retrier covers the Lambda service's transient errors and TransientAwsError
        covered = [
            retrier
            for retrier in state.get("Retry", [])
            if "States.ALL" in retrier["ErrorEquals"] or REQUIRED_RETRY_ERRORS.issubset(retrier["ErrorEquals"])
        ]
        assert covered, f"{name}: no Retry entry covers {sorted(REQUIRED_RETRY_ERRORS)}"

        # And a catcher takes every other error to an existing state, except in the end tasks: they fail the
        # execution at the task itself so that RedriveExecution (which resumes there) runs them again
        if name in REDRIVABLE_END_TASKS:
            assert not state.get("Catch"), f"{name}: an end task must fail at itself to be redrivable"
            continue
        catchers = state.get("Catch", [])
        assert any("States.ALL" in c["ErrorEquals"] for c in catchers), f"{name}: no Catch for States.ALL"
        for catcher in catchers:
            assert catcher["Next"] in names, f"{name}: Catch goes to unknown state {catcher['Next']}"


@pytest.mark.parametrize("asl_path", ASL_FILES, ids=lambda path: path.name)
def test_every_state_and_every_fail_state_is_reachable(asl_path: Path):
    # Given a definition (and its Parallel branches / Map processors)
    definition = load_asl(asl_path)
    containers = [definition, *(b for s in iter_states(definition) for b in s[1].get("Branches", []))]
    containers += [s[1][k] for s in iter_states(definition) for k in ("ItemProcessor", "Iterator") if k in s[1]]

    for container in containers:
        states = container["States"]
        # When the states are walked from StartAt through Next, Choices, Default and Catch
        seen = reachable(states, container["StartAt"])

        # Then every transition targets a state that exists, and nothing is unreachable, Fail states included
        for name, state in states.items():
            unknown = [target for target in transitions(state) if target not in states]
            assert not unknown, f"{name}: transitions to unknown states {unknown}"
        fail_states = {name for name, state in states.items() if state["Type"] == "Fail"}
        assert fail_states, f"{asl_path.name}: no Fail state"
        assert not fail_states - seen, f"unreachable Fail states: {sorted(fail_states - seen)}"
        assert not set(states) - seen, f"unreachable states: {sorted(set(states) - seen)}"


# --- names and limits AWS enforces ------------------------------------------------------------------
STACK_NAME_MAX = 128  # CloudFormation stack names: 1-128 characters
STATE_MACHINE_NAME_MAX = 80  # Step Functions state machine names: 1-80 characters


def test_the_state_machine_name_fits_80_characters_whatever_the_stack_name() -> None:
    # Given the longest stack name CloudFormation allows
    stack_name = "s" * STACK_NAME_MAX
    # When the state machine's Name is computed from the template
    name = RESOURCES["DeploymentStateMachine"]["Properties"]["Name"]
    assert name == {"Ref": "DeploymentStateMachineName"}, "the name must not be derived from the stack name"
    parameter = TEMPLATE["Parameters"]["DeploymentStateMachineName"]
    # Then every value the parameter accepts fits Step Functions' limit, and the stack name plays no part
    assert int(parameter["MaxLength"]) <= STATE_MACHINE_NAME_MAX
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    assert not re.fullmatch(parameter["AllowedPattern"], "x" * (STATE_MACHINE_NAME_MAX + 1))
    assert "AWS::StackName" not in json.dumps(RESOURCES["DeploymentStateMachine"]) and stack_name


def test_register_task_definition_is_scoped_to_task_definition_arns() -> None:
    # Given the create-green function's policy
    statements = RESOURCES["CreateGreenFunction"]["Properties"]["Policies"][0]["Statement"]
    # When looking for the statement that allows RegisterTaskDefinition
    register = [s for s in statements if "ecs:RegisterTaskDefinition" in json.dumps(s["Action"])]
    # Then it names task definition ARNs of the configured families, never "*"
    assert len(register) == 1
    assert register[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"
        "${TaskDefinitionFamilyPattern}:*"
    }


def test_list_tasks_is_granted_on_star_scoped_by_the_cluster_condition() -> None:
    # Given every statement that grants ecs:ListTasks
    granting = [(owner, s) for owner, s in all_statements() if "ecs:ListTasks" in actions_of(s)]
    assert {owner for owner, _ in granting} >= {"CheckHealthFunction", "SwapFunction", "DeleteOldFunction"}
    for owner, statement in granting:
        # Then it names resource "*" (what AWS authorizes a ListTasks without a container instance on) and
        # scopes it to the configured clusters with ecs:cluster, and grants nothing else
        assert as_list(statement["Resource"]) == ["*"], f"{owner}: ListTasks must be on resource '*'"
        assert actions_of(statement) == ["ecs:ListTasks"], f"{owner}: ListTasks's statement grants other actions"
        cluster = statement["Condition"]["ArnLike"]["ecs:cluster"]
        assert cluster == {
            "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/${EcsClusterName}"
        }


def test_no_permission_depends_on_a_name_cloudformation_generates() -> None:
    # Given every hand-written statement
    for owner, statement in all_statements():
        # Then no resource is a pattern over the stack name: CloudFormation truncates generated names (a function
        # name is at most 64 characters), so such a pattern stops matching for long stack names
        text = json.dumps(statement.get("Resource"))
        assert "${AWS::StackName}" not in text, f"{owner} {statement.get('Sid', '')}: {text}"


def test_the_slack_callback_may_invoke_itself_by_its_arn() -> None:
    # Given the policy attached to the Slack callback's role
    policy = RESOURCES["SlackCallbackSelfInvokePolicy"]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["Roles"] == [{"Ref": "SlackCallbackFunctionRole"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    # Then it allows lambda:InvokeFunction on the function's own ARN, whatever CloudFormation names it
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == {"Fn::GetAtt": ["SlackCallbackFunction", "Arn"]}
