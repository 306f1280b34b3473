"""What the data plane really does: draining and initial targets, replaced and crashing tasks,
scaling, and ECS's eventual consistency. Each test asserts the final AWS state."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from bluegreen.aws import elbv2
from tests.integration.helpers import live_task_sets

from .helpers import snapshot

NO_APPROVAL = {"approval": {"required": False}}
CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}, **NO_APPROVAL}


def _on_call(emulator, function: str, action: Any, nth: int = 1, operation: str | None = None) -> list[int]:
    """Run ``action()`` right before the ``nth`` API call ``function`` makes (once)."""
    seen = [0]

    def hook(call: Any) -> None:
        if call.function == function and operation in (None, call.operation):
            seen[0] += 1
            if seen[0] == nth:
                action()

    emulator.recorder.before.append(hook)
    return seen


def _assert_deployed_on(emulator, demo, tag: str, target_group: str) -> None:
    task_sets = emulator.task_sets(demo.name)
    assert [(ts["imageTag"], ts["status"], ts["targetGroupArn"]) for ts in task_sets] == [
        (tag, "PRIMARY", target_group)
    ]
    assert elbv2.receiving(emulator.production_weights(demo.name)) == {target_group}
    assert emulator.store.lock_holder(demo.name) is None
    assert emulator.store.open_gate_of(demo.name) is None


@pytest.mark.parametrize(
    ("first", "first_outcome", "next_group"),
    [("v2-broken", "cleaned_up", 1), ("v2-5xx", "rolled_back", 1), ("v2", "deployed", 0)],
    ids=["after-cleanup", "after-rollback", "after-delete"],
)
def test_a_redeploy_right_after_an_end_does_not_wait_for_the_old_targets_to_drain(
    emulator, first, first_outcome, next_group
):
    # Given a deployment that just ended: the task set it deleted left its targets draining for 300 s
    # in the target group the next green will use
    demo = emulator.seed_service(config_overrides={"healthWaitTimeoutSeconds": 120, **NO_APPROVAL})
    assert emulator.run(demo.name, first).outcome == first_outcome
    if first_outcome == "rolled_back":
        # The 5xx alarm that rolled the first release back returns to OK once a minute without 5xx is
        # evaluated (alarms come from metrics): a redeploy before that would rightly roll back at once.
        cloudwatch = emulator.client("cloudwatch")
        for _ in range(18):
            if cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]["StateValue"] == "OK":
                break
            emulator.clock.advance(10)
        assert cloudwatch.describe_alarms(AlarmNames=[demo.alarm_name])["MetricAlarms"][0]["StateValue"] == "OK"
    group = demo.target_groups[next_group]
    draining = [state for (tg, _), (state, _) in emulator.plane.health.items() if tg == group]
    assert draining and set(draining) == {"draining"}
    started = emulator.clock.elapsed

    # When the next release is deployed into that target group at once
    result = emulator.run(demo.name, "v3")

    # Then green is judged by its own targets: it is deployed without waiting for the drain
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.clock.elapsed - started < 300
    _assert_deployed_on(emulator, demo, "v3", group)


def test_a_green_task_replaced_during_the_canary_neither_fails_the_step_nor_rolls_back(emulator):
    # Given a canary whose green task crashes (ECS replaces it, new address) just before the next step
    demo = emulator.seed_service(config_overrides=CANARY)

    def crash() -> None:
        emulator.plane.crash_task(emulator.plane.task_set_of_group(demo.name, demo.target_groups[1]))

    _on_call(emulator, "SwapFunction", crash, nth=1 + 6)  # the first Swap makes 6 calls; then ShiftTraffic

    # When the deployment runs
    result = emulator.run(demo.name, "v2")

    # Then the step waits for the replacement and completes; no rollback
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.plane.events, "the crash was injected"
    assert [w for _, w in emulator.weight_steps(demo.name)] == [10, 100]
    _assert_deployed_on(emulator, demo, "v2", demo.target_groups[1])


def test_a_crash_looping_green_trips_the_circuit_breaker_and_is_cleaned_up(emulator):
    # Given an image whose containers exit 10 s after they start
    demo = emulator.seed_service(config_overrides=NO_APPROVAL)
    before = snapshot(emulator, demo.name)

    # When it is deployed
    result = emulator.run(demo.name, "v2-crash")

    # Then the crash-loop breaker ends it before the health-wait timeout, naming the stopped reasons
    assert result.outcome == "cleaned_up"
    assert result.error == "GreenCrashLooping"
    assert "Essential container in task exited" in result.cause
    assert emulator.clock.elapsed < 300
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None


def test_a_scale_out_during_the_bake_is_followed_by_both_task_sets(emulator):
    # Given a deployment whose service is scaled from 2 to 4 tasks during the bake
    demo = emulator.seed_service(config_overrides=NO_APPROVAL)
    _on_call(emulator, "BakeFunction", lambda: emulator.plane.scale_service(demo.cluster, demo.name, 4))

    # When it runs
    result = emulator.run(demo.name, "v2")

    # Then it is deployed and green runs the new desired count
    assert result.status == "SUCCEEDED", result.cause
    _assert_deployed_on(emulator, demo, "v2", demo.target_groups[1])
    described = live_task_sets(emulator.client("ecs"), demo.cluster, demo.name)
    assert described[0]["computedDesiredCount"] == 4


def test_rollback_tolerates_describe_task_sets_lagging_the_primary_switch(emulator):
    # Given ECS shows a primary switch only 3 simulated seconds later, and an image that fires the alarm
    demo = emulator.seed_service(config_overrides=NO_APPROVAL)
    before = snapshot(emulator, demo.name)

    # When the alarm rolls the deployment back (blue made primary, green deleted right after)
    result = emulator.run(demo.name, "v2-5xx")

    # Then the rollback waits for ECS to show blue primary instead of refusing to delete green
    assert result.outcome == "rolled_back", (result.error, result.cause)
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None


def test_delete_old_right_after_the_swap_waits_for_ecs_to_show_green_primary(emulator):
    # Given a one-second bake: DeleteOld runs while DescribeTaskSets still shows blue as primary
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 1, **NO_APPROVAL})

    # When it runs
    result = emulator.run(demo.name, "v2")

    # Then DeleteOld retries briefly and deletes blue; no rollback
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    _assert_deployed_on(emulator, demo, "v2", demo.target_groups[1])


def test_new_targets_start_initial_and_deleted_ones_drain_for_the_deregistration_delay(emulator):
    # Given a deployment that was cleaned up, with a 30 s deregistration delay on the test target group
    demo = emulator.seed_service(config_overrides={"healthWaitTimeoutSeconds": 60, **NO_APPROVAL})
    emulator.client("elbv2").modify_target_group_attributes(
        TargetGroupArn=demo.target_groups[1],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
    )
    assert emulator.run(demo.name, "v2-broken").outcome == "cleaned_up"
    elb = emulator.client("elbv2")
    states = {
        d["TargetHealth"]["State"]
        for d in elb.describe_target_health(TargetGroupArn=demo.target_groups[1])["TargetHealthDescriptions"]
    }
    assert states == {"draining"}

    # When the deregistration delay passes
    emulator.clock.advance(31)

    # Then the targets are gone
    assert elb.describe_target_health(TargetGroupArn=demo.target_groups[1])["TargetHealthDescriptions"] == []


def test_create_green_retried_after_a_lost_response_does_not_create_a_second_task_set(emulator):
    # Given CreateTaskSet's first response is lost, and ECS lists the new task set only 3 s later,
    # so the retried CreateGreen does not find it by externalId
    demo = emulator.seed_service(config_overrides=NO_APPROVAL)
    lost = [0]

    def lose_response(call: Any) -> None:
        if call.operation == "CreateTaskSet" and not lost[0]:
            lost[0] += 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "response lost"}}
            raise ClientError(error, call.operation)

    emulator.recorder.after.append(lose_response)

    # When the deployment runs
    result = emulator.run(demo.name, "v2")

    # Then the retry's CreateTaskSet (same clientToken) returns the task set the first one created
    assert result.status == "SUCCEEDED", result.cause
    creates = [c for c in emulator.recorder.calls if c.operation == "CreateTaskSet"]
    assert len(creates) == 2 and creates[0].params["clientToken"] == creates[1].params["clientToken"]
    _assert_deployed_on(emulator, demo, "v2", demo.target_groups[1])
