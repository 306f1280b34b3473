"""The state machine, the template and the code agree on one name per state (no AWS, no moto).

``bluegreen.steps.STATES`` is the table ASL state -> Lambda function -> step module. These tests tie it
to ``statemachine/deployment.asl.json`` (every Task, the gate kind it passes), to ``template.yaml`` (the
function exists, its handler lives in ``functions/<module>/app.py`` and imports ``bluegreen.steps.<module>``)
and to ``bluegreen/domain/errors.py`` (every name a Retry or Catch matches is a class there).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from bluegreen.domain import errors
from bluegreen.domain.gates import GateKind
from bluegreen.steps import EVENT_FUNCTIONS, GATE_STATES, STATES, function_module

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "statemachine" / "deployment.asl.json"
ASL: dict[str, Any] = json.loads(ASL_PATH.read_text())
RESOURCES: dict[str, Any] = yaml_parse((REPO_ROOT / "template.yaml").read_text())["Resources"]
FUNCTIONS = {name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"}
ARN_PLACEHOLDER = re.compile(r"^\$\{(\w+)Arn\}$")
# Error names AWS itself raises (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
AWS_ERROR_PREFIXES = ("States.", "Lambda.")


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"])
        if "ItemProcessor" in state:
            yield from all_states(state["ItemProcessor"]["States"])


TASKS = {name: state for name, state in all_states(ASL["States"]) if state["Type"] == "Task"}


def task_function(state: dict[str, Any]) -> str:
    """The template's logical id of the function a Task invokes (directly or through lambda:invoke)."""
    target = state.get("Parameters", {}).get("FunctionName", state["Resource"])
    match = ARN_PLACEHOLDER.match(target)
    assert match, f"{target} is not a ${{<Function>Arn}} substitution"
    return match.group(1)


def imported_modules(path: Path) -> set[str]:
    """``bluegreen.steps.x`` for ``from bluegreen.steps import x`` and ``import bluegreen.steps.x``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_table_lists_every_task_state_of_the_state_machine_and_nothing_else():
    # Given the Task states of the definition
    # Then the table has exactly those states
    assert set(STATES) == set(TASKS)


@pytest.mark.parametrize("state", sorted(TASKS))
def test_each_task_invokes_the_function_of_the_table_and_it_exists(state: str):
    # When the Task's function is resolved from its substitution
    function = task_function(TASKS[state])

    # Then it is the table's function for that state, and a function of the template
    assert function == STATES[state].function
    assert function in FUNCTIONS, f"{state}: {function} is not in template.yaml"


@pytest.mark.parametrize("state", sorted(TASKS))
def test_each_task_handler_lives_in_a_directory_named_like_its_module_and_imports_it(state: str):
    # Given the state's step
    step = STATES[state]
    code_uri = RESOURCES[step.function]["Properties"]["CodeUri"].rstrip("/")

    # Then its function's code is functions/<module>/ whose app.py imports bluegreen.steps.<module>
    assert code_uri == f"functions/{step.module}"
    assert f"bluegreen.steps.{step.module}" in imported_modules(REPO_ROOT / code_uri / "app.py")


@pytest.mark.parametrize("state", sorted(TASKS))
def test_each_step_module_exposes_run_of_event_and_deps(state: str):
    # Given the step module of the state
    module = importlib.import_module(f"bluegreen.steps.{STATES[state].module}")

    # Then it has run(event, deps)
    assert list(inspect.signature(module.run).parameters)[1:] == ["deps"]


@pytest.mark.parametrize("function", sorted(EVENT_FUNCTIONS))
def test_event_driven_functions_import_their_module(function: str):
    # Given a function started by an event (not by a state)
    code_uri = RESOURCES[function]["Properties"]["CodeUri"].rstrip("/")

    # Then its directory is named like it, and its handler imports the module the table names
    assert function in FUNCTIONS
    assert code_uri == f"functions/{function_module(function)}"
    module = EVENT_FUNCTIONS[function]
    assert module in imported_modules(REPO_ROOT / code_uri / "app.py")


def test_every_function_of_the_template_is_in_the_table():
    # Then no function escapes the table (a new one is added there with its state or event)
    assert {step.function for step in STATES.values()} | set(EVENT_FUNCTIONS) == FUNCTIONS


@pytest.mark.parametrize("state", sorted(TASKS))
def test_a_gate_state_passes_the_gate_kind_of_the_table(state: str):
    # Given the Payload the Task sends (waitForTaskToken tasks send the gate's kind)
    payload = TASKS[state].get("Parameters", {}).get("Payload", {})

    # Then the kind is the table's, and only gate states have one
    expected = GATE_STATES.get(state)
    assert payload.get("kind") == (expected.value if expected else None)
    assert (expected is not None) == TASKS[state]["Resource"].endswith(".waitForTaskToken")
    if expected:
        assert GateKind(payload["kind"]) is expected


def test_every_error_name_the_state_machine_matches_is_a_class_in_errors_py():
    # Given every ErrorEquals name of every Retry and Catch
    names = {
        name
        for _, state in all_states(ASL["States"])
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for name in rule["ErrorEquals"]
    }

    # Then each (AWS's own names aside) is an error class of errors.py, so the code can raise it
    ours = {name for name in names if not name.startswith(AWS_ERROR_PREFIXES)}
    assert ours, "the state machine matches none of our errors"
    for name in sorted(ours):
        error = getattr(errors, name, None)
        assert inspect.isclass(error) and issubclass(error, errors.BlueGreenError), f"{name} is not in errors.py"
