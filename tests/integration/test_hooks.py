"""Verification hooks on the emulator — each stage × pass, fail, timeout, garbage.

Every test asserts the final AWS state: the task sets, both rules, the lock and the gates.
"""

from __future__ import annotations

import pytest

from .helpers import production_modify_calls, snapshot

CANARY = {"type": "CANARY", "percent": 10, "intervalSeconds": 300}


def hook(emulator, behaviour, timeout=300):
    return {"functionArn": emulator.hook_arn(), "timeoutSeconds": timeout, "hookDetails": {"behaviour": behaviour}}


def seed(emulator, stage, behaviour, timeout=300, **extra):
    config = {"hooks": {stage: [hook(emulator, behaviour, timeout)]}, **extra}
    if stage == "eachTrafficStep":
        config["trafficShift"] = CANARY
    return emulator.seed_service(config_overrides=config)


def hook_invocations(emulator):
    return emulator.dispatcher.invocations["bluegreen-hook-demo"]


def assert_untouched(emulator, demo, before):
    assert snapshot(emulator, demo.name) == before
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
    assert emulator.store.lock_holder(demo.name) is None
    assert emulator.store.open_gate_of(demo.name) is None


# --- afterGreenHealthy: a failure cleans up before anyone is asked to approve ---------------------------
@pytest.mark.parametrize(
    ("behaviour", "timeout", "calls", "cause"),
    [
        ("fail", 300, 1, "GET /checkout returned 500"),
        ("garbage", 300, 1, "no valid hookStatus in the response"),
        ("error", 300, 1, "DemoHookError"),
        ("never", 90, 3, "still IN_PROGRESS when its 90s timeout ran out"),
    ],
)
def test_failing_green_hook_cleans_up_without_asking_anyone(emulator, behaviour, timeout, calls, cause):
    demo = seed(emulator, "afterGreenHealthy", behaviour, timeout)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == "cleaned_up", result.cause
    assert result.error == "HookFailed"
    assert cause in result.cause
    assert "AwaitApproval" not in result.states and "Swap" not in result.states
    assert emulator.approvals == []
    assert hook_invocations(emulator) == calls
    assert production_modify_calls(emulator, demo.name) == 0
    assert_untouched(emulator, demo, before)
    history = emulator.store.deployments(demo.name)[0]
    assert "afterGreenHealthy hook bluegreen-hook-demo FAILED" in history["hooks_afterGreenHealthy"]


def test_passing_green_hook_then_a_person_approves(emulator):
    demo = seed(emulator, "afterGreenHealthy", "slow")

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert hook_invocations(emulator) == 3  # IN_PROGRESS twice, then SUCCEEDED
    assert result.states.count("GreenHooks") == 1  # the polls cost no state transition
    assert len(emulator.approvals) == 1  # autoApproveWhenHooksPass is off by default
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]
    history = emulator.store.deployments(demo.name)[0]
    assert "passed in 40s (3 call(s))" in history["hooks_afterGreenHealthy"]


def test_hooks_pass_auto_approve(emulator):
    demo = seed(emulator, "afterGreenHealthy", "pass", approval={"autoApproveWhenHooksPass": True})

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert "AwaitApproval" not in result.states
    assert emulator.approvals == []
    # The execution's output lists the hooks' results
    assert [(h["stage"], h["passed"], h["kind"]) for h in result.output["hooks"]] == [
        ("afterGreenHealthy", True, "lambda")
    ]
    production = emulator.production_weights(demo.name)
    assert production[demo.target_groups[1]] > 0 and production.get(demo.target_groups[0], 0) == 0
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]
    assert emulator.store.lock_holder(demo.name) is None


# --- afterCutover and eachTrafficStep: a failure rolls back in one call, like an alarm ---------------------
@pytest.mark.parametrize("stage", ["afterCutover", "eachTrafficStep"])
@pytest.mark.parametrize(
    ("behaviour", "timeout", "cause"),
    [
        ("fail", 300, "GET /checkout returned 500"),
        ("garbage", 300, "no valid hookStatus"),
        ("never", 60, "still IN_PROGRESS when its 60s timeout ran out"),
    ],
)
def test_failing_hook_after_the_swap_rolls_back_in_one_call(emulator, stage, behaviour, timeout, cause):
    demo = seed(emulator, stage, behaviour, timeout)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == "rolled_back", result.cause
    assert "HookFailed" in result.cause and cause in result.cause
    assert "Bake" not in result.states
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    expected = [10, 0] if stage == "eachTrafficStep" else [100, 0]
    assert [weight for _, weight in emulator.weight_steps(demo.name)] == expected
    assert_untouched(emulator, demo, before)


