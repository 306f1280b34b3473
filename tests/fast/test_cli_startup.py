"""The shipped CLI stays apart from the emulator: start-up imports no moto, and a missing extra is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen_cli.main import LOCAL_EXTRA_HINT, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("moto", "samtranslator", "werkzeug", "boto3", "botocore", "bluegreen_emulator.emulator")


def _imported_after(code: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "shared"), str(ROOT / "cli")]))
    heavy = f"sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})"
    probe = f"{code}\nimport sys\nprint(' '.join({heavy}))"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split("\n")[-2].split()


def test_help_imports_neither_the_emulator_nor_the_aws_sdk():
    # Given a fresh interpreter
    # When `bluegreen --help` runs
    loaded = _imported_after(
        "from bluegreen_cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    # Then nothing heavy was imported
    assert loaded == []


def test_operator_commands_import_no_emulator():
    # Given a fresh interpreter
    # When the modules of `bluegreen status` (and every command against AWS) are imported
    loaded = _imported_after("import bluegreen_cli.main, bluegreen_cli.operator")
    # Then the AWS SDK is there but neither moto nor the emulator
    assert "boto3" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("moto", "samtranslator", "werkzeug") or "emulator" in m]


# What only some commands need: deploy's models and Validate's rules, plan, the history and rollback to the
# previous release, Powertools parameters (reading one configuration), rich's live view (follow).
PER_COMMAND = (
    "bluegreen.domain.models",
    "bluegreen.steps.validate",
    "bluegreen.domain.plan",
    "bluegreen.aws.release",
    "bluegreen.domain.history",
    "bluegreen.domain.to_previous",
    "aws_lambda_powertools",
    "rich.live",
    "rich.progress_bar",
)


def test_status_imports_only_what_every_command_needs():
    # Given a fresh interpreter
    # When the modules of `bluegreen status` (and every command against AWS) are imported
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "shared"), str(ROOT / "cli")]))
    probe = "import bluegreen_cli.main, bluegreen_cli.operator, sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    # Then a module only some commands need waits for its command: start-up stays under `aws --version`
    assert "bluegreen.aws.store" in loaded
    assert sorted(m for m in PER_COMMAND if m in loaded) == []


@pytest.mark.parametrize("command", [["local", "demo"], ["local", "serve"], ["local", "faults"]])
def test_local_without_the_extra_prints_one_line(monkeypatch, capsys, command):
    # Given the `local` extra is not installed (moto cannot be imported)
    for name in [m for m in sys.modules if m.startswith("bluegreen_emulator.") and m != "bluegreen_emulator.scenarios"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "moto", None)
    # When an emulator command is asked for
    code = main(command)
    # Then one line says how to install it, with a usage exit status
    assert code == 2
    assert capsys.readouterr().err == LOCAL_EXTRA_HINT + "\n"
