"""`bluegreen local serve --snapshot FILE` from outside: it answers as the snapshot's account, with the file's
ARNs, `bluegreen plan` works against it; a malformed or newer-format file is refused before anything starts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from bluegreen_cli import snapshot as snapshots
from bluegreen_emulator.emulator import Emulator

from .serve import BIN, aws, free_port, printed, serve_env

ACCOUNT = "210987654321"


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve-rehearsal") / "snapshot.json"
    with Emulator(account=ACCOUNT, slack=False) as source:
        demo = source.seed_service()
        snapshots.write(snapshots.take(boto3.session.Session(region_name=source.region), demo.name), path)
    return path


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "bluegreen"), "local", "serve", *args],
        env=serve_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.matrix  # end to end through the real AWS CLI against `local serve`: with the slow matrices
def test_serve_from_a_snapshot_answers_as_its_account_and_plans(snapshot_file: Path) -> None:
    # Given `local serve --snapshot FILE`
    document = json.loads(snapshot_file.read_text())
    port = free_port()
    process = _serve("--port", str(port), "--snapshot", str(snapshot_file))
    try:
        lines = []
        while True:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Ready.") or not line:
                break
        assert lines[-1].startswith("Ready."), "".join(lines)
        assert f"account {ACCOUNT}" in "".join(lines)
        endpoint = {"url": f"http://127.0.0.1:{port}"}
        # When the AWS CLI describes the service and its production rule
        service = aws(endpoint, "ecs", "describe-services", "--cluster", "demo-web-cluster", "--services", "demo-web")
        rule_arn = document["config"]["productionRuleArn"]
        rules = aws(endpoint, "elbv2", "describe-rules", "--rule-arns", rule_arn)["Rules"]
        # Then they answer with the snapshot's ARNs and ids
        assert service["services"][0]["serviceArn"] == document["ecsService"]["serviceArn"]
        assert [ts["id"] for ts in service["services"][0]["taskSets"]] == [ts["id"] for ts in document["taskSets"]]
        (expected,) = [rule for rule in document["rules"] if rule["RuleArn"] == rule_arn]
        assert (rules[0]["Priority"], rules[0]["Conditions"], rules[0]["Actions"]) == (
            expected["Priority"],
            expected["Conditions"],
            expected["Actions"],
        )
        # And `bluegreen plan` of a release reads the rehearsed shape
        env = serve_env(
            AWS_ENDPOINT_URL=endpoint["url"],
            BLUEGREEN_STATE_MACHINE_ARN=printed(lines, "state machine"),
            BLUEGREEN_TABLE=printed(lines, "table"),
        )
        plan = subprocess.run(
            [str(BIN / "bluegreen"), "plan", "demo-web", "v2"], env=env, capture_output=True, text=True, timeout=120
        )
        assert plan.returncode == 0, plan.stderr
        assert "Plan for demo-web" in plan.stdout and "demo-web:v2" in plan.stdout
        assert f"{ACCOUNT}:task-definition/demo-web:1" in plan.stdout
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    ("content", "error", "hint"),
    [
        ('{"format": 2, "service": "web"}', "error: SnapshotFormatTooNew: ", "upgrade ecs-bluegreen"),
        ('{"format": 1}', "error: SnapshotInvalid: ", "bluegreen local snapshot SERVICE --output FILE"),
    ],
)
def test_serve_refuses_a_bad_snapshot_before_starting(tmp_path: Path, content: str, error: str, hint: str) -> None:
    # Given a newer-format or malformed file / When serve is started with it
    path = tmp_path / "bad.json"
    path.write_text(content)
    process = _serve("--port", str(free_port()), "--snapshot", str(path))
    out, _ = process.communicate(timeout=120)
    # Then it exits 2 with the error's name and what to do, and never says Ready
    assert process.returncode == 2
    assert error in out and hint in out
    assert "Ready." not in out