@pytest.mark.parametrize("stage", ["afterCutover", "eachTrafficStep"])
def test_passing_hook_after_the_swap_deploys(emulator, stage):
    demo = seed(emulator, stage, "pass")

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert hook_invocations(emulator) == 1
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]
    assert [(h["stage"], h["passed"]) for h in result.output["hooks"]] == [(stage, True)]
    assert f"{stage} hook bluegreen-hook-demo passed" in emulator.store.deployments(demo.name)[0][f"hooks_{stage}"]


def test_no_hooks_add_one_transition_per_stage(emulator):
    demo = emulator.seed_service()

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED"
    assert result.states.count("GreenHooks") == 1 and result.states.count("CutoverHooks") == 1
    assert hook_invocations(emulator) == 0


# --- bad configuration: refused by Validate, with a distinct error name, nothing created ---------------------
@pytest.mark.parametrize(
    ("hooks", "error", "says"),
    [
        ({"afterGreenHealthy": [{"type": "webhook", "url": "https://x"}]}, "UnknownHookType", "'webhook'"),
        ({"afterCutover": [{"functionArn": "HOOK", "timeoutSeconds": 5000}]}, "HookConfigOutOfRange", "timeoutSeconds"),
        (
            {"afterCutover": [{"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:payroll"}]},
            "HookFunctionNotAllowed",
            "HookFunctionArnPattern",
        ),
        (
            {
                "afterGreenHealthy": [
                    {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-gone"}
                ]
            },
            "HookFunctionNotFound",
            "cannot be found",
        ),
    ],
)
def test_bad_hook_configuration_is_refused_before_anything_changes(emulator, hooks, error, says):
    for stage in hooks.values():
        for item in stage:
            if item.get("functionArn") == "HOOK":
                item["functionArn"] = emulator.hook_arn()
    demo = emulator.seed_service(config_overrides={"hooks": hooks})
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.error == error, result.cause
    assert says in result.cause
    assert result.states[:2] == ["Validate", "ValidationFailed"]
    assert hook_invocations(emulator) == 0
    assert_untouched(emulator, demo, before)


# --- ecsTask hooks: a one-off task of green's task definition; exit code 0 passes ---------------------------
def task_hook(command, timeout=300):
    return {"type": "ecsTask", "name": "migrate", "command": command, "timeoutSeconds": timeout, "pollSeconds": 15}


def hook_tasks(emulator, demo):
    ecs = emulator.client("ecs")
    # ListTasks lists RUNNING tasks unless asked (as AWS): every hook task must have been stopped
    assert not ecs.list_tasks(cluster=demo.cluster, startedBy="bluegreen-hook")["taskArns"]
    arns = ecs.list_tasks(cluster=demo.cluster, desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster=demo.cluster, tasks=arns)["tasks"] if arns else []
    return [task for task in tasks if task.get("startedBy") == "bluegreen-hook"]


@pytest.mark.parametrize(
    ("stage", "command", "timeout", "outcome", "says"),
    [
        ("afterGreenHealthy", ["./migrate", "--exit=0"], 300, "deployed", "passed in 45s (3 poll(s))"),
        ("afterGreenHealthy", ["./migrate", "--exit=3"], 300, "cleaned_up", "exit code 3"),
        ("afterGreenHealthy", ["./migrate", "--hang"], 60, "cleaned_up", "still running when its 60s timeout"),
        ("afterCutover", ["./itest", "--exit=1"], 300, "rolled_back", "exit code 1"),
        ("eachTrafficStep", ["./itest", "--hang"], 60, "rolled_back", "stopped (task"),
    ],
)
def test_one_off_task_hook(emulator, stage, command, timeout, outcome, says):
    config = {"hooks": {stage: [task_hook(command, timeout)]}}
    if stage == "eachTrafficStep":
        config["trafficShift"] = CANARY
    demo = emulator.seed_service(config_overrides=config)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == outcome, result.cause
    (task,) = hook_tasks(emulator, demo)
    # The task ran green's task definition with the override command, and was stopped in every case
    green_definition = next(c.params["taskDefinition"] for c in emulator.recorder.calls if c.operation == "RunTask")
    assert task["taskDefinitionArn"] == green_definition
    assert task["overrides"]["containerOverrides"][0]["command"] == command
    assert task["lastStatus"] == "STOPPED"
    text = emulator.store.deployments(demo.name)[0][f"hooks_{stage}"]
    assert says in text
    if outcome == "deployed":
        assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]
    else:
        assert "HookFailed" in (result.cause or "") or result.error == "HookFailed"
        assert_untouched(emulator, demo, before)
