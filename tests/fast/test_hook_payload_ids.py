"""A Lambda hook's payload carries ECS's top-level ``executionId`` and ``resourceArn``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bluegreen.domain import clock
from bluegreen.domain.hooks import LambdaHook, Stage, ecs_payload, hook_execution_id
from bluegreen.steps.run_hooks import run_lambda_hook

ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-smoke"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:deploy-web-v2"


class RecordingLambda:
    """Answers IN_PROGRESS ``pending`` times, then SUCCEEDED; keeps every payload."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.payloads: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.payloads.append(json.loads(Payload))
        status = "IN_PROGRESS" if len(self.payloads) <= self.pending else "SUCCEEDED"
        body = json.dumps({"hookStatus": status, "callBackDelay": 1}).encode()

        class Body:
            def read(self) -> bytes:
                return body

        return {"StatusCode": 200, "Payload": Body()}


@pytest.fixture
def simulated_time():
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    clock.set_source(lambda: now[0])
    clock.set_sleeper(lambda seconds: now.__setitem__(0, now[0] + timedelta(seconds=seconds)))
    yield
    clock.set_source(None)
    clock.set_sleeper(None)


def test_execution_id_and_resource_arn_sit_at_the_top_level_next_to_execution_details():
    # When the payload is built
    hook = LambdaHook(functionArn=ARN)
    payload = ecs_payload(Stage.AFTER_CUTOVER, hook, "svc", "green", {}, {}, {}, "run-1", EXECUTION)
    # Then, as in ECS's example, both are top-level fields and the existing ones are unchanged
    assert payload["executionId"] == "run-1" and payload["resourceArn"] == EXECUTION
    assert set(payload["executionDetails"]) == {
        "serviceArn",
        "targetServiceRevisionArn",
        "testTrafficWeights",
        "productionTrafficWeights",
    }
    assert payload["lifecycleStage"] == "POST_PRODUCTION_TRAFFIC_SHIFT"


def test_the_execution_id_is_stable_per_hook_run_and_distinct_across_runs():
    first = hook_execution_id(EXECUTION, Stage.AFTER_GREEN_HEALTHY, 0, ARN)
    # Then the same run always gets the same id, and another hook, stage or deployment another one
    assert first == hook_execution_id(EXECUTION, Stage.AFTER_GREEN_HEALTHY, 0, ARN)
    others = {
        hook_execution_id(EXECUTION, Stage.AFTER_GREEN_HEALTHY, 1, ARN),
        hook_execution_id(EXECUTION, Stage.AFTER_CUTOVER, 0, ARN),
        hook_execution_id(EXECUTION + "-2", Stage.AFTER_GREEN_HEALTHY, 0, ARN),
    }
    assert first not in others and len(others) == 3


def test_every_re_invocation_of_an_in_progress_hook_sends_the_same_execution_id(simulated_time):
    # Given a hook that answers IN_PROGRESS twice, then SUCCEEDED
    client = RecordingLambda(pending=2)
    hook = LambdaHook(functionArn=ARN, timeoutSeconds=300)
    run_id = hook_execution_id(EXECUTION, Stage.AFTER_GREEN_HEALTHY, 0, ARN)

    # When it runs
    result = run_lambda_hook(
        client, Stage.AFTER_GREEN_HEALTHY, hook, "svc", "green", {}, {}, execution_id=run_id, resource_arn=EXECUTION
    )

    # Then it passed after three calls, each with the same executionId and resourceArn
    assert result.passed and len(client.payloads) == 3
    assert {p["executionId"] for p in client.payloads} == {run_id}
    assert {p["resourceArn"] for p in client.payloads} == {EXECUTION}
