"""Create green: a new task definition revision and a task set behind the test target group."""

from __future__ import annotations

from datetime import timedelta

from .. import clock, ecs, release
from ..deps import Deps
from ..errors import NoServingTaskSet
from ..models import GreenTaskSet, StepEvent

DEPLOYMENT_TAG = "bluegreen:execution"


def run(event: StepEvent, deps: Deps) -> GreenTaskSet:
    clients = deps.clients
    context = event.context
    config = context.config
    task_sets = ecs.live_task_sets(clients.ecs, config)

    # Idempotent: a retry after a lost response finds the task set this execution created.
    green = ecs.find_by_external_id(task_sets, context.executionName)
    if green is None:
        blue = next((ts for ts in task_sets if ts["id"] == context.blue.id), None)
        if blue is None:
            raise NoServingTaskSet(
                f"Task set {context.blue.id} that served production at validation is gone; nothing to copy "
                f"the network setup from. Deploy again."
            )
        ours = {DEPLOYMENT_TAG: context.executionName[:256], "bluegreen:image-tag": context.imageTag[:256]}
        if context.greenDefinition:  # issue 10: the whole release Validate computed and checked
            tags = release.green_tags(context.greenTags, ours)
            task_definition = ecs.register_definition(clients.ecs, context.greenDefinition, tags)
        else:
            task_definition = ecs.register_with_image(
                clients.ecs, context.blue.taskDefinition, config.containerName, context.image, ours
            )
        green = ecs.create_task_set_like(
            clients.ecs, config, blue, task_definition, context.greenTargetGroupArn, context.executionName
        )
    return GreenTaskSet(
        id=green["id"],
        arn=green["taskSetArn"],
        taskDefinition=green["taskDefinition"],
        targetGroupArn=context.greenTargetGroupArn,
        healthDeadline=clock.now() + timedelta(seconds=config.healthWaitTimeoutSeconds),
    )
