"""CreateGreen: a task definition revision with the new image, and a task set like blue's on the test target group."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bluegreen.domain.errors import ExecutionAlreadyEnded
from tests.conftest import load_handler
from tests.unit.helpers import (
    EXECUTION_NAME,
    production_weights,
    rule_actions,
    run_create_green,
    run_validate,
    state_data,
    task_definitions,
    task_set,
    task_sets,
)


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("create_green")


@pytest.fixture
def context(world, store):
    return run_validate(world, "v2")


def describe_task_definition(world, arn: str) -> dict[str, Any]:
    return world.clients.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])


def test_green_is_a_new_revision_with_only_the_image_replaced(world, context, handler, lambda_context):
    # Given a validated deployment of v2 (blue runs revision 1 with v1)
    blue_definition = describe_task_definition(world, context.blue.taskDefinition)["taskDefinition"]

    # When CreateGreen runs
    green = handler.lambda_handler(state_data(context), lambda_context)

    # Then green runs a new revision of the same family
    described = describe_task_definition(world, green["taskDefinition"])
    definition = described["taskDefinition"]
    assert definition["family"] == blue_definition["family"] == "demo-web"
    assert definition["revision"] == blue_definition["revision"] + 1
    assert len(task_definitions(world)) == 2
    # ... whose container runs the new image pinned by digest (never by tag)
    (container,) = definition["containerDefinitions"]
    assert container["image"] == f"{world.demo.repository_uri}@{world.demo.digests['v2']}"
    assert container["image"] == context.image
    # ... and everything else is identical to blue's: container fields and task-level settings
    (blue_container,) = blue_definition["containerDefinitions"]
    assert {k: v for k, v in container.items() if k != "image"} == {
        k: v for k, v in blue_container.items() if k != "image"
    }
    for key in ("networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn"):
        assert definition.get(key) == blue_definition.get(key), key
    # ... tagged with the execution that registered it
    tags = {tag["key"]: tag["value"] for tag in described.get("tags", [])}
    assert tags.get("bluegreen:execution") == EXECUTION_NAME
    assert tags.get("bluegreen:image-tag") == "v2"


def test_green_task_set_copies_blue_onto_the_test_target_group(world, context, handler, lambda_context):
    # Given a validated deployment of v2
    blue = task_set(world, world.demo.blue_task_set)
    production_before = rule_actions(world, world.demo.production_rule_arn)

    # When CreateGreen runs
    green = handler.lambda_handler(state_data(context), lambda_context)

    # Then a task set exists behind the test target group B, created by this execution
    created = task_set(world, green["id"])
    assert created is not None
    assert created["taskSetArn"] == green["arn"]
    assert created["externalId"] == EXECUTION_NAME
    assert created["taskDefinition"] == green["taskDefinition"]
    assert created["loadBalancers"] == [
        {"targetGroupArn": world.demo.target_groups[1], "containerName": "web", "containerPort": 8080}
    ]
    # ... with blue's network setup, launch type and platform version
    assert created["networkConfiguration"] == blue["networkConfiguration"]
    assert created["launchType"] == blue["launchType"] == "FARGATE"
    assert created["platformVersion"] == blue["platformVersion"] == "1.4.0"
    assert created["scale"] == {"value": 100.0, "unit": "PERCENT"}
    # ... it does not serve production: blue stays primary and the production rule is untouched
    assert created["status"] == "ACTIVE"
    assert task_set(world, world.demo.blue_task_set)["status"] == "PRIMARY"
    assert rule_actions(world, world.demo.production_rule_arn) == production_before
    assert production_weights(world) == {world.demo.target_groups[0]: 1}
    # ... and the output tells the next states where green is and until when it may take to turn healthy
    assert green["targetGroupArn"] == world.demo.target_groups[1]
    assert datetime.fromisoformat(green["healthDeadline"]) == world.clock.now() + timedelta(seconds=300)


def test_a_retry_finds_the_task_set_it_created_instead_of_creating_another(world, context, api):
    # Given CreateGreen already ran once for this execution (its response was lost)
    first = run_create_green(world, context)
    api.reset()

    # When the state machine retries CreateGreen
    second = run_create_green(world, context)

    # Then it returns the same task set and creates nothing new
    assert (second.id, second.arn, second.taskDefinition) == (first.id, first.arn, first.taskDefinition)
    assert "CreateTaskSet" not in api.operations()
    assert "RegisterTaskDefinition" not in api.operations()
    assert len(task_sets(world)) == 2
    assert len(task_definitions(world)) == 2


def test_green_created_after_the_execution_was_stopped_is_deleted_again(world, context, store, api):
    # Given the execution was stopped from the console while CreateGreen ran (Lambda is not interrupted)
    world.clients.sfn.stop_execution(executionArn=context.executionArn, cause="stopped from the console")

    # When CreateGreen goes on and creates green
    with pytest.raises(ExecutionAlreadyEnded) as raised:
        run_create_green(world, context)

    # Then it recorded green on the deployment first, then deleted it again: only blue is left
    operations = api.operations()
    created = operations.index("CreateTaskSet")
    assert operations[created + 1 :].count("UpdateItem") == 1
    assert (
        operations.index("UpdateItem", created)
        < operations.index("DescribeExecution")
        < operations.index("DeleteTaskSet")
    )
    recorded = store.deployment_of(context.service, context.executionArn)["greenTaskSetId"]
    assert recorded in str(raised.value)
    assert [ts["id"] for ts in task_sets(world)] == [context.blue.id]


def test_green_is_recorded_on_the_deployment_for_a_stop_that_comes_later(world, context, store):
    green = run_create_green(world, context)
    assert store.deployment_of(context.service, context.executionArn)["greenTaskSetId"] == green.id
