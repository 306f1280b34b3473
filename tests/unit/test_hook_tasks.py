"""One-off tasks of ``ecsTask`` hooks never outlive their deployment: every end stops the ones still running.

A hook's task can outlive the RunHooks invocation that started it (an invocation cut off by its timeout and
retried, a hook failing, the execution stopped while the hook waited). Cleanup and Rollback stop the tasks the
execution's hooks started (found by ``startedBy`` and the execution's ``group``), and no other task.
"""

from __future__ import annotations

from typing import Any

from bluegreen.aws import ecs, hook_calls
from tests.unit.helpers import (
    EXECUTION_NAME,
    deploy_until_swapped,
    lambda_error,
    put_config,
    run_cleanup,
    run_create_green,
    run_rollback,
    run_validate,
    state_data,
)

HANG = {"type": "ecsTask", "name": "migrate", "command": ["./migrate", "--hang"], "timeoutSeconds": 840}


def start_task(world: Any, context: Any, group: str, started_by: str = hook_calls.HOOK_STARTED_BY) -> str:
    """A one-off task of green's task definition, as an ecsTask hook starts it (RunTask with its network)."""
    green = next(ts for ts in ecs.live_task_sets(world.clients.ecs, context.config) if ts["taskDefinition"])
    arguments = {"networkConfiguration": green["networkConfiguration"], "launchType": "FARGATE"}
    response = world.clients.ecs.run_task(
        cluster=world.demo.cluster,
        taskDefinition=green["taskDefinition"],
        count=1,
        startedBy=started_by,
        group=group,
        **arguments,
    )
    return str(response["tasks"][0]["taskArn"])


def status_of(world: Any, task_arn: str) -> str:
    task = world.clients.ecs.describe_tasks(cluster=world.demo.cluster, tasks=[task_arn])["tasks"][0]
    return str(task["desiredStatus"])


def test_cleanup_stops_the_hook_tasks_of_this_execution_and_no_other_task(world, store):
    # Given a service with an ecsTask hook, and a deployment whose hook task still runs when it fails
    put_config(world, hooks={"afterGreenHealthy": [HANG]})
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    ours = start_task(world, context, hook_calls.task_group(EXECUTION_NAME))
    # ... next to another execution's hook task and a task someone else started
    theirs = start_task(world, context, hook_calls.task_group("deploy-demo-web-other"))
    unrelated = start_task(world, context, hook_calls.task_group(EXECUTION_NAME), started_by="ops")

    # When Cleanup runs after the hook failed
    error = lambda_error("HookFailed", "1 of 1 afterGreenHealthy hook(s) failed, production was not changed.")
    run_cleanup(world, state_data(context, green, error=error))

    # Then this execution's hook task is stopped, the others still run
    assert status_of(world, ours) == "STOPPED"
    assert status_of(world, theirs) == "RUNNING"
    assert status_of(world, unrelated) == "RUNNING"


def test_rollback_stops_the_hook_tasks_of_this_execution(world, store):
    # Given a swapped deployment with an ecsTask hook whose task still runs
    put_config(world, hooks={"afterCutover": [HANG]})
    deployment = deploy_until_swapped(world)
    ours = start_task(world, deployment.context, hook_calls.task_group(EXECUTION_NAME))

    # When Rollback runs
    run_rollback(world, deployment.state(error=lambda_error("HookFailed", "afterCutover hook failed")))

    # Then the hook's task is stopped
    assert status_of(world, ours) == "STOPPED"


def test_cleanup_of_a_service_without_task_hooks_lists_no_tasks(world, store, api):
    # Given a deployment of a service with no ecsTask hook
    context = run_validate(world, "v2")
    green = run_create_green(world, context)
    api.reset()

    # When Cleanup runs
    run_cleanup(world, state_data(context, green, error=lambda_error("HealthCheckTimeout", "not healthy")))

    # Then it makes no ListTasks call (nothing to stop, nothing to pay for)
    assert "ListTasks" not in api.operations()
