"""The workflow's decisions as pure functions over typed inputs: no AWS call, no clock.

The steps read AWS, call these, then act on the answer; the tests in ``tests/fast`` check every rule
with plain tables. A refusal raises the typed error the state machine routes (its cause says what to do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from bluegreen.domain.errors import (
    ListenerRulesInvalid,
    MultipleServingTaskSets,
    NoServingTaskSet,
    NotExternalController,
    PrimaryNotSwitchedYet,
    RollbackUnsafe,
    TestTargetGroupBusy,
    TooManyTaskSets,
    UnsafeDelete,
)


class TaskSetInfo(BaseModel):
    """What the decisions need of a live ECS task set."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    id: str
    status: str  # PRIMARY or ACTIVE (live task sets only)
    targetGroupArn: str | None = None
    externalId: str = ""

    @classmethod
    def of(cls, task_set: Mapping[str, Any]) -> TaskSetInfo:
        """From a task set of DescribeServices."""
        balancers = task_set.get("loadBalancers") or []
        return cls(
            id=task_set["id"],
            status=task_set.get("status", ""),
            targetGroupArn=balancers[0].get("targetGroupArn") if balancers else None,
            externalId=task_set.get("externalId") or "",
        )


def receiving(weights: Mapping[str, int]) -> set[str]:
    """Target groups that receive traffic (weight above zero)."""
    return {arn for arn, weight in weights.items() if weight > 0}


def on_group(task_sets: Iterable[TaskSetInfo], target_group_arn: str) -> list[TaskSetInfo]:
    return [ts for ts in task_sets if ts.targetGroupArn == target_group_arn]


# --- Validate ----------------------------------------------------------------------------------------
def check_controller(service: str, controller: str) -> None:
    """Blue/green with task sets needs the EXTERNAL deployment controller."""
    if controller != "EXTERNAL":
        raise NotExternalController(
            f"ECS service {service} uses the {controller} deployment controller. Blue/green with this "
            f"tool needs EXTERNAL, which can only be set when the service is created: move it without downtime "
            f"with 'bluegreen adopt {service}' (see README, 'Adopting an existing service'), or create "
            f"the service with deploymentController type EXTERNAL."
        )


def check_routing(production: Mapping[str, int], test: Mapping[str, int], target_groups: list[str]) -> tuple[str, str]:
    """``(blue, green)`` target groups from the rules' forward weights, or :class:`ListenerRulesInvalid`.

    Production must forward to exactly one of the configured target groups (blue); the test rule only
    to the other one (green).
    """
    production_groups = receiving(production)
    if len(production_groups) != 1 or not production_groups <= set(target_groups):
        raise ListenerRulesInvalid(
            f"The production rule must forward to exactly one of the configured target groups; it forwards to "
            f"{sorted(production_groups) or 'nothing'}. An earlier deployment may have stopped half-way: restore "
            f"the rule, or fix 'targetGroupArns'."
        )
    blue_group = next(iter(production_groups))
    green_group = next(arn for arn in target_groups if arn != blue_group)
    test_groups = receiving(test)
    if test_groups != {green_group}:
        raise ListenerRulesInvalid(
            f"The test rule must forward only to the idle target group {green_group}; it forwards to "
            f"{sorted(test_groups) or 'nothing'}. Point the test rule at the target group production does not use."
        )
    return blue_group, green_group


def serving_task_set(task_sets: list[TaskSetInfo], blue_group: str, green_group: str) -> TaskSetInfo:
    """The one task set that serves production (blue); refuses a busy test group, several or none."""
    busy = on_group(task_sets, green_group)
    if busy:
        raise TestTargetGroupBusy(
            f"The test target group {green_group} already has task set {busy[0].id} "
            f"(externalId '{busy[0].externalId}'). Another deployment is in progress or did not "
            f"finish: let it end, or delete that task set, then deploy again."
        )
    serving = on_group(task_sets, blue_group)
    if len(serving) > 1:
        ids = ", ".join(ts.id for ts in serving)
        raise MultipleServingTaskSets(
            f"{len(serving)} task sets ({ids}) serve production through {blue_group}; expected one. "
            f"Delete the extra task sets so exactly one serves production, then deploy again."
        )
    if not serving:
        raise NoServingTaskSet(
            f"No task set serves production through {blue_group}. A first deployment takes its network from "
            f"'network' in the service configuration (see README, 'First deployment')."
        )
    return serving[0]


# --- Swap --------------------------------------------------------------------------------------------
def next_step(schedule: list[int], previous_step: int | None) -> tuple[int, int]:
    """``(step, green's weight)`` after ``previous_step`` (``None``: the first); the last step repeats."""
    step = 0 if previous_step is None else min(previous_step + 1, len(schedule) - 1)
    return step, schedule[step]


