"""The GitHub Action's entry script (``python -m bluegreen_cli.action``) run as a runner runs it.

Against ``bluegreen local serve`` in another process: inputs as ``INPUT_*`` variables, outputs and the
job summary in the files ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .serve import approve, aws, serve_env, serving, wait_done

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served():
    with serving() as endpoint:
        yield endpoint


def runner_env(served, tmp_path: Path, **inputs: str) -> dict[str, str]:
    """What a runner gives the composite step: credentials (configure-aws-credentials), INPUT_*, files."""
    (tmp_path / "output").write_text("")
    (tmp_path / "summary").write_text("")
    env = serve_env(
        AWS_ENDPOINT_URL=served["url"],
        BLUEGREEN_STATE_MACHINE_ARN=served["arn"],
        BLUEGREEN_TABLE=served["table"],
        GITHUB_OUTPUT=str(tmp_path / "output"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary"),
        INPUT_POLL_SECONDS="0.2",
        INPUT_STACK_NAME="ecs-bluegreen",
    )
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    return env


def outputs(tmp_path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())


def action(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bluegreen_cli.action", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_action_yml_runs_the_entry_script_with_every_input():
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    assert spec["runs"]["using"] == "composite"
    step = next(s for s in spec["runs"]["steps"] if s.get("id") == "deploy")
    assert step["run"] == "python -m bluegreen_cli.action"
    # every input reaches the script through the environment, none is pasted into the command
    assert {f"INPUT_{name.upper().replace('-', '_')}" for name in spec["inputs"]} - {"INPUT_PYTHON_VERSION"} == set(
        step["env"]
    )
    install = next(s for s in spec["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert '"${{ github.action_path }}"' in install["run"]
    assert set(spec["outputs"]) == {"execution-arn", "outcome", "console-url", "gate-id"}


def test_wait_for_approval_returns_as_soon_as_a_person_is_needed(served, tmp_path):
    # Given the action asked to deploy v2 and wait for the approval
    env = runner_env(served, tmp_path, SERVICE="demo-web", IMAGE_TAG="v2", WAIT_FOR="approval")
    # When the runner runs the step
    result = action(env)
    # Then the step succeeded while the deployment waits for its approval
    assert result.returncode == 0, result.stderr
    out = outputs(tmp_path)
    assert out["outcome"] == "awaiting-approval"
    assert out["execution-arn"].startswith("arn:aws:states:us-east-1:") and out["gate-id"].startswith("ap-")
    assert out["console-url"].endswith(out["execution-arn"])
    description = aws(served, "stepfunctions", "describe-execution", "--execution-arn", out["execution-arn"])
    assert description["status"] == "RUNNING"
    # ... and the job summary links the execution and says how to answer the approval
    summary = (tmp_path / "summary").read_text()
    assert f"]({out['console-url']})" in summary
    assert out["gate-id"] in summary and "bluegreen approve demo-web" in summary
    assert "**awaiting-approval**" in summary
    # (then someone approves: the release goes on without the runner)
    approve(served)
    assert wait_done(served, out["execution-arn"])["status"] == "SUCCEEDED"


def test_wait_for_completion_reports_the_outcome(served, tmp_path):
    # Given the action asked (by option, as a script would) to deploy v3 and wait for the end
    env = runner_env(served, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_cli.action", "--service", "demo-web", "--image-tag", "v3",
         "--wait-for", "completion"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # When someone approves meanwhile
    approve(served)
    stdout, stderr = process.communicate(timeout=120)
    # Then the step ends with the outcome, deployed
    assert process.returncode == 0, stderr
    assert outputs(tmp_path)["outcome"] == "deployed"
    assert "Outcome: deployed (SUCCEEDED)" in stdout
    assert "**deployed**" in (tmp_path / "summary").read_text()


def test_unknown_service_fails_the_step_with_one_line(served, tmp_path):
    result = action(runner_env(served, tmp_path, SERVICE="nope", IMAGE_TAG="v2"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: unknown service 'nope'")
    assert "::error title=bluegreen deploy::unknown service 'nope'" in result.stdout
    assert (tmp_path / "output").read_text() == ""


def test_missing_credentials_fail_the_step_with_one_line(served, tmp_path):
    env = runner_env(served, tmp_path, SERVICE="demo-web", IMAGE_TAG="v2")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = action(env)
    assert result.returncode == 1
    assert result.stderr == (
        "error: no AWS credentials: add aws-actions/configure-aws-credentials (OIDC role) before this step\n"
    )


def test_nothing_to_deploy_is_refused(served, tmp_path):
    result = action(runner_env(served, tmp_path, SERVICE="demo-web", WAIT_FOR="sometime"))
    assert result.returncode == 1 and result.stderr.startswith("error: input 'wait-for' must be one of")
