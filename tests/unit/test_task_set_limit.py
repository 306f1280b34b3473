"""ECS's five task sets per service, DRAINING ones included, and DescribeTaskSets's required taskSets.

The emulator refuses what ECS refuses (aws/aws-cli#5380, aws-samples/ecs-bg-external-controller#6) and Validate
refuses a deployment whose green task set would be the sixth, before anything changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from bluegreen.domain import errors
from tests.conftest import load_handler
from tests.unit.helpers import add_task_set, elapse, run_validate, task_sets
from tests.unit.test_validate import refused


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("validate")


DRAIN = 300  # the demo target groups' deregistration delay (ELB's default)


def _describe(world):
    return world.clients.ecs.describe_services(cluster=world.demo.cluster, services=[world.demo.name])["services"][0]


def _create_and_delete(world, count: int) -> list[str]:
    """``count`` task sets on the test target group, each deleted at once (a quick rollback leaves that)."""
    ids = []
    for n in range(count):
        created = add_task_set(world, world.demo.target_groups[1], external_id=f"quick-rollback-{n}")
        world.clients.ecs.delete_task_set(
            cluster=world.demo.cluster, service=world.demo.name, taskSet=created["id"], force=True
        )
        ids.append(created["id"])
    return ids


def test_describe_task_sets_without_task_sets_is_refused(world):
    # When DescribeTaskSets names no task set (the API reference calls taskSets optional)
    with pytest.raises(ClientError) as raised:
        world.clients.ecs.describe_task_sets(cluster=world.demo.cluster, service=world.demo.name)
    # Then ECS's answer: InvalidParameterException, TaskSets cannot be empty
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "TaskSets cannot be empty" in raised.value.response["Error"]["Message"]


def test_describe_task_sets_by_id_and_describe_services_list_the_task_sets(world):
    # When the service is described, then its task set by id
    listed = _describe(world)["taskSets"]
    by_id = world.clients.ecs.describe_task_sets(
        cluster=world.demo.cluster, service=world.demo.name, taskSets=[listed[0]["id"]]
    )["taskSets"]
    # Then both show blue
    assert [ts["id"] for ts in listed] == [ts["id"] for ts in by_id] == [world.demo.blue_task_set]


def test_a_deleted_task_set_is_draining_for_the_deregistration_delay(world):
    # Given a task set created and deleted
    (gone,) = _create_and_delete(world, 1)
    # Then DescribeServices lists it DRAINING ...
    statuses = {ts["id"]: ts["status"] for ts in _describe(world)["taskSets"]}
    assert statuses[gone] == "DRAINING"
    # ... until its target group's deregistration delay has passed
    elapse(world, DRAIN + 5, step=60)
    assert gone not in {ts["id"] for ts in _describe(world)["taskSets"]}


def test_a_sixth_task_set_is_refused_counting_draining_ones(world):
    # Given blue and four deleted (DRAINING) task sets
    _create_and_delete(world, 4)
    # When a sixth is created
    with pytest.raises(ClientError) as raised:
        add_task_set(world, world.demo.target_groups[1], external_id="sixth")
    # Then ECS refuses it
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "5 deployments exist on the service" in raised.value.response["Error"]["Message"]


def test_validate_refuses_when_green_would_be_the_sixth_task_set(world, store, api, handler, lambda_context):
    # Given blue and four DRAINING task sets left by quick rollbacks
    _create_and_delete(world, 4)

    # When Validate runs
    message = refused(
        world, api, handler, lambda_context, {"service": "demo-web", "imageTag": "v2"}, errors.TooManyTaskSets
    )

    # Then the error says why and what to do, and nothing changed (refused() checks)
    assert "4 DRAINING" in message and "Deploy again once the DRAINING task sets are gone" in message


def test_validate_accepts_once_the_draining_task_sets_are_gone(world, store):
    # Given four DRAINING task sets, and their deregistration delay passed
    _create_and_delete(world, 4)
    elapse(world, DRAIN + 5, step=60)
    # When Validate runs
    context = run_validate(world)
    # Then the deployment goes ahead from blue
    assert context.blue is not None and [ts["id"] for ts in task_sets(world)] == [world.demo.blue_task_set]
