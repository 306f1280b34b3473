"""Users' Lambda functions on moto: CreateFunction of a Python zip, and each invocation in its own process."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen_emulator.emulator import ACCOUNT, MOTO_CONFIG, REGION
from bluegreen_emulator.user_lambdas import UserFunctions

ROLE = f"arn:aws:iam::{ACCOUNT}:role/user-function"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def functions() -> Iterator[tuple[Any, UserFunctions]]:
    with mock_aws(config=MOTO_CONFIG):
        boto3.client("iam", region_name=REGION).create_role(RoleName="user-function", AssumeRolePolicyDocument="{}")
        users = UserFunctions(ACCOUNT, REGION)
        users.install()
        try:
            yield boto3.client("lambda", region_name=REGION), users
        finally:
            users.close()


def create(lam: Any, name: str, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    arguments = {"Runtime": "python3.13", "Handler": "app.handler", "Role": ROLE, **extra}
    return lam.create_function(FunctionName=name, Code={"ZipFile": zipped(files)}, **arguments)


def invoke(users: UserFunctions, name: str, event: Any = None) -> tuple[Any, str | None]:
    answer = users.run(name, json.dumps(event or {}))
    return json.loads(answer.payload), answer.function_error


# --- CreateFunction ------------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", ["python3.11", "python3.12", "python3.13"])
def test_a_python_zip_is_created_with_its_configuration_stored(functions, runtime):
    lam, _ = functions

    create(
        lam, "hook-a", {"app.py": "def handler(e, c): return 1"}, Runtime=runtime,
        Environment={"Variables": {"SUITE": "smoke"}}, Timeout=7, MemorySize=512,
    )  # fmt: skip

    config = lam.get_function_configuration(FunctionName="hook-a")
    assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == (
        runtime,
        "app.handler",
        7,
        512,
    )
    assert config["Environment"]["Variables"] == {"SUITE": "smoke"}


@pytest.mark.parametrize("runtime", ["nodejs20.x", "java21", "provided.al2023", "ruby3.3", "python3.9"])
def test_another_runtime_is_refused_at_create_time_naming_the_runtimes_that_run(functions, runtime):
    lam, _ = functions

    with pytest.raises(ClientError) as refused:
        create(lam, "node-hook", {"index.js": "exports.handler = async () => ({})"}, Runtime=runtime)

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    message = refused.value.response["Error"]["Message"]
    assert runtime in message and "python3.11, python3.12, python3.13" in message
    assert lam.list_functions()["Functions"] == []  # nothing was created


def test_code_that_is_not_a_zip_is_refused(functions):
    lam, _ = functions

    with pytest.raises(ClientError) as refused:
        lam.create_function(
            FunctionName="broken", Runtime="python3.13", Handler="app.handler", Role=ROLE, Code={"ZipFile": b"hello"}
        )

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Could not unzip uploaded file" in refused.value.response["Error"]["Message"]


def test_reserved_environment_variables_and_out_of_range_limits_are_refused(functions):
    lam, _ = functions
    code = {"app.py": "def handler(e, c): return 1"}

    with pytest.raises(ClientError) as reserved:
        create(lam, "f1", code, Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    with pytest.raises(ClientError) as timeout:
        create(lam, "f2", code, Timeout=901)
    with pytest.raises(ClientError) as memory:
        create(lam, "f3", code, MemorySize=20_000)

    assert reserved.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "AWS_REGION" in reserved.value.response["Error"]["Message"]
    assert timeout.value.response["Error"]["Code"] == "ValidationException"
    assert memory.value.response["Error"]["Code"] == "ValidationException"


# --- Invoke ------------------------------------------------------------------------------------------------
def test_invoke_returns_the_handlers_result_with_lambdas_context_and_environment(functions):
    lam, users = functions
    code = """
import os
def handler(event, context):
    return {"got": event, "name": context.function_name, "memory": context.memory_limit_in_mb,
            "suite": os.environ["SUITE"], "region": os.environ["AWS_REGION"],
            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 5000}
