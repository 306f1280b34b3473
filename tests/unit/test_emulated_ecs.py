"""The emulator's ECS is at least as strict as ECS: tasks of task sets, ListTasks filters, lag."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.unit.helpers import elapse, run_create_green, run_validate


def blue_id(world) -> str:
    return world.demo.blue_task_set


def test_task_set_tasks_are_listed_by_started_by_with_their_eni_address(world):
    # Given the seeded blue task set (2 tasks)
    ecs = world.clients.ecs
    arns = ecs.list_tasks(cluster=world.demo.cluster, startedBy=blue_id(world))["taskArns"]

    # When its tasks are described
    tasks = ecs.describe_tasks(cluster=world.demo.cluster, tasks=arns)["tasks"]

    # Then both run, were started by the task set, and carry the address registered in its target group
    assert [t["lastStatus"] for t in tasks] == ["RUNNING", "RUNNING"]
    assert {t["startedBy"] for t in tasks} == {blue_id(world)}
    addresses = {
        d["value"] for t in tasks for a in t["attachments"] for d in a["details"] if d["name"] == "privateIPv4Address"
    }
    health = world.clients.elbv2.describe_target_health(TargetGroupArn=world.demo.target_groups[0])
    assert addresses == {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}


def test_started_by_must_be_the_only_filter_and_stopped_tasks_keep_their_reason(world):
    ecs = world.clients.ecs
    # Given a blue task crashed (ECS replaces it)
    world.plane.crash_task(blue_id(world))

    # Then ListTasks lists RUNNING tasks by default, refuses startedBy with another filter,
    # and the stopped task is listed with desiredStatus=STOPPED, with its reason
    assert len(ecs.list_tasks(cluster=world.demo.cluster, startedBy=blue_id(world))["taskArns"]) == 2
    with pytest.raises(ClientError) as refused:
        ecs.list_tasks(cluster=world.demo.cluster, startedBy=blue_id(world), desiredStatus="STOPPED")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    stopped = ecs.list_tasks(cluster=world.demo.cluster, desiredStatus="STOPPED")["taskArns"]
    (task,) = ecs.describe_tasks(cluster=world.demo.cluster, tasks=stopped)["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "Essential container in task exited"


def test_describe_task_sets_lags_a_new_task_set_and_a_primary_switch(world, store):
    # Given ECS's read-after-write lag of 3 simulated seconds
    world.plane.consistency_delay = 3
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    ecs = world.clients.ecs

    def statuses() -> dict[str, str]:
        task_sets = ecs.describe_services(cluster=world.demo.cluster, services=[world.demo.name])["services"][0][
            "taskSets"
        ]
        return {ts["id"]: ts["status"] for ts in task_sets}

    # Then the new task set is listed only after the lag
    assert green.id not in statuses()
    elapse(world, 3)
    assert statuses()[green.id] == "ACTIVE"

    # ... and a primary switch shows for 3 s the old statuses
    ecs.update_service_primary_task_set(cluster=world.demo.cluster, service=world.demo.name, primaryTaskSet=green.arn)
    assert statuses() == {green.id: "ACTIVE", blue_id(world): "PRIMARY"}
    elapse(world, 3)
    assert statuses() == {green.id: "PRIMARY", blue_id(world): "ACTIVE"}


def test_deleting_a_task_set_that_is_gone_answers_task_set_not_found(world, store):
    # Given green created and deleted
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    ecs = world.clients.ecs
    ecs.delete_task_set(cluster=world.demo.cluster, service=world.demo.name, taskSet=green.id, force=True)

    # When it is deleted again (a cleanup that runs twice)
    with pytest.raises(ClientError) as refused:
        ecs.delete_task_set(cluster=world.demo.cluster, service=world.demo.name, taskSet=green.id, force=True)

    # Then ECS's own error answers, not moto's ClientException (the workflow ignores exactly that one)
    assert refused.value.response["Error"]["Code"] == "TaskSetNotFoundException"