def production_weights(green_group: str, blue_group: str, weight: int) -> dict[str, int]:
    """The production rule's forward weights with green at ``weight`` percent."""
    return {green_group: weight, blue_group: 100 - weight}


# --- DeleteOld ---------------------------------------------------------------------------------------
def old_groups(production: Mapping[str, int], test: Mapping[str, int], green_group: str) -> list[str]:
    """The target groups whose task sets DeleteOld removes: those behind the test rule, once production is
    on green and none of them receives production traffic (else :class:`UnsafeDelete`)."""
    production_groups, test_groups = receiving(production), receiving(test)
    if green_group not in production_groups:
        raise UnsafeDelete(
            f"Production does not forward to green ({green_group}), so the old task set is kept. "
            f"Nothing was deleted; inspect the production rule."
        )
    overlap = test_groups & production_groups
    if overlap:
        raise UnsafeDelete(
            f"Target group {sorted(overlap)[0]} behind the test rule also receives production traffic; "
            f"nothing was deleted."
        )
    return sorted(test_groups)


def old_task_sets(groups: list[str], green_id: str, task_sets: list[TaskSetInfo]) -> list[TaskSetInfo]:
    """The task sets on ``groups`` (from :func:`old_groups`); never the primary one nor green."""
    doomed = [ts for group in groups for ts in on_group(task_sets, group)]
    for task_set in doomed:
        if task_set.id == green_id:
            raise UnsafeDelete(f"Task set {task_set.id} behind the test rule is green; nothing was deleted.")
        if task_set.status == "PRIMARY":
            # Production forwards only to green, which Swap made primary: ECS has not shown it yet.
            raise PrimaryNotSwitchedYet(
                f"Task set {task_set.id} behind the test rule is still shown as primary; nothing was deleted yet."
            )
    return doomed


# --- Cleanup and Rollback ----------------------------------------------------------------------------
def may_delete_green(
    task_set: TaskSetInfo, execution_name: str, production_groups: set[str], first_deployment: bool = False
) -> bool:
    """Whether ``task_set`` is this execution's green (by externalId), refusing one that serves production.

    A first deployment's green is primary (it is the only task set) yet, once the rules are restored,
    serves nothing; elsewhere a primary green waits for ECS to show the switch to blue.
    """
    if task_set.externalId != execution_name:
        return False
    if task_set.targetGroupArn in production_groups:
        raise UnsafeDelete(f"Task set {task_set.id} created by this deployment serves production; it was not deleted.")
    if task_set.status == "PRIMARY" and not first_deployment:
        # Production no longer forwards to it: ECS has not shown the switch to blue yet (retried briefly).
        raise PrimaryNotSwitchedYet(
            f"Task set {task_set.id} created by this deployment is still shown as primary; not deleted yet."
        )
    return True


def unlisted_green(
    recorded: Iterable[str], listed: set[str], green_group: str, production_groups: set[str]
) -> list[str]:
    """Green task sets CreateGreen recorded that DescribeServices does not list yet.

    Created seconds ago, so neither primary nor switched to; still, none is deleted while production
    forwards to green's target group.
    """
    if green_group in production_groups:
        return []
    return sorted({task_set_id for task_set_id in recorded if task_set_id not in listed})


def check_rollback_safe(blue_group: str, healthy_targets: int, health: str) -> None:
    """Production goes back to blue only if blue has healthy targets."""
    if healthy_targets == 0:
        raise RollbackUnsafe(
            f"Cannot roll back: blue target group {blue_group} has "
            f"{health}. Production was left on green; fix blue or roll forward."
        )


# ECS allows five task sets per service and counts DRAINING ones (deleted, their targets still draining):
# CreateTaskSet answers "5 deployments exist on the service. Unable to create new TaskSet since this exceeds the
# maximum limit." (aws-samples/ecs-bg-external-controller#6), so quick rollbacks can block the next deployment.
MAX_TASK_SETS_PER_SERVICE = 5


def check_task_set_room(service: str, task_sets: list[dict[str, Any]]) -> None:
    """Refuse before anything changes when green's task set would be one too many (DescribeServices' taskSets)."""
    if len(task_sets) < MAX_TASK_SETS_PER_SERVICE:
        return
    draining = [ts for ts in task_sets if ts.get("status") == "DRAINING"]
    others = [ts["id"] for ts in task_sets if ts.get("status") != "DRAINING"]
    raise TooManyTaskSets(
        f"Service {service} has {len(task_sets)} task sets ({len(draining)} DRAINING, others: "
        f"{', '.join(others) or 'none'}); ECS allows {MAX_TASK_SETS_PER_SERVICE} per service, DRAINING ones "
        f"included, so green's task set could not be created. Nothing was changed. Deploy again once the "
        f"DRAINING task sets are gone (they drain for their target group's deregistration delay), or delete "
        f"task sets no deployment uses."
    )
