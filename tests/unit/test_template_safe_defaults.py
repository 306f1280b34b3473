"""Safe by default: no scoping parameter defaults to "*", the deployments table survives the stack, and the GitHub
Action runs pinned code."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from bluegreen_emulator.template import LOCAL_SCOPE

from .test_template import RESOURCES, TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
SCOPING = ("EcsClusterName", "LoadBalancerName", "RepositoryNamePattern", "TaskRoleNamePattern")
SCOPING += ("TaskDefinitionFamilyPattern",)


def required_parameters() -> set[str]:
    return {name for name, spec in TEMPLATE["Parameters"].items() if "Default" not in spec}


def test_the_scoping_parameters_are_required():
    # Given the template's parameters
    parameters = TEMPLATE["Parameters"]
    # Then each of the five that scope the stack's permissions has no default: a deployment names what it deploys
    for name in SCOPING:
        assert "Default" not in parameters[name], name
        assert "required" in parameters[name]["Description"], name


def test_no_parameter_defaults_to_a_wildcard():
    defaults = {name: spec.get("Default") for name, spec in TEMPLATE["Parameters"].items()}
    assert [name for name, value in defaults.items() if isinstance(value, str) and "*" in value] == [
        "HookFunctionNamePattern"  # bluegreen-hook-*: a name prefix, not every function
    ]


def test_a_wildcard_given_on_purpose_is_named_in_the_scope_warning_output():
    # Given the conditions and the ScopeWarning output
    conditions = TEMPLATE["Conditions"]
    output = TEMPLATE["Outputs"]["ScopeWarning"]
    # Then there is one condition per scoping parameter, true when it is "*"
    per_parameter = {
        condition["Fn::Equals"][0]["Ref"]: name
        for name, condition in conditions.items()
        if isinstance(condition, dict)
        and "Fn::Equals" in condition
        and isinstance(condition["Fn::Equals"][0], dict)
        and condition["Fn::Equals"][1] == "*"
    }
    assert set(per_parameter) == set(SCOPING)
    # ... the output exists only when one of them holds, and names each one that does
    assert output["Condition"] == "AnyScopeUnscoped"
    assert {c["Condition"] for c in conditions["AnyScopeUnscoped"]["Fn::Or"]} == set(per_parameter.values())
    parts = output["Value"]["Fn::Join"][1]
    named = {part["Fn::If"][0]: part["Fn::If"][1].strip() for part in parts if isinstance(part, dict)}
    assert named == {condition: parameter for parameter, condition in per_parameter.items()}
    assert parts[0].startswith("WARNING")


def test_the_deployments_table_is_retained_and_point_in_time_recoverable():
    table = RESOURCES["DeploymentsTable"]
    # Deleting the stack or replacing the table keeps the locks, gates and release history
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    # ... and any second of the last 35 days can be restored
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_the_emulator_and_samconfig_pass_every_required_parameter():
    # Given the parameters without a default
    required = required_parameters()
    assert set(SCOPING) <= required
    # Then the emulator's stack gives each one explicitly
    assert required <= set(LOCAL_SCOPE)
    # ... and so does samconfig.toml's prod environment, with names rather than "*"
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = dict(
        item.split("=", 1) for item in shlex.split(config["prod"]["deploy"]["parameters"]["parameter_overrides"])
    )
    assert required <= set(overrides)
    assert all(overrides[name] != "*" for name in required)


def test_the_action_pins_third_party_actions_by_commit_and_installs_with_the_constraints():
    text = (ROOT / "action.yml").read_text()
    spec = yaml.safe_load(text)
    steps = spec["runs"]["steps"]
    # Every third-party action is pinned by a full commit SHA (a tag can be moved), its version in a comment
    uses = [line.strip() for line in text.splitlines() if line.strip().startswith(("- uses:", "uses:"))]
    assert uses
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == ["actions/setup-python"]
    # ... and the CLI is installed with the repository's constraints (the dependency versions it was tested with)
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert '-c "${{ github.action_path }}/constraints.txt"' in install["run"]
