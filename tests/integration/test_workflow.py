"""The real state machine (statemachine/deployment.asl.json) with the real handlers on the emulator.

Each test asserts the AWS state a user would see afterwards: where the production
rule forwards, which task sets exist and which is primary, and what the execution
reports.
"""

from __future__ import annotations

import pytest

from bluegreen_emulator.dataplane import Timing
from bluegreen_emulator.emulator import Emulator
from tests.integration.helpers import live_task_sets

from .helpers import MUTATING, fail_call, production_modify_calls, snapshot


def test_happy_deployment_moves_production_to_v2_and_deletes_v1(emulator):
    # Given the demo service running v1 behind the production rule
    demo = emulator.seed_service()
    blue_group, green_group = demo.target_groups

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then the execution succeeded and production forwards only to green
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.outcome == "deployed"
    assert result.states == [
        "Validate",
        "CreateGreen",
        "WaitHealthy",
        "GreenHooks",  # No hooks configured, one transition
        "ApprovalRequired",
        "AwaitApproval",
        "Swap",
        "ShiftComplete",
        "CutoverHooks",
        "CutoverHooksDone",  # the hooks' progress: done (else a Wait and RunHooks again)
        "Bake",
        "KeepOldEnabled",
        "DeleteOldHooks",  # The beforeDeleteOld stage
        "DeleteOldHooksDone",
        "DeleteOld",
        "Deployed",
    ]
    assert emulator.production_weights(demo.name) == {green_group: 100, blue_group: 0}
    # ... in exactly one ModifyRule call on the production rule
    assert production_modify_calls(emulator, demo.name) == 1
    # ... the only task set left runs v2 on the green target group and is primary
    (task_set,) = emulator.task_sets(demo.name)
    assert (task_set["imageTag"], task_set["status"], task_set["targetGroupArn"]) == ("v2", "PRIMARY", green_group)
    assert task_set["image"].endswith("@" + demo.digests["v2"])
    # ... the test rule now points at the idle (old blue) target group, ready for the next release
    from bluegreen.aws import elbv2

    assert elbv2.forward_weights(emulator.rule_actions(demo.test_rule_arn)) == {blue_group: 1}
    # ... and the output tells what was deployed
    assert result.output["imageDigest"] == demo.digests["v2"]
    assert result.output["taskSet"] == task_set["id"]
    assert result.state_transitions <= 40


def test_next_release_deploys_onto_the_other_target_group(emulator):
    # Given v2 was deployed (production on target group B)
    demo = emulator.seed_service()
    assert emulator.run(demo.name, "v2").status == "SUCCEEDED"

    # When v3 is deployed
    result = emulator.run(demo.name, "v3")

    # Then production is back on target group A, now running v3
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.production_weights(demo.name) == {demo.target_groups[0]: 100, demo.target_groups[1]: 0}
    (task_set,) = emulator.task_sets(demo.name)
    assert (task_set["imageTag"], task_set["status"]) == ("v3", "PRIMARY")


def test_unhealthy_image_is_cleaned_up_and_production_untouched():
    with Emulator() as emulator:
        demo = emulator.seed_service()
        before = snapshot(emulator, demo.name)

        result = emulator.run(demo.name, "v2-broken")

        assert result.status == "FAILED"
        assert result.error == "HealthCheckTimeout"
        assert "unhealthy" in result.cause and "Target.ResponseCodeMismatch" in result.cause
        assert "Deleted green task set" in result.cause
        assert result.outcome == "cleaned_up"
        assert snapshot(emulator, demo.name) == before
        assert production_modify_calls(emulator, demo.name) == 0


def test_alarm_during_bake_rolls_back_to_the_exact_saved_rules(emulator):
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2-5xx")

    assert result.status == "FAILED"
    assert result.error == "RolledBack"
    assert result.outcome == "rolled_back"
    assert "AlarmTriggered" in result.cause and demo.alarm_name in result.cause
    assert "Rollback" in result.states
    # Rules restored exactly (production was a plain forward to A before), blue primary, green gone
    assert snapshot(emulator, demo.name) == before
    # Production switched once to green and once back
    assert production_modify_calls(emulator, demo.name) == 2


def test_transitions_stay_bounded_when_green_is_slow_to_turn_healthy():
    # Tasks that take 10 minutes to pass health checks cost a few more polls, not one per second.
    with Emulator(timing=Timing(task_start=60, healthy_after=540)) as emulator:
        demo = emulator.seed_service(config_overrides={"healthWaitTimeoutSeconds": 900})
        result = emulator.run(demo.name, "v2")
    assert result.status == "SUCCEEDED", result.cause
    assert result.state_transitions <= 40


