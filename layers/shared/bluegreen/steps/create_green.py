"""Create green: a new task definition revision and a task set behind the test target group."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bluegreen.aws import ecs, first_deploy, release
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.errors import ExecutionAlreadyEnded, NoServingTaskSet
from bluegreen.domain.models import DeploymentContext, GreenTaskSet, StepEvent

DEPLOYMENT_TAG = "bluegreen:execution"


def run(event: StepEvent, deps: Deps) -> GreenTaskSet:
    clients = deps.clients
    context = event.context
    config = context.config
    task_sets = ecs.live_task_sets(clients.ecs, config)

    # Idempotent: a retry after a lost response finds the task set this execution created.
    green = ecs.find_by_external_id(task_sets, context.executionName)
    ours = {DEPLOYMENT_TAG: context.executionName[:256], "bluegreen:image-tag": context.imageTag[:256]}
    if green is None and context.blue is None:  # The first task set, from the configured network
        registered = None
        if context.greenDefinition:
            registered = ecs.register_definition(
                clients.ecs, context.greenDefinition, release.green_tags(context.greenTags, ours)
            )
        green = first_deploy.create_green(clients, context, ours, registered)
    if green is None:
        assert context.blue is not None
        blue = next((ts for ts in task_sets if ts["id"] == context.blue.id), None)
        if blue is None:
            raise NoServingTaskSet(
                f"Task set {context.blue.id} that served production at validation is gone; nothing to copy "
                f"the network setup from. Deploy again."
            )
        if context.greenDefinition:  # The whole release Validate computed and checked
            tags = release.green_tags(context.greenTags, ours)
            task_definition = ecs.register_definition(clients.ecs, context.greenDefinition, tags)
        else:
            task_definition = ecs.register_with_image(
                clients.ecs, context.blue.taskDefinition, config.containerName, context.image, ours
            )
        green = ecs.create_task_set_like(
            clients.ecs, config, blue, task_definition, context.greenTargetGroupArn, context.executionName
        )
    _undo_if_ended(deps, context, green)
    return GreenTaskSet(
        id=green["id"],
        arn=green["taskSetArn"],
        taskDefinition=green["taskDefinition"],
        targetGroupArn=context.greenTargetGroupArn,
        healthDeadline=clock.now() + timedelta(seconds=config.healthWaitTimeoutSeconds),
    )


def _undo_if_ended(deps: Deps, context: DeploymentContext, green: dict[str, Any]) -> None:
    """Close the race with a stop from the console while this step runs.

    Step Functions does not interrupt a Lambda invocation it no longer waits for: a stop that lands
    while this step runs lets it create green after ExecutionEnded has looked for (and, with ECS
    listing a new task set only after a few seconds, not found) anything to delete. So green is
    recorded on the deployment first (ExecutionEnded deletes a recorded green by id), then the
    execution is asked whether it still runs; if not, green is deleted here. One of the two always
    sees the other: the record precedes the question, and the stop precedes ExecutionEnded's read.
    """
    deps.store.record_details(context.service, context.executionArn, {"greenTaskSetId": green["id"]})
    if deps.store.is_running(context.executionArn):
        return
    ecs.delete_task_set(deps.clients.ecs, context.config, green["id"])
    raise ExecutionAlreadyEnded(
        f"Execution {context.executionName} ended while green was being created; green task set "
        f"{green['id']} was deleted again."
    )
