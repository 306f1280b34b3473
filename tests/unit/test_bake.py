"""Bake: a waitForTaskToken gate failed by alarms (EventBridge) or a manual rollback; the timeout means it passed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bluegreen.domain import errors
from tests.conftest import load_handler
from tests.unit.helpers import aws_state, deploy_until_swapped, elapse

TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAWsbR1oSa1mTvTMN6ktmq0yy"


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("bake")


def alarm_state(world) -> str:
    alarms = world.clients.cloudwatch.describe_alarms(AlarmNames=[world.demo.alarm_name])["MetricAlarms"]
    return alarms[0]["StateValue"]


def test_bake_handler_opens_a_bake_gate_when_alarms_are_ok(world, store, handler, lambda_context):
    # Given v2 was just swapped into production
    deployment = deploy_until_swapped(world, "v2")
    before = aws_state(world)

    # When the Bake task starts (waitForTaskToken)
    result = handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)

    # Then it returns the id of the bake gate that alarms and a manual rollback can answer
    assert result["kind"] == "bake"
    gate = store.get_gate(result["gateId"])
    assert gate.status == "PENDING"
    assert gate.taskToken == TASK_TOKEN
    assert gate.alarmNames == [world.demo.alarm_name]
    assert datetime.fromisoformat(gate.expiresAt) == deployment.swap.bakeDeadline
    # ... and production was not touched
    assert aws_state(world) == before


def test_bake_handler_fails_at_once_when_an_alarm_is_already_firing(world, store, handler, lambda_context):
    # Given v2-5xx serves production and its 5xx alarm already fired
    deployment = deploy_until_swapped(world, "v2-5xx")
    elapse(world, 25)

    # When the Bake task starts
    with pytest.raises(errors.AlarmTriggered) as raised:
        handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)

    # Then it fails with AlarmTriggered naming the alarm (the state machine rolls back)
    assert type(raised.value).__name__ == "AlarmTriggered"
    assert world.demo.alarm_name in str(raised.value)


def test_a_retried_bake_keeps_its_gate_and_the_next_gate_closes_it(world, store, handler, lambda_context):
    # Given the Bake task opened its gate
    deployment = deploy_until_swapped(world, "v2")
    first = handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)

    # When Step Functions retries the same task (same token), the same gate answers
    retried = handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)
    assert retried["gateId"] == first["gateId"]
    assert store.get_gate(first["gateId"]).status == "PENDING"

    # When the deployment moves on to its next gate (another token), the bake gate is closed as passed
    after = handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN + "-next"), lambda_context)
    assert after["gateId"] != first["gateId"]
    assert store.get_gate(first["gateId"]).status == "PASSED"
    assert store.open_gate_of(world.demo.name).gateId == after["gateId"]


def test_a_gate_is_not_opened_once_the_deployment_has_ended(world, store, handler, lambda_context):
    # Given v2 swapped in, then the execution stopped and its end recorded (ExecutionEnded ran first:
    # Step Functions does not interrupt a Lambda that already runs)
    deployment = deploy_until_swapped(world, "v2")
    context = deployment.context
    assert store.deployment_of(context.service, context.executionArn)["status"] == "RUNNING"
    store.record_end(context.service, context.executionArn, "aborted", "Operator", "stopped from the console")

    # When the Bake task's Lambda, still running, opens its gate
    with pytest.raises(errors.ExecutionAlreadyEnded) as raised:
        handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)

    # Then it is refused as one write: no gate, no pointer, no alarm watcher
    assert "has ended" in str(raised.value)
    assert store.open_gate_of(context.service) is None
    assert store.gates_watching(world.demo.alarm_name) == []
    items = world.clients.dynamodb.Table(store.table.name).scan()["Items"]
    assert not [i for i in items if str(i["pk"]).startswith(("GATE#", "ALARM#")) or i["sk"] == "GATE"]