"""
    create(lam, "hook-a", {"app.py": code}, Environment={"Variables": {"SUITE": "smoke"}}, Timeout=5, MemorySize=256)

    payload, error = invoke(users, "hook-a", {"x": 1})

    assert error is None
    assert payload == {
        "got": {"x": 1}, "name": "hook-a", "memory": 256, "suite": "smoke", "region": REGION, "remaining_ok": True,
    }  # fmt: skip


def test_a_handler_in_a_package_module_is_found(functions):
    lam, users = functions
    create(
        lam, "pkg", {"hooks/__init__.py": "", "hooks/smoke.py": "def run(e, c): return 'ok'"}, Handler="hooks.smoke.run"
    )

    assert invoke(users, "pkg") == ("ok", None)


def test_an_exception_is_a_function_error_with_lambdas_payload(functions):
    lam, users = functions
    code = "class SmokeFailed(Exception):\n    pass\ndef handler(e, c):\n    raise SmokeFailed('GET /health: 500')\n"
    create(lam, "boom", {"app.py": code})

    payload, error = invoke(users, "boom")

    assert error == "Unhandled"
    assert payload["errorType"] == "SmokeFailed"
    assert payload["errorMessage"] == "GET /health: 500"
    assert any("in handler" in line for line in payload["stackTrace"])


@pytest.mark.parametrize(
    ("files", "handler", "kind", "message"),
    [
        ({"app.py": "def handler(e, c): return 1"}, "nomodule.handler", "Runtime.ImportModuleError", "nomodule"),
        ({"app.py": "import not_installed_anywhere\n"}, "app.handler", "Runtime.ImportModuleError", "not_installed"),
        ({"app.py": "def other(e, c): return 1"}, "app.handler", "Runtime.HandlerNotFound", "missing on module"),
        ({"app.py": "def handler(e, c): return {1, 2}"}, "app.handler", "Runtime.MarshalError", "Unable to marshal"),
        ({"app.py": "import sys\ndef handler(e, c): sys.exit(3)"}, "app.handler", "Runtime.ExitError", "status 3"),
    ],
)
def test_runtime_errors_come_back_as_lambdas_runtime_error_types(functions, files, handler, kind, message):
    lam, users = functions
    create(lam, "bad", files, Handler=handler)

    payload, error = invoke(users, "bad")

    assert error == "Unhandled"
    assert payload["errorType"] == kind
    assert message in payload["errorMessage"]


def test_the_configured_timeout_is_enforced_and_reported_as_lambda_does(functions):
    lam, users = functions
    create(lam, "slow", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(30)\n"}, Timeout=1)

    started = time.monotonic()
    payload, error = invoke(users, "slow")

    assert time.monotonic() - started < 10  # killed at its 1 s timeout, not after its 30 s sleep
    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_two_functions_with_a_module_of_the_same_name_each_run_their_own(functions):
    lam, users = functions
    handler = "import helper\ndef handler(e, c): return helper.WHO\n"
    create(lam, "first", {"app.py": handler, "helper.py": "WHO = 'first'"})
    create(lam, "second", {"app.py": handler, "helper.py": "WHO = 'second'"})

    assert invoke(users, "first") == ("first", None)
    assert invoke(users, "second") == ("second", None)
    assert invoke(users, "first") == ("first", None)


def test_a_function_does_not_see_the_emulators_modules_or_environment(functions, monkeypatch):
    lam, users = functions
    monkeypatch.setenv("EMULATOR_SECRET", "do-not-leak")
    code = """
import os, sys
def handler(e, c):
    try:
        import user_lambdas  # the emulator's module, next to the bootstrap script
        found = True
    except ImportError:
        found = False
    return {"secret": os.environ.get("EMULATOR_SECRET"), "emulator_module": found,
            "loaded": "bluegreen_emulator.emulator" in sys.modules}
"""
    create(lam, "probe", {"app.py": code})

    assert invoke(users, "probe") == ({"secret": None, "emulator_module": False, "loaded": False}, None)


def test_environment_variables_are_not_shared_between_functions(functions):
    lam, users = functions
    code = "import os\ndef handler(e, c): return os.environ.get('COLOR')\n"
    create(lam, "blue", {"app.py": code}, Environment={"Variables": {"COLOR": "blue"}})
    create(lam, "plain", {"app.py": code})

    assert invoke(users, "blue") == ("blue", None)
    assert invoke(users, "plain") == (None, None)


def test_each_function_has_its_own_tmp(functions):
    lam, users = functions
    writer = """
import pathlib, tempfile
def handler(e, c):
    with open("/tmp/state.txt", "w") as out:
        out.write("writer")
    return {"tempdir": tempfile.gettempdir(), "back": pathlib.Path("/tmp/state.txt").read_text()}
"""
    reader = """
import os
def handler(e, c):
    return {"exists": os.path.exists("/tmp/state.txt"), "listing": sorted(os.listdir("/tmp"))}
"""
    create(lam, "writer", {"app.py": writer})
    create(lam, "reader", {"app.py": reader})

    wrote, _ = invoke(users, "writer")
    read, _ = invoke(users, "reader")
    again, _ = invoke(users, "writer")

    assert wrote["back"] == "writer"
    assert wrote["tempdir"] != "/tmp"  # tempfile uses the function's own directory
    assert read == {"exists": False, "listing": []}
    assert again["back"] == "writer"  # the writer's own /tmp is kept between its invocations
    assert not (users.root / "reader" / "tmp" / "state.txt").exists()
    assert (users.root / "writer" / "tmp" / "state.txt").read_text() == "writer"


def test_new_code_and_configuration_apply_to_the_next_invocation(functions):
    lam, users = functions
    create(lam, "hook", {"app.py": "import os\ndef handler(e, c): return ['v1', os.environ.get('X')]"})

    lam.update_function_code(
        FunctionName="hook",
        ZipFile=zipped({"app.py": "import os\ndef handler(e, c): return ['v2', os.environ.get('X')]"}),
    )
    lam.update_function_configuration(FunctionName="hook", Environment={"Variables": {"X": "on"}})

    assert invoke(users, "hook") == (["v2", "on"], None)


def test_a_function_that_does_not_exist_is_resource_not_found(functions):
    _, users = functions

    with pytest.raises(Exception) as missing:
        users.run("nobody", "{}")

    assert "Function not found" in str(missing.value)


def test_the_functions_output_is_its_log_framed_as_lambda_writes_it(functions):
    lam, users = functions
    create(
        lam, "chatty", {"app.py": "def handler(e, c):\n    print('checking /health')\n    return 1\n"}, MemorySize=256
    )

    answer = users.run("chatty", "{}")
    headers: dict[str, str] = {}
    users.invoke("chatty", "{}", headers)

    lines = answer.log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[1] == "checking /health"
    assert lines[2].startswith("END RequestId: ") and "Memory Size: 256 MB" in lines[3]
    assert "checking /health" in base64.b64decode(headers["x-amz-log-result"]).decode()


def test_a_zip_in_s3_runs_too(functions):
    lam, users = functions
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="hook.zip", Body=zipped({"app.py": "def handler(e, c): return 's3'"}))

    lam.create_function(
        FunctionName="from-s3", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"S3Bucket": "artifacts", "S3Key": "hook.zip"},
    )  # fmt: skip

    assert invoke(users, "from-s3") == ("s3", None)
