"""Users' Lambda functions through the real AWS CLI against `bluegreen local serve`: create-function with a zip
file, then invoke."""

from __future__ import annotations

import base64
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from .serve import BIN, approve, aws, serve_env, serving, wait_done

APP = """
import os
import boto3

def handler(event, context):
    # The function's boto3 calls go to the emulator it runs on (AWS_ENDPOINT_URL).
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"echo": event, "greeting": os.environ["GREETING"], "sees_itself": context.function_name in names}
"""


@pytest.fixture(scope="module")
def endpoint():
    with serving() as served:
        yield served


def zip_file(directory: Path, code: str) -> Path:
    path = directory / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", code)
    return path


def cli(endpoint, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "aws"), "--endpoint-url", endpoint["url"], "--output", "json", *args],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def create(endpoint, tmp_path: Path, name: str, code: str, *extra: str) -> dict:
    role = aws(endpoint, "iam", "create-role", "--role-name", f"{name}-role", "--assume-role-policy-document", "{}")
    return aws(
        endpoint,
        "lambda", "create-function", "--function-name", name, "--runtime", "python3.13",
        "--handler", "app.handler", "--role", role["Role"]["Arn"],
        "--zip-file", f"fileb://{zip_file(tmp_path, code)}", *extra,
    )  # fmt: skip


def invoke(endpoint, tmp_path: Path, name: str, event: dict, *extra: str) -> tuple[dict, object]:
    (tmp_path / "event.json").write_text(json.dumps(event))
    out = tmp_path / "out.json"
    answer = aws(
        endpoint,
        "lambda", "invoke", "--function-name", name, "--payload", f"fileb://{tmp_path / 'event.json'}",
        *extra, str(out),
    )  # fmt: skip
    return answer, json.loads(out.read_text())


def test_create_function_from_a_zip_file_then_invoke_it(endpoint, tmp_path):
    created = create(
        endpoint, tmp_path, "bluegreen-hook-cli", APP,
        "--environment", "Variables={GREETING=hello}", "--timeout", "5", "--memory-size", "256",
    )  # fmt: skip
    assert (created["Runtime"], created["Timeout"], created["MemorySize"]) == ("python3.13", 5, 256)

    answer, payload = invoke(endpoint, tmp_path, "bluegreen-hook-cli", {"ping": 1}, "--log-type", "Tail")

    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert payload == {"echo": {"ping": 1}, "greeting": "hello", "sees_itself": True}
    log = base64.b64decode(answer["LogResult"]).decode()
    assert log.startswith("START RequestId: ") and "REPORT RequestId: " in log and "Memory Size: 256 MB" in log


def test_an_exception_and_a_timeout_are_function_errors(endpoint, tmp_path):
    create(endpoint, tmp_path, "raises", "def handler(e, c):\n    raise KeyError('sku')\n")
    create(endpoint, tmp_path, "sleeps", "import time\ndef handler(e, c):\n    time.sleep(30)\n", "--timeout", "1")

    raised, error = invoke(endpoint, tmp_path, "raises", {})
    timed_out, late = invoke(endpoint, tmp_path, "sleeps", {})

    assert raised["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'sku'")
    assert timed_out["FunctionError"] == "Unhandled"
    assert late["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_another_runtime_is_refused_by_create_function(endpoint, tmp_path):
    role = aws(endpoint, "iam", "create-role", "--role-name", "node-role", "--assume-role-policy-document", "{}")

    result = cli(
        endpoint,
        "lambda", "create-function", "--function-name", "node-hook", "--runtime", "nodejs20.x",
        "--handler", "index.handler", "--role", role["Role"]["Arn"],
        "--zip-file", f"fileb://{zip_file(tmp_path, 'exports.handler = async () => ({});')}",
    )  # fmt: skip

    assert result.returncode != 0
    assert "InvalidParameterValueException" in result.stderr
    assert "python3.11, python3.12, python3.13" in result.stderr
    assert "node-hook" not in json.dumps(aws(endpoint, "lambda", "list-functions"))


HOOK = """
def handler(event, context):
    details = event.get("hookDetails") or {}
    polls = int(details.get("polls", 0)) + 1
    if polls < 2:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {**details, "polls": polls}}
    return {"hookStatus": "SUCCEEDED", "hookDetails": {"stage": event["lifecycleStage"], "polls": polls}}
"""


@pytest.mark.matrix  # end to end through the real AWS CLI against `local serve`: with the slow matrices
def test_a_release_runs_a_hook_created_with_the_aws_cli(endpoint, tmp_path):
    # Given a hook function created with the AWS CLI, and demo-web's configuration naming it
    arn = create(endpoint, tmp_path, "bluegreen-hook-e2e", HOOK)["FunctionArn"]
    name = "/bluegreen/services/demo-web"
    config = json.loads(aws(endpoint, "ssm", "get-parameter", "--name", name)["Parameter"]["Value"])
    config["hooks"] = {"afterGreenHealthy": [{"functionArn": arn, "name": "e2e-smoke"}]}
    aws(
        endpoint,
        "ssm",
        "put-parameter",
        "--name",
        name,
        "--type",
        "String",
        "--overwrite",
        "--value",
        json.dumps(config),
    )

    # When a release starts and is approved
    started = aws(
        endpoint,
        "stepfunctions", "start-execution", "--state-machine-arn", endpoint["arn"], "--name", "user-hook",
        "--input", json.dumps({"service": "demo-web", "imageTag": "v2"}),
    )  # fmt: skip
    approve(endpoint)

    # Then it deployed after the hook answered IN_PROGRESS, then SUCCEEDED
    description = wait_done(endpoint, started["executionArn"])
    assert description["status"] == "SUCCEEDED", description.get("cause")
    hooks = json.loads(description["output"])["hooks"]
    assert [(h["name"], h["passed"], h["invocations"]) for h in hooks] == [("e2e-smoke", True, 2)]