def test_transient_errors_are_retried_and_the_deployment_succeeds(emulator):
    demo = emulator.seed_service()
    injected = [
        fail_call(emulator, operation, code, times=1)
        for operation, code in (
            ("CreateTaskSet", "ThrottlingException"),
            ("ModifyRule", "ThrottlingException"),
            ("DescribeTargetHealth", "InternalError"),
            ("DeleteTaskSet", "ThrottlingException"),
        )
    ]

    result = emulator.run(demo.name, "v2")

    assert [seen[0] for seen in injected] == [1, 1, 1, 1]
    assert result.status == "SUCCEEDED", result.cause
    (task_set,) = emulator.task_sets(demo.name)
    assert task_set["imageTag"] == "v2"
    assert production_modify_calls(emulator, demo.name) == 1


def test_persistent_failure_after_the_swap_rolls_back(emulator):
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)
    # Green can never be made primary (e.g. a permissions problem): production must go back to blue.
    calls = fail_call(emulator, "UpdateServicePrimaryTaskSet", "AccessDeniedException", times=1)

    result = emulator.run(demo.name, "v2")

    assert calls[0] == 1
    assert result.error == "RolledBack"
    assert "AccessDeniedException" in result.cause
    assert snapshot(emulator, demo.name) == before


def _second_task_set_on(emulator: Emulator, service: str, target_group: str) -> None:
    demo = emulator.services[service]
    ecs = emulator.client("ecs")
    blue = live_task_sets(ecs, demo.cluster, demo.name)[0]
    ecs.create_task_set(
        cluster=demo.cluster,
        service=demo.name,
        taskDefinition=blue["taskDefinition"],
        launchType="FARGATE",
        networkConfiguration=blue["networkConfiguration"],
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "web", "containerPort": 8080}],
        scale={"unit": "PERCENT", "value": 100.0},
        externalId="manual",
    )
    emulator.clock.advance(emulator.plane.consistency_delay)  # ECS lists a new task set a few seconds later


BAD_INPUTS = [
    ("unknown service", {"service": "nope", "imageTag": "v2"}, "UnknownService", "does not exist"),
    ("missing tag", {"service": "demo-web"}, "InvalidInput", "imageTag"),
    ("malformed tag", {"service": "demo-web", "imageTag": 5}, "InvalidInput", "imageTag"),
    ("unexpected field", {"service": "demo-web", "imageTag": "v2", "cluster": "x"}, "InvalidInput", "cluster"),
    ("bad digest", {"service": "demo-web", "imageTag": "v2", "imageDigest": "abc"}, "InvalidInput", "sha256"),
    ("tag not in ECR", {"service": "demo-web", "imageTag": "v9"}, "ImageNotFound", "v9"),
    ("latest", {"service": "demo-web", "imageTag": "latest"}, "MutableTagRefused", "latest"),
]


@pytest.mark.parametrize(("case", "payload", "error", "hint"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_fails_in_validate_and_changes_nothing(emulator, case, payload, error, hint):
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)

    result = emulator.wait(emulator.start(demo.name, "", raw_input=payload))

    assert (result.status, result.error) == ("FAILED", error)
    assert hint in result.cause
    assert result.states == ["Validate", "ValidationFailed", "Failed"]
    assert snapshot(emulator, demo.name) == before
    assert not [c for c in emulator.recorder.calls if c.operation in MUTATING]


def test_digest_mismatch_is_refused(emulator):
    demo = emulator.seed_service()
    result = emulator.run(demo.name, "v2", digest=demo.digests["v3"])
    assert result.error == "DigestMismatch"


def test_service_without_external_controller_is_refused(emulator):
    emulator.seed_service()
    legacy = emulator.seed_service("legacy", deployment_controller="ECS")
    before = snapshot(emulator, legacy.name)
    result = emulator.run(legacy.name, "v2")
    assert result.error == "NotExternalController"
    assert "EXTERNAL" in result.cause
    assert snapshot(emulator, legacy.name) == before


def test_busy_test_target_group_is_refused(emulator):
    demo = emulator.seed_service()
    _second_task_set_on(emulator, demo.name, demo.target_groups[1])
    before = snapshot(emulator, demo.name)
    result = emulator.run(demo.name, "v2")
    assert result.error == "TestTargetGroupBusy"
    assert snapshot(emulator, demo.name) == before


def test_two_serving_task_sets_are_refused(emulator):
    demo = emulator.seed_service()
    _second_task_set_on(emulator, demo.name, demo.target_groups[0])
    before = snapshot(emulator, demo.name)
    result = emulator.run(demo.name, "v2")
    assert result.error == "MultipleServingTaskSets"
    assert snapshot(emulator, demo.name) == before
