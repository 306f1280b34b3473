"""The end of a watch on moto: ShiftTraffic and DeleteOld read the alarms before moving on (bluegreen.watch_end)."""

from __future__ import annotations

import pytest

from bluegreen.aws import alarms
from bluegreen.domain import errors
from bluegreen.domain.models import GreenEvent
from bluegreen.steps import swap
from tests.unit.helpers import aws_state, deploy_until_swapped, deps_of, put_config, run_delete_old, task_set

CANARY = {"type": "CANARY", "percent": 10, "intervalSeconds": 300}


def set_alarm(world, name: str, state: str, reason: str) -> None:
    world.clients.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def describe_alarms_calls(api) -> list[list[str]]:
    return [c.params["AlarmNames"] for c in api.calls if c.operation == "DescribeAlarms"]


def put_alarms(world, names: list[str]) -> None:
    for name in names:
        world.clients.cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="HTTPCode_Target_5XX_Count",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=10,
            ComparisonOperator="GreaterThanThreshold",
        )
        set_alarm(world, name, "OK", "fine")


def test_delete_old_reads_every_watched_alarm_and_keeps_blue_when_one_is_in_alarm(world, store, api):
    # Given the most alarms a service may watch (90: 89 OK ones and the demo's 5xx alarm, last)
    extra = [f"demo-web-extra-{i:03}" for i in range(89)]
    put_alarms(world, extra)
    put_config(world, alarmNames=[*extra, world.demo.alarm_name])
    deployment = deploy_until_swapped(world, "v2")
    # ... and the 5xx alarm went to ALARM during the bake, its event lost
    set_alarm(world, world.demo.alarm_name, "ALARM", "Threshold Crossed: 42 > 10")
    before = aws_state(world)
    api.reset()

    # When DeleteOld runs at the end of the bake
    with pytest.raises(errors.AlarmTriggered) as raised:
        run_delete_old(world, deployment.state())

    # Then it fails with AlarmTriggered (the state machine's Catch rolls back) naming the alarm and its reason
    assert str(raised.value) == (
        f"Alarm {world.demo.alarm_name} was found in ALARM at the end of the bake: Threshold Crossed: 42 > 10"
    )
    # ... after reading the 90 alarms in one call
    assert [len(names) for names in describe_alarms_calls(api)] == [90]
    # ... and changed nothing: blue is still there, the rules are as they were, the lock is still held
    assert api.mutating() == []
    assert task_set(world, world.demo.blue_task_set) is not None
    assert aws_state(world) == before
    assert store.lock_holder("demo-web") is not None


def test_alarms_are_read_in_batches_of_100_names(world, api):
    # Given 150 alarm names, the last one in ALARM (DescribeAlarms takes at most 100 names a call)
    names = [f"demo-web-extra-{i:03}" for i in range(150)]
    put_alarms(world, names)
    set_alarm(world, names[-1], "ALARM", "breached")
    api.reset()
    # When they are read
    firing = alarms.alarms_in_alarm(world.clients.cloudwatch, names)
    # Then two calls found it
    assert [a["AlarmName"] for a in firing] == [names[-1]]
    assert [len(batch) for batch in describe_alarms_calls(api)] == [100, 50]


def test_delete_old_deletes_blue_with_one_extra_call_when_no_alarm_is_in_alarm(world, store, api):
    # Given the bake ended with the alarm OK
    deployment = deploy_until_swapped(world, "v2")
    api.reset()

    # When DeleteOld runs
    result = run_delete_old(world, deployment.state())

    # Then blue is deleted, after one DescribeAlarms call for the service's alarm
    assert result.deletedTaskSet == world.demo.blue_task_set
    assert describe_alarms_calls(api) == [[world.demo.alarm_name]]


def test_shift_traffic_rolls_back_instead_of_shifting_when_the_step_ends_with_an_alarm_in_alarm(world, store, api):
    # Given a canary at 10% whose alarm went to ALARM during the step, its event lost
    put_config(world, trafficShift=CANARY)
    deployment = deploy_until_swapped(world, "v2")
    assert deployment.swap.weight == 10 and not deployment.swap.complete
    set_alarm(world, world.demo.alarm_name, "ALARM", "Threshold Crossed: 7 > 5")
    before = aws_state(world)
    api.reset()

    # When ShiftTraffic runs at the end of the step
    with pytest.raises(errors.AlarmTriggered) as raised:
        run_swap_from(world, deployment)

    # Then it fails naming the alarm and the step, and production did not move
    assert str(raised.value) == (
        f"Alarm {world.demo.alarm_name} was found in ALARM at the end of traffic step 1 (10% on green): "
        "Threshold Crossed: 7 > 5"
    )
    assert api.mutating() == []
    assert aws_state(world) == before


def test_shift_traffic_moves_on_when_the_step_ends_with_the_alarms_ok(world, store, api):
    put_config(world, trafficShift=CANARY)
    deployment = deploy_until_swapped(world, "v2")
    api.reset()

    result = run_swap_from(world, deployment)

    assert result.weight == 100 and result.complete
    assert describe_alarms_calls(api) == [[world.demo.alarm_name]]


def run_swap_from(world, deployment):
    """ShiftTraffic: Swap with the previous step's result in the state."""
    return swap.run(GreenEvent.model_validate(deployment.state()), deps_of(world))


def test_a_retried_delete_old_that_already_deleted_blue_finishes_whatever_the_alarms_say(world, store, api):
    # Given DeleteOld deleted blue, and its task is retried (e.g. its answer to Step Functions was lost)
    deployment = deploy_until_swapped(world, "v2")
    run_delete_old(world, deployment.state())
    # ... while the alarm has gone to ALARM since
    set_alarm(world, world.demo.alarm_name, "ALARM", "Threshold Crossed: 42 > 10")

    # When DeleteOld runs again
    result = run_delete_old(world, deployment.state())

    # Then it finishes (there is no blue left to roll back to) rather than failing into a rollback without blue
    assert result.deletedTaskSet is None
    assert task_set(world, deployment.green.id)["status"] == "PRIMARY"
