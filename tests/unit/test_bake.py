"""Bake: production on green, watched by the configured alarms until the bake deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bluegreen import errors
from bluegreen.steps import bake
from tests.conftest import load_handler
from tests.unit.helpers import aws_state, bake_event, deploy_until_swapped, elapse

TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAWsbR1oSa1mTvTMN6ktmq0yy"


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("bake")


def alarm_state(world) -> str:
    alarms = world.clients.cloudwatch.describe_alarms(AlarmNames=[world.demo.alarm_name])["MetricAlarms"]
    return alarms[0]["StateValue"]


def test_bake_is_in_progress_before_the_deadline_while_alarms_are_ok(world, store):
    # Given v2 serves production since 60 s of a 120 s bake, and the 5xx alarm is OK
    deployment = deploy_until_swapped(world, "v2")
    elapse(world, 60)
    assert alarm_state(world) == "OK"
    before = aws_state(world)

    # When Bake runs
    with pytest.raises(errors.BakeInProgress) as raised:
        bake.run(bake_event(deployment.context, deployment.green, deployment.swap), world.clients)

    # Then it asks to be polled again, says how long is left and which alarms it watched, and changes nothing
    assert type(raised.value).__name__ == "BakeInProgress"
    assert "60s left" in str(raised.value)
    assert world.demo.alarm_name in str(raised.value)
    assert aws_state(world) == before


def test_bake_fails_naming_the_alarm_that_fired(world, store):
    # Given v2-5xx serves production; its 5xx alarm fires 20 s after it gets traffic
    deployment = deploy_until_swapped(world, "v2-5xx")
    elapse(world, 25)
    assert alarm_state(world) == "ALARM"

    # When Bake runs
    with pytest.raises(errors.AlarmTriggered) as raised:
        bake.run(bake_event(deployment.context, deployment.green, deployment.swap), world.clients)

    # Then the error names the alarm and its reason (the state machine rolls back)
    assert type(raised.value).__name__ == "AlarmTriggered"
    assert world.demo.alarm_name in str(raised.value)
    assert "Threshold Crossed" in str(raised.value)


def test_bake_passes_once_the_deadline_is_reached_with_alarms_ok(world, store):
    # Given v2 served production for the whole 120 s bake without an alarm
    deployment = deploy_until_swapped(world, "v2")
    elapse(world, 120)

    # When Bake runs
    result = bake.run(bake_event(deployment.context, deployment.green, deployment.swap), world.clients)

    # Then it passes, naming the alarms it checked
    assert result.alarmsChecked == [world.demo.alarm_name]
    assert result.passedAt == world.clock.now()
    assert result.passedAt >= deployment.swap.bakeDeadline


def test_an_alarm_at_the_deadline_still_fails_the_bake(world, store):
    # Given the bake deadline passed while the 5xx alarm of v2-5xx is in ALARM
    deployment = deploy_until_swapped(world, "v2-5xx")
    elapse(world, 120)

    # When Bake runs
    # Then the alarm wins over the deadline
    with pytest.raises(errors.AlarmTriggered):
        bake.run(bake_event(deployment.context, deployment.green, deployment.swap), world.clients)


def test_bake_handler_opens_a_bake_gate_when_alarms_are_ok(world, store, handler, lambda_context):
    # Given v2 was just swapped into production
    deployment = deploy_until_swapped(world, "v2")
    before = aws_state(world)

    # When the Bake task starts (waitForTaskToken)
    result = handler.lambda_handler(deployment.state(kind="bake", taskToken=TASK_TOKEN), lambda_context)

    # Then it returns the id of the bake gate that alarms and a manual rollback can answer
    assert result["kind"] == "bake"
    gate = store.get_gate(result["gateId"])
    assert gate["status"] == "PENDING"
    assert gate["taskToken"] == TASK_TOKEN
    assert gate["alarmNames"] == [world.demo.alarm_name]
    assert datetime.fromisoformat(gate["expiresAt"]) == deployment.swap.bakeDeadline
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
