"""A user's hook Lambda, written from AWS's ECS lifecycle-hook documentation, created as a zip through the Lambda
API and run as a release's hook on the emulator (in its own process)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from bluegreen_emulator import user_lambdas

from .helpers import production_modify_calls, snapshot

# Written only from "Lambda hooks for Amazon ECS service deployments" (Amazon ECS developer guide): the function
# returns hookStatus, optionally callBackDelay and hookDetails; hookDetails comes back on the next invocation.
ECS_HOOK = """
import os

def handler(event, context):
    details = event.get("hookDetails") or {}
    mode = os.environ["MODE"]
    seen = {"stage": event["lifecycleStage"], "service": event["executionDetails"]["serviceArn"]}
    if mode == "fail":
        return {"hookStatus": "FAILED", "hookDetails": {**seen, "reason": "checkout smoke test answered 503"}}
    polls = int(details.get("polls", 0)) + 1
    if polls < 3:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 10, "hookDetails": {**details, "polls": polls}}
    return {"hookStatus": "SUCCEEDED", "hookDetails": {**seen, "polls": polls}}
"""

INVALID = {
    "no hookStatus": ("def handler(e, c):\n    return {'status': 'ok'}\n", 3, '"status": "ok"'),
    "unknown hookStatus": ("def handler(e, c):\n    return {'hookStatus': 'DONE'}\n", 3, '"hookStatus": "DONE"'),
    "not an object": ("def handler(e, c):\n    return 'all good'\n", 3, '"all good"'),
    "exception": (
        "def handler(e, c):\n    raise RuntimeError('cannot reach the checkout page')\n",
        3,
        "cannot reach the checkout page",
    ),
    "timeout": ("import time\ndef handler(e, c):\n    time.sleep(20)\n", 1, "Task timed out after 1.00 seconds"),
}


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def create_hook(emulator, name: str, code: str, timeout: int = 3, env: dict[str, str] | None = None) -> str:
    """CreateFunction of a Python zip, as a user would (boto3 against the emulator)."""
    role = emulator.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return emulator.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": code})},
        Timeout=timeout,
        MemorySize=256,
        Environment={"Variables": env or {}},
    )["FunctionArn"]


def seed(emulator, arn: str, **extra):
    hooks = {"afterGreenHealthy": [{"functionArn": arn, "name": "smoke", "timeoutSeconds": 300}]}
    return emulator.seed_service(config_overrides={"hooks": hooks, **extra})


def test_in_progress_then_succeeded_deploys(emulator):
    # Given a user's zip hook answering IN_PROGRESS (callBackDelay 10 s) twice, then SUCCEEDED
    arn = create_hook(emulator, "bluegreen-hook-user-smoke", ECS_HOOK, env={"MODE": "pass"})
    demo = seed(emulator, arn)

    # When the service is released
    result = emulator.run(demo.name, "v2")

    # Then the release went on after the hook passed, polled after each callBackDelay with its hookDetails
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.user_functions.invocations["bluegreen-hook-user-smoke"] == 3
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]
    line = emulator.store.deployments(demo.name)[0]["hooks_afterGreenHealthy"]
    assert "afterGreenHealthy hook smoke passed in 20s (3 call(s))" in line
    assert '"stage": "POST_TEST_TRAFFIC_SHIFT"' in line and '"polls": 3' in line


def test_failed_cleans_up_green_and_leaves_production_untouched(emulator):
    arn = create_hook(emulator, "bluegreen-hook-user-fail", ECS_HOOK, env={"MODE": "fail"})
    demo = seed(emulator, arn)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == "cleaned_up", result.cause
    assert result.error == "HookFailed"
    assert "checkout smoke test answered 503" in result.cause
    assert "Swap" not in result.states and emulator.approvals == []
    assert production_modify_calls(emulator, demo.name) == 0
    assert snapshot(emulator, demo.name) == before
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
    assert emulator.store.lock_holder(demo.name) is None


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_answer_fails_safely_with_hook_failed_naming_what_the_function_returned(emulator, case):
    code, timeout, returned = INVALID[case]
    arn = create_hook(emulator, "bluegreen-hook-user-bad", code, timeout=timeout)
    demo = seed(emulator, arn)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == "cleaned_up", result.cause
    assert result.error == "HookFailed"
    assert returned in result.cause
    if case in ("exception", "timeout"):
        assert "the function failed (Unhandled)" in result.cause
    else:
        assert "no valid hookStatus in the response" in result.cause
    assert snapshot(emulator, demo.name) == before
    assert emulator.user_functions.invocations["bluegreen-hook-user-bad"] == 1


def test_the_local_user_invokes_any_function_directly_as_the_accounts_admin(emulator):
    # Given a user function, and the stack's demo hook (neither invoked by the state machine)
    arn = create_hook(emulator, "my-own-function", "def handler(e, c):\n    return {'echo': e}\n")
    lam = emulator.client("lambda")

    # When the local user invokes them with the account's credentials
    mine = lam.invoke(FunctionName=arn, Payload=json.dumps({"a": 1}).encode())
    demo = lam.invoke(FunctionName="bluegreen-hook-demo", Payload=json.dumps({"hookDetails": {}}).encode())

    # Then both run (no AccessDeniedException): the caller is the account's admin, not the state machine's role
    assert "FunctionError" not in mine and json.loads(mine["Payload"].read()) == {"echo": {"a": 1}}
    assert "FunctionError" not in demo and json.loads(demo["Payload"].read())["hookStatus"] == "SUCCEEDED"


def test_an_invoke_by_the_state_machine_is_authorized_against_its_role(emulator):
    # Given a user function outside what the state machine's role may invoke, and one of the stack's functions
    create_hook(emulator, "outside-the-stack", "def handler(e, c):\n    return 1\n")
    authorize = emulator.dispatcher.authorize_invoke

    # When Step Functions (a Task state) invokes them, and when the local user does
    user_lambdas._caller.states = True
    try:
        by_states = (authorize("outside-the-stack"), authorize(emulator.function_name("ValidateFunction")))
    finally:
        user_lambdas._caller.states = False
    by_user = authorize("outside-the-stack")

    # Then the state machine's role allows only its own functions; the account's user may invoke any
    assert by_states == (False, True)
    assert by_user is True
    denial = emulator.iam.denials[-1]
    assert (denial.principal, denial.request.action) == ("DeploymentStateMachine", "lambda:InvokeFunction")
    assert denial.request.resource.endswith(":function:outside-the-stack")
