"""Every patch of moto's internals lives in the emulator's patches package, says its gap, and checks moto."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from bluegreen_emulator import patches

PATCHES = Path(patches.__file__).resolve().parent
LOCAL = PATCHES.parent


def _library_names(tree: ast.Module) -> set[str]:
    """Names a module imports from moto or botocore."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("moto", "botocore"):
            names.update(alias.asname or alias.name for alias in node.names)
        if isinstance(node, ast.Import):
            names.update(a.asname or a.name for a in node.names if a.name.split(".")[0] in ("moto", "botocore"))
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_other_versions_of_moto_are_refused_loudly():
    # Given a moto other than the one the patches were written for
    # When the version is checked
    with pytest.raises(patches.MotoVersionError) as refused:
        patches.check_moto_version("5.3.0")
    # Then the error names both versions and the fix
    message = str(refused.value)
    assert "5.3.0" in message and patches.MOTO_VERSION in message
    assert "ecs-bluegreen[local]" in message


def test_the_pinned_version_is_accepted():
    # Given the installed moto (pinned by the `local` extra)
    # When checked, Then nothing is raised
    patches.check_moto_version()
    patches.check_moto_version(patches.MOTO_VERSION)


def test_no_other_emulator_module_patches_moto_or_botocore():
    # Given every emulator module outside the patches package
    offenders = []
    for path in sorted(LOCAL.glob("*.py")):
        tree = ast.parse(path.read_text())
        library = _library_names(tree)
        for node in ast.walk(tree):
            # Then none assigns to an attribute of a class or module it imported from moto or botocore
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and _root(target) in library:
                    offenders.append(f"{path.name}:{node.lineno}")
            # Nor uses setattr on one
            is_setattr = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and node.args
            if is_setattr and _root(node.args[0]) in library:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_every_patch_says_which_moto_gap_it_fills():
    # Given the patches package
    lines = [line.strip() for path in sorted(PATCHES.glob("*.py")) for line in path.read_text().splitlines()]
    # Then there is a `# moto gap:` comment for every attribute it replaces
    replaced = sum(line.startswith("patcher.replace(") for line in lines)
    assert replaced == sum(line.startswith("# moto gap:") for line in lines) > 0


def test_a_patcher_restores_what_it_replaced():
    # Given an object patched twice
    class Owner:
        value = "original"

    patcher = patches.Patcher()
    assert patcher.replace(Owner, "value", "first") == "original"
    patcher.replace(Owner, "value", "second")
    # When restored
    patcher.restore()
    # Then the original is back
    assert Owner.value == "original"


def test_the_state_a_redrive_resumes_is_the_last_one_entered_and_never_exited():
    from bluegreen_emulator.patches import unfinished_state

    def entered(name: str, data: dict) -> dict:
        return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(data)}}

    def exited(name: str) -> dict:
        return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name}}

    history = [entered("Validate", {"a": 1}), exited("Validate"), entered("Rollback", {"b": 2}), {"type": "X"}]
    assert unfinished_state(history) == ("Rollback", {"b": 2})
    assert unfinished_state([entered("Validate", {}), exited("Validate")]) is None


def test_a_failed_parallel_branch_stops_its_siblings_without_ending_the_history():
    # Given the emulator's execution patches and a Parallel state whose failing branch is caught
    # (moto stops the sibling branches through the same set_stop as a StopExecution)
    import boto3
    from moto import mock_aws

    from bluegreen_emulator.emulator import MOTO_CONFIG
    from tests.integration.helpers import wait_until

    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Fails", "States": {"Fails": {"Type": "Fail", "Error": "Boom", "Cause": "b"}}},
                    {"StartAt": "Passes", "States": {"Passes": {"Type": "Pass", "End": True}}},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                "Next": "Handled",
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    with mock_aws(config=MOTO_CONFIG), patches.execution_lifecycle():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="parallel", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        # When it runs to its end (moto runs it on a thread of its own)
        arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
        events = [e["type"] for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]]
    # Then the sibling's stop ended only that branch: the caught failure goes on to the next state, and the
    # history ends with the execution's success
    assert events[events.index("ParallelStateFailed") :] == [
        "ParallelStateFailed",
        "ParallelStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
