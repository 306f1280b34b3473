"""The ECS native controller's pure decisions: the configuration sent, the stage mapping, the hook answers and
the Validate-time refusals (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bluegreen.domain.errors import ApprovalTimeoutBeyondNativeLimit, NativeControllerUnsupported
from bluegreen.domain.hooks import Stage
from bluegreen.domain.models import ServiceConfig
from bluegreen.domain.native import (
    APPROVAL_STAGE,
    MAX_HOOK_TIMEOUT_MINUTES,
    PROGRESS_KEY,
    HookVerdict,
    NativeHook,
    NativeHookInvocation,
    NativeStage,
    NativeTargets,
    answer_hook,
    deployment_configuration,
    stages_with_work,
)

HOOK = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-smoke"
TARGETS = NativeTargets(
    hookFunctionArn="arn:aws:lambda:us-east-1:123456789012:function:bluegreen-native-hook",
    hookRoleArn="arn:aws:iam::123456789012:role/bluegreen-ecs-hook-invoke",
)
BASE: dict[str, Any] = {
    "cluster": "c",
    "service": "web",
    "containerName": "web",
    "repository": "web",
    "productionRuleArn": "p",
    "testRuleArn": "t",
    "targetGroupArns": ["arn:tg/blue", "arn:tg/green"],
}
SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/c/web"
GREEN = "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/2"
BLUE = "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/1"


def config(**changes: Any) -> ServiceConfig:
    return ServiceConfig.model_validate({**BASE, **changes})


def lambda_hook(seconds: int = 300) -> dict[str, Any]:
    return {"type": "lambda", "functionArn": HOOK, "timeoutSeconds": seconds}


# --- the deployment configuration ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shift", "strategy", "extra"),
    [
        ({"type": "ALL_AT_ONCE"}, "BLUE_GREEN", {}),
        (
            {"type": "CANARY", "percent": 10, "intervalSeconds": 300},
            "CANARY",
            {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}},
        ),
        (
            {"type": "LINEAR", "percent": 25, "intervalSeconds": 90},
            "LINEAR",
            {"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}},
        ),
    ],
)
def test_traffic_shift_becomes_the_native_strategy(shift, strategy, extra):
    # Given a service's trafficShift / When the native configuration is built
    sent = deployment_configuration(config(trafficShift=shift, bakeSeconds=600), TARGETS).to_api()
    # Then the strategy, the step bake in whole minutes (rounded up) and the bake time
    assert sent["strategy"] == strategy
    assert sent["bakeTimeInMinutes"] == 10
    for key, value in extra.items():
        assert sent[key] == value
    assert set(sent) & {"linearConfiguration", "canaryConfiguration"} == set(extra)


@pytest.mark.parametrize(("bake", "minutes"), [(1, 1), (60, 1), (61, 2), (86400, 1440)])
def test_bake_rounds_up_to_whole_minutes_within_the_native_range(bake, minutes):
    assert deployment_configuration(config(bakeSeconds=bake), TARGETS).bakeTimeInMinutes == minutes


def test_approval_is_a_pause_before_production_moves_with_its_timeout_and_rollback():
    # Given a required approval of 2 days
    sent = deployment_configuration(config(approval={"timeoutSeconds": 2 * 86400}), TARGETS).to_api()
    # Then one PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT, 2880 minutes, rolling back on timeout
    pauses = [h for h in sent["lifecycleHooks"] if h["targetType"] == "PAUSE"]
    assert pauses == [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 2880, "action": "ROLLBACK"},
        }
    ]


def test_no_approval_no_pause_and_no_hooks_no_lambda():
    sent = deployment_configuration(config(approval={"required": False}), TARGETS).to_api()
    assert sent["lifecycleHooks"] == []
    assert "alarms" not in sent


def test_our_hooks_run_in_one_dispatcher_hook_at_their_native_stages():
    # Given hooks before approval, at each canary step and after the cutover
    hooks = {"afterGreenHealthy": [lambda_hook(300)], "eachTrafficStep": [lambda_hook(120)], "afterCutover": []}
    cfg = config(hooks=hooks, trafficShift={"type": "CANARY", "percent": 10})
    sent = deployment_configuration(cfg, TARGETS).to_api()
    # Then one AWS_LAMBDA hook, our dispatcher, invoked through the stack's role, at the stages with work
    lambdas = [h for h in sent["lifecycleHooks"] if h["targetType"] == "AWS_LAMBDA"]
    assert len(lambdas) == 1
    hook = lambdas[0]
    assert hook["hookTargetArn"] == TARGETS.hookFunctionArn
    assert hook["roleArn"] == TARGETS.hookRoleArn
    assert hook["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]
    assert hook["hookDetails"] == {"service": "web"}
    # the longest stage's budget (300 s = 5 min) plus the dispatcher's grace
    assert hook["timeoutConfiguration"] == {"timeoutInMinutes": 10, "action": "ROLLBACK"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {}),
        (
            {"hooks": {"afterGreenHealthy": [lambda_hook()]}},
            {NativeStage.POST_TEST_TRAFFIC_SHIFT: [Stage.AFTER_GREEN_HEALTHY]},
        ),
        ({"hooks": {"eachTrafficStep": [lambda_hook()]}}, {}),  # all at once: no partial step
        (
            {"hooks": {"eachTrafficStep": [lambda_hook()]}, "trafficShift": {"type": "LINEAR", "percent": 20}},
            {NativeStage.PRODUCTION_TRAFFIC_SHIFT: [Stage.EACH_TRAFFIC_STEP]},
        ),
        (
            {"hooks": {"afterCutover": [lambda_hook()]}},
            {NativeStage.POST_PRODUCTION_TRAFFIC_SHIFT: [Stage.AFTER_CUTOVER]},
        ),
        (
            {"analysis": {}, "trafficShift": {"type": "CANARY", "percent": 5}},
            {
                NativeStage.POST_TEST_TRAFFIC_SHIFT: [Stage.AFTER_GREEN_HEALTHY],
                NativeStage.PRODUCTION_TRAFFIC_SHIFT: [Stage.EACH_TRAFFIC_STEP],
            },
        ),
    ],
)
def test_stage_mapping(changes, expected):
    assert stages_with_work(config(**changes)) == expected


def test_alarms_roll_the_native_deployment_back():
    sent = deployment_configuration(config(alarmNames=["web-5xx", "web-p99"]), TARGETS).to_api()
    assert sent["alarms"] == {"alarmNames": ["web-5xx", "web-p99"], "enable": True, "rollback": True}


def test_the_approval_stage_accepts_a_pause():
    assert APPROVAL_STAGE not in {NativeStage.TEST_TRAFFIC_SHIFT, NativeStage.PRODUCTION_TRAFFIC_SHIFT}


@pytest.mark.parametrize("stage", ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])
def test_a_pause_is_refused_where_ecs_refuses_it(stage):
    with pytest.raises(ValidationError, match="PAUSE hook cannot be at"):
        NativeHook(targetType="PAUSE", lifecycleStages=[stage])


def test_a_lambda_hook_needs_its_function_and_role():
    with pytest.raises(ValidationError, match="hookTargetArn and roleArn"):
        NativeHook(lifecycleStages=["POST_SCALE_UP"], hookTargetArn=HOOK)


# --- Validate-time refusals ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "refused"),
    [(MAX_HOOK_TIMEOUT_MINUTES * 60, False), (MAX_HOOK_TIMEOUT_MINUTES * 60 + 1, True), (365 * 86400, True)],
)
def test_an_approval_longer_than_a_pause_hook_is_refused_naming_the_limit_and_the_external_path(seconds, refused):
    cfg = config(approval={"timeoutSeconds": seconds})
    if not refused:
        assert deployment_configuration(cfg, TARGETS).pause_hooks()[0].timeoutConfiguration.timeoutInMinutes == 20160
        return
    with pytest.raises(ApprovalTimeoutBeyondNativeLimit) as raised:
        deployment_configuration(cfg, TARGETS)
    assert "20160 minutes" in raised.value.message
    assert "EXTERNAL" in raised.value.message


def test_an_unrequired_approval_has_no_limit():
    cfg = config(approval={"required": False, "timeoutSeconds": 365 * 86400})
    assert deployment_configuration(cfg, TARGETS).pause_hooks() == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"keepOld": {"enabled": True}}, "keepOld.enabled"),
        ({"hooks": {"beforeDeleteOld": [lambda_hook()]}}, "hooks.beforeDeleteOld"),
        ({"trafficShift": {"type": "LINEAR", "percent": 2}}, "trafficShift.percent"),
    ],
)
def test_what_ecs_cannot_do_is_refused_with_what_to_change(changes, named):
    with pytest.raises(NativeControllerUnsupported) as raised:
        deployment_configuration(config(**changes), TARGETS)
    assert named in raised.value.message
    assert "EXTERNAL" in raised.value.message or "at least 3%" in raised.value.message


# --- answering an invocation --------------------------------------------------------------------------
def invocation(stage: str, details: dict[str, Any] | None = None, green_prod: float = 0, green_test: float = 100):
    return NativeHookInvocation.model_validate(
        {
            "executionId": "exec-1",
            "lifecycleStage": stage,
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc",
            "executionDetails": {
                "serviceArn": SERVICE,
                "targetServiceRevisionArn": GREEN,
                "testTrafficWeights": {GREEN: green_test, BLUE: 100 - green_test},
                "productionTrafficWeights": {GREEN: green_prod, BLUE: 100 - green_prod},
            },
            "hookDetails": details,
        }
    )


HOOKED = config(hooks={"afterGreenHealthy": [lambda_hook(300)]})


def passed(name: str = "smoke") -> HookVerdict:
    return HookVerdict(name=name, state="passed")


def failed(name: str = "smoke", reason: str = "500 on /checkout") -> HookVerdict:
    return HookVerdict(name=name, state="failed", reason=reason)


def pending(name: str = "smoke", retry: int | None = None) -> HookVerdict:
    return HookVerdict(name=name, state="pending", retryAfterSeconds=retry)


@pytest.mark.parametrize(
    ("verdicts", "status", "delay"),
    [
        ([], "SUCCEEDED", None),
        ([passed()], "SUCCEEDED", None),
        ([passed("a"), failed("b")], "FAILED", None),
        ([pending("a"), failed("b")], "FAILED", None),  # a failure wins over a pending one
        ([pending()], "IN_PROGRESS", 30),  # ECS's default delay
        ([pending("a", 60), pending("b", 10)], "IN_PROGRESS", 10),  # the earliest retry asked
        ([passed("a"), pending("b", 45)], "IN_PROGRESS", 45),
    ],
)
def test_the_answer_follows_our_verdicts(verdicts, status, delay):
    answer = answer_hook(invocation("POST_TEST_TRAFFIC_SHIFT"), HOOKED, verdicts, now=1000.0)
    assert answer.hookStatus == status
    assert answer.callBackDelay == delay


def test_a_failure_says_which_hook_and_why():
    answer = answer_hook(invocation("POST_TEST_TRAFFIC_SHIFT"), HOOKED, [failed()], now=0).to_api()
    assert answer == {"hookStatus": "FAILED", "hookDetails": {PROGRESS_KEY: {"failed": {"smoke": "500 on /checkout"}}}}


def test_in_progress_keeps_the_start_and_the_callers_details_for_the_next_invocation():
    # Given a first invocation carrying the service's hookDetails
    first = answer_hook(invocation("POST_TEST_TRAFFIC_SHIFT", {"service": "web"}), HOOKED, [pending()], now=1000.0)
    assert first.hookDetails == {"service": "web", PROGRESS_KEY: {"startedAt": 1000.0, "pending": ["smoke"]}}
    # When ECS calls again with those details 290 s later
    again = invocation("POST_TEST_TRAFFIC_SHIFT", first.hookDetails)
    second = answer_hook(again, HOOKED, [pending()], now=1290.0)
    # Then the callback never goes past the stage's budget (300 s from the first invocation)
    assert second.hookStatus == "IN_PROGRESS"
    assert second.callBackDelay == 10
    assert second.hookDetails[PROGRESS_KEY]["startedAt"] == 1000.0
    # And once the budget is spent a pending hook fails the stage
    late = answer_hook(again, HOOKED, [pending()], now=1300.0)
    assert late.hookStatus == "FAILED"
    assert "not finished within 300 s" in late.hookDetails[PROGRESS_KEY]["failed"]["smoke"]


@pytest.mark.parametrize(
    ("stage", "green_prod", "green_test", "cfg", "judged"),
    [
        ("PRE_SCALE_UP", 0, 0, HOOKED, False),  # nothing of ours at this stage
        ("NOT_A_STAGE", 0, 0, HOOKED, False),
        ("POST_TEST_TRAFFIC_SHIFT", 0, 100, HOOKED, True),
        (
            "PRODUCTION_TRAFFIC_SHIFT",
            10,
            100,
            config(hooks={"eachTrafficStep": [lambda_hook()]}, trafficShift={"type": "CANARY"}),
            True,
        ),
        (  # a rollback moves production back to blue and invokes the hook again: nothing to judge
            "PRODUCTION_TRAFFIC_SHIFT",
            0,
            100,
            config(hooks={"eachTrafficStep": [lambda_hook()]}, trafficShift={"type": "CANARY"}),
            False,
        ),
    ],
)
def test_only_our_stages_are_judged(stage, green_prod, green_test, cfg, judged):
    answer = answer_hook(invocation(stage, green_prod=green_prod, green_test=green_test), cfg, [failed()], now=0)
    assert answer.hookStatus == ("FAILED" if judged else "SUCCEEDED")


def test_the_guides_flat_payload_is_read_too():
    flat = NativeHookInvocation.model_validate(
        {
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "serviceArn": SERVICE,
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": {GREEN: 100},
            "productionTrafficWeights": {BLUE: 100},
        }
    )
    assert flat.executionDetails.targetServiceRevisionArn == GREEN
    assert flat.green_weight("test") == 100
    assert flat.green_weight("production") == 0
    assert flat.hookDetails == {}


@pytest.mark.parametrize(("rolling_back", "status"), [(True, "SUCCEEDED"), (False, "FAILED"), (None, "SUCCEEDED")])
def test_the_deployments_status_overrides_the_weights_when_the_caller_read_it(rolling_back, status):
    # Given a PRODUCTION_TRAFFIC_SHIFT invocation where green holds no production traffic yet (a first step
    # about to shift, or a rollback shifting back) and a failing verdict
    cfg = config(hooks={"eachTrafficStep": [lambda_hook()]}, trafficShift={"type": "CANARY"})
    call = invocation("PRODUCTION_TRAFFIC_SHIFT", green_prod=0)
    # When the dispatcher knows the deployment's status / Then that decides; without it the weights do
    assert answer_hook(call, cfg, [failed()], now=0, rolling_back=rolling_back).hookStatus == status
