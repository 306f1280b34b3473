"""The hooks' pure verdicts and configuration refusals (no AWS)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bluegreen.domain.errors import HookConfigOutOfRange, HookFunctionNotAllowed, UnknownHookType
from bluegreen.domain.hooks import (
    HookResponse,
    HookResult,
    HooksConfig,
    LambdaHook,
    Stage,
    auto_approve,
    ecs_payload,
    next_poll,
    parse_response,
    refuse_disallowed,
    refuse_invalid,
)
from bluegreen.domain.models import ServiceConfig

ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-smoke"
BASE = {
    "cluster": "c",
    "service": "s",
    "containerName": "web",
    "repository": "r",
    "productionRuleArn": "p",
    "testRuleArn": "t",
    "targetGroupArns": ["a", "b"],
}


def result(passed: bool) -> HookResult:
    return HookResult(name="h", stage=Stage.AFTER_GREEN_HEALTHY, passed=passed, durationSeconds=1, invocations=1)


@pytest.mark.parametrize(
    ("payload", "error", "expected"),
    [
        ('{"hookStatus": "SUCCEEDED"}', None, "SUCCEEDED"),
        ('{"hookStatus": "IN_PROGRESS", "callBackDelay": 60, "hookDetails": {"n": 1}}', None, "IN_PROGRESS"),
        ('{"hookStatus": "FAILED"}', None, "FAILED"),
    ],
)
def test_a_valid_ecs_hook_answer_is_parsed(payload, error, expected):
    # Given an ECS lifecycle-hook answer, When it is parsed, Then its status is kept
    answer = parse_response(payload.encode(), error)
    assert isinstance(answer, HookResponse) and answer.hookStatus == expected


@pytest.mark.parametrize(
    ("payload", "error", "says"),
    [
        ('{"status": "ok"}', None, 'no valid hookStatus in the response: {"status": "ok"}'),
        ('{"hookStatus": "DONE"}', None, "no valid hookStatus"),
        ("not json", None, "no valid hookStatus in the response: not json"),
        ('{"errorType": "Boom"}', "Unhandled", "the function failed (Unhandled)"),
        ('{"hookStatus": "SUCCEEDED"}', "Unhandled", "the function failed"),
    ],
)
def test_garbage_or_a_function_error_is_a_failure_with_the_response_in_the_cause(payload, error, says):
    answer = parse_response(payload, error)
    assert isinstance(answer, str) and says in answer


def test_a_long_garbage_response_is_cut_in_the_cause():
    answer = parse_response(json.dumps({"x": "y" * 5000}), None)
    assert isinstance(answer, str) and len(answer) < 400


def test_callback_delay_defaults_to_30_seconds_as_ecs_and_stops_at_the_timeout():
    answer = HookResponse(hookStatus="IN_PROGRESS")
    assert next_poll(answer, elapsed=0, timeout=300) == 30
    assert next_poll(answer, elapsed=270, timeout=300) is None  # no invocation at or after the timeout


@pytest.mark.parametrize(
    ("enabled", "stage", "results", "expected"),
    [
        (True, Stage.AFTER_GREEN_HEALTHY, [result(True), result(True)], True),
        (True, Stage.AFTER_GREEN_HEALTHY, [result(True), result(False)], False),
        (True, Stage.AFTER_GREEN_HEALTHY, [], False),  # no hook: a person still approves
        (False, Stage.AFTER_GREEN_HEALTHY, [result(True)], False),
        (True, Stage.AFTER_CUTOVER, [result(True)], False),
    ],
)
def test_auto_approve_only_when_asked_and_every_pre_approval_hook_passed(enabled, stage, results, expected):
    assert auto_approve(stage, results, enabled) is expected


def test_the_payload_is_close_to_what_ecs_sends():
    hook = LambdaHook(functionArn=ARN, hookDetails={"suite": "smoke"})
    payload = ecs_payload(Stage.AFTER_GREEN_HEALTHY, hook, "svc", "green", {"green": 100}, {"blue": 100}, {"k": 1})
    assert payload["executionDetails"] == {
        "serviceArn": "svc",
        "targetServiceRevisionArn": "green",
        "testTrafficWeights": {"green": 100},
        "productionTrafficWeights": {"blue": 100},
    }
    assert payload["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert payload["hookDetails"] == {"k": 1}


def refusal(hooks: dict) -> Exception:
    with pytest.raises(ValidationError) as caught:
        ServiceConfig.model_validate({**BASE, "hooks": hooks})
    with pytest.raises((UnknownHookType, HookConfigOutOfRange)) as refused:
        refuse_invalid(caught.value, "SSM parameter /x")
    return refused.value


def test_an_unknown_hook_type_has_its_own_error_name():
    error = refusal({"afterGreenHealthy": [{"type": "webhook", "functionArn": ARN}]})
    assert isinstance(error, UnknownHookType) and "'webhook'" in str(error)


@pytest.mark.parametrize(
    "hook",
    [
        {"functionArn": ARN, "timeoutSeconds": 0},
        {"functionArn": ARN, "timeoutSeconds": 841},
        {"functionArn": "not-an-arn"},
        {"timeoutSeconds": 10},
    ],
)
def test_out_of_range_settings_have_their_own_error_name(hook):
    assert isinstance(refusal({"afterCutover": [hook]}), HookConfigOutOfRange)


def test_errors_outside_hooks_are_left_to_the_caller():
    with pytest.raises(ValidationError) as caught:
        ServiceConfig.model_validate({**BASE, "bakeSeconds": 0})
    refuse_invalid(caught.value, "x")  # no exception: InvalidServiceConfig is raised by the caller


def test_a_function_outside_the_stacks_pattern_is_refused():
    hooks = HooksConfig(afterCutover=[LambdaHook(functionArn=ARN.replace("bluegreen-hook-smoke", "payroll"))])
    with pytest.raises(HookFunctionNotAllowed):
        refuse_disallowed(hooks, "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-*")
    refuse_disallowed(
        HooksConfig(afterCutover=[LambdaHook(functionArn=ARN)]), "arn:aws:lambda:*:*:function:bluegreen-hook-*"
    )


def test_an_ecs_task_hook_is_parsed_and_its_settings_checked():
    config = ServiceConfig.model_validate(
        {**BASE, "hooks": {"afterGreenHealthy": [{"type": "ecsTask", "command": ["./migrate"]}]}}
    )
    (hook,) = config.hooks.afterGreenHealthy
    assert hook.type == "ecsTask" and hook.pollSeconds == 15 and hook.label == "task ./migrate"
    assert isinstance(refusal({"afterGreenHealthy": [{"type": "ecsTask", "command": []}]}), HookConfigOutOfRange)
    assert isinstance(
        refusal({"afterGreenHealthy": [{"type": "ecsTask", "command": ["x"], "pollSeconds": 1}]}), HookConfigOutOfRange
    )
