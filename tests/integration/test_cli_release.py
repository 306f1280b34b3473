"""Whole releases on the command line: ``bluegreen plan`` and ``bluegreen deploy`` with whole releases, in process
against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.seed import SECRET_VALUE, SIDECAR

from .helpers import MUTATING, snapshot
from .test_cli import Cli, _attach, execution_arn

pytestmark = pytest.mark.slow


@pytest.fixture
def auto_emu(monkeypatch: pytest.MonkeyPatch) -> Any:
    with Emulator() as emulator:
        yield _attach(emulator, monkeypatch)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def test_plan_shows_the_release_and_changes_nothing(auto_emu, cli):
    # Given the demo service with a sidecar
    demo = auto_emu.seed_service(sidecar=True)
    before = snapshot(auto_emu, demo.name)
    revisions = auto_emu.client("ecs").list_task_definitions()["taskDefinitionArns"]

    # When the operator asks for the plan of an env change, more memory and a new sidecar image
    code, out, err = cli(
        "plan", demo.name, "--set-env", "web:FEATURE=on", "--memory", "1024", "--image", f"{SIDECAR}=1.1"
    )

    # Then the plan lists each change, the rules that will move and the task counts
    assert (code, err) == (0, ""), err
    assert "task memory: 512 -> 1024" in out
    assert "env    + FEATURE=on" in out
    assert f"image  {demo.name}-{SIDECAR}:1.0 (" in out and f"-> {demo.name}-{SIDECAR}:1.1 (" in out
    assert "production rule: demo-web-a 100% -> demo-web-b 100%" in out
    assert "Tasks: green starts 2 beside blue's 2" in out
    assert SECRET_VALUE not in out
    # ... and nothing in AWS changed
    assert snapshot(auto_emu, demo.name) == before
    assert auto_emu.client("ecs").list_task_definitions()["taskDefinitionArns"] == revisions
    assert not [c for c in auto_emu.recorder.calls if c.operation in MUTATING]


def test_plan_refuses_a_bad_release_with_its_error_name(auto_emu, cli):
    demo = auto_emu.seed_service(sidecar=True)
    code, _, err = cli("plan", demo.name, "--cpu", "256", "--memory", "4096")
    assert code == 1
    assert "InvalidTaskSize" in err and "nothing was changed" in err


def test_deploy_with_images_and_overrides_maps_onto_one_release(auto_emu, cli):
    # Given the demo service with a sidecar
    demo = auto_emu.seed_service(sidecar=True)

    # When a TAG, a sidecar image and an env var are deployed together
    code, out, err = cli("deploy", demo.name, "v2", "--image", f"{SIDECAR}=1.1", "--set-env", "web:MODE=fast")

    # Then one execution gets one release shape: overrides with the images inside
    assert (code, err) == (0, ""), err
    arn = execution_arn(out)
    started = json.loads(auto_emu.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    assert started["taskDefinitionOverrides"] == {
        "containers": {"web": {"environment": {"MODE": "fast"}, "image": "v2"}, SIDECAR: {"image": "1.1"}}
    }
    assert "imageTag" not in started and "images" not in started
    result = auto_emu.wait(arn)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    (task_set,) = auto_emu.task_sets(demo.name)
    assert task_set["imageTag"] == "v2"

    # ... and history and status say what changed
    code, out, _ = cli("history", demo.name)
    assert code == 0 and "web image v1->v2" in out
    code, out, _ = cli("status", demo.name)
    assert code == 0 and "Plan for demo-web (taskDefinitionOverrides)" in out


def test_deploy_refuses_two_release_descriptions_before_starting(auto_emu, cli, tmp_path):
    demo = auto_emu.seed_service()
    path = tmp_path / "taskdef.json"
    path.write_text(json.dumps({"family": "demo-web", "containerDefinitions": []}))
    code, _, err = cli("deploy", demo.name, "v2", "--task-definition", str(path))
    assert code == 2 and "--task-definition describes the whole release" in err
    assert not auto_emu.client("stepfunctions").list_executions(stateMachineArn=auto_emu.state_machine_arn)[
        "executions"
    ]
