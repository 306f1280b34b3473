"""The workflow's decisions as plain tables: what Validate refuses, the next traffic weight, what DeleteOld,
Cleanup and Rollback may delete or do. Pure functions of bluegreen.domain.policy: no moto, no AWS."""

from __future__ import annotations

import pytest

from bluegreen.domain import errors, policy
from bluegreen.domain.models import TrafficShift
from bluegreen.domain.policy import TaskSetInfo

BLUE, GREEN, OTHER = "tg/blue", "tg/green", "tg/other"
GROUPS = [BLUE, GREEN]


def ts(id: str, group: str | None, status: str = "ACTIVE", external: str = "") -> TaskSetInfo:
    return TaskSetInfo(id=id, status=status, targetGroupArn=group, externalId=external)


# --- Validate ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("production", "test", "expected"),
    [
        ({BLUE: 1}, {GREEN: 1}, (BLUE, GREEN)),
        ({GREEN: 100, BLUE: 0}, {BLUE: 1}, (GREEN, BLUE)),  # after a deployment: the roles swapped
        ({BLUE: 100, GREEN: 0}, {GREEN: 1, BLUE: 0}, (BLUE, GREEN)),  # weight 0 does not count
    ],
)
def test_routing_names_blue_and_green_from_the_rules(production, test, expected):
    assert policy.check_routing(production, test, GROUPS) == expected


@pytest.mark.parametrize(
    ("production", "test", "message"),
    [
        ({BLUE: 90, GREEN: 10}, {GREEN: 1}, "production rule must forward to exactly one"),  # a half-way canary
        ({BLUE: 0}, {GREEN: 1}, "forwards to nothing"),
        ({OTHER: 1}, {GREEN: 1}, "production rule must forward to exactly one"),  # not a configured group
        ({BLUE: 1}, {BLUE: 1}, "test rule must forward only to the idle target group"),
        ({BLUE: 1}, {GREEN: 1, OTHER: 1}, "test rule must forward only to the idle target group"),
        ({BLUE: 1}, {GREEN: 0}, "it forwards to nothing"),
    ],
)
def test_routing_is_refused_when_the_rules_are_not_blue_green(production, test, message):
    with pytest.raises(errors.ListenerRulesInvalid, match=message):
        policy.check_routing(production, test, GROUPS)


@pytest.mark.parametrize(
    ("task_sets", "error", "message"),
    [
        ([ts("b", BLUE), ts("g", GREEN, external="run-1")], errors.TestTargetGroupBusy, "already has task set g"),
        ([ts("b1", BLUE), ts("b2", BLUE)], errors.MultipleServingTaskSets, r"2 task sets \(b1, b2\)"),
        ([], errors.NoServingTaskSet, "No task set serves production"),
        ([ts("x", OTHER)], errors.NoServingTaskSet, "No task set serves production"),
    ],
)
def test_task_sets_are_refused_unless_exactly_one_serves_and_green_is_idle(task_sets, error, message):
    with pytest.raises(error, match=message):
        policy.serving_task_set(task_sets, BLUE, GREEN)


def test_the_one_task_set_on_blue_is_the_serving_one():
    assert policy.serving_task_set([ts("b", BLUE, "PRIMARY"), ts("x", OTHER)], BLUE, GREEN).id == "b"


@pytest.mark.parametrize(("controller", "refused"), [("EXTERNAL", False), ("ECS", True), ("CODE_DEPLOY", True)])
def test_only_the_external_controller_is_accepted(controller, refused):
    if refused:
        with pytest.raises(errors.NotExternalController, match=f"uses the {controller} deployment controller"):
            policy.check_controller("web", controller)
    else:
        policy.check_controller("web", controller)


def test_a_task_set_is_read_from_describe_task_sets():
    entry = {"id": "ecs-svc/1", "status": "PRIMARY", "externalId": "x", "loadBalancers": [{"targetGroupArn": BLUE}]}
    assert TaskSetInfo.of(entry) == ts("ecs-svc/1", BLUE, "PRIMARY", "x")
    assert TaskSetInfo.of({"id": "a", "status": "ACTIVE"}).targetGroupArn is None


# --- Swap --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shift", "previous", "expected"),
    [
        (TrafficShift(), None, (0, 100)),
        (TrafficShift(type="CANARY", percent=10), None, (0, 10)),
        (TrafficShift(type="CANARY", percent=10), 0, (1, 100)),
        (TrafficShift(type="LINEAR", percent=25), None, (0, 25)),
        (TrafficShift(type="LINEAR", percent=25), 1, (2, 75)),
        (TrafficShift(type="LINEAR", percent=25), 2, (3, 100)),
        (TrafficShift(type="LINEAR", percent=30), 2, (3, 100)),  # 30, 60, 90, then 100
        (TrafficShift(type="LINEAR", percent=25), 3, (3, 100)),  # a retried last step stays at 100
    ],
)
def test_next_weight_follows_the_schedule(shift, previous, expected):
    assert policy.next_step(shift.schedule(), previous) == expected


@pytest.mark.parametrize("weight", [0, 10, 100])
def test_production_weights_always_add_up_to_100(weight):
    weights = policy.production_weights(GREEN, BLUE, weight)
    assert weights == {GREEN: weight, BLUE: 100 - weight}


# --- DeleteOld ---------------------------------------------------------------------------------------
def test_delete_old_removes_what_is_behind_the_test_rule_once_production_is_on_green():
    # Given production on green and the test rule on blue
    groups = policy.old_groups({GREEN: 100, BLUE: 0}, {BLUE: 1}, GREEN)
    doomed = policy.old_task_sets(groups, "g", [ts("g", GREEN, "PRIMARY"), ts("b", BLUE), ts("x", OTHER)])

    # Then only blue's task set is deleted
    assert [t.id for t in doomed] == ["b"]


@pytest.mark.parametrize(
    ("production", "test", "message"),
    [
        ({BLUE: 100, GREEN: 0}, {GREEN: 1}, "Production does not forward to green"),  # swap never happened
        ({BLUE: 90, GREEN: 10}, {BLUE: 1}, "also receives production traffic"),  # a canary still running
    ],
)
def test_delete_old_refuses_while_production_is_not_entirely_on_green(production, test, message):
    with pytest.raises(errors.UnsafeDelete, match=message):
        policy.old_groups(production, test, GREEN)


@pytest.mark.parametrize(
    ("task_sets", "error", "message"),
    [
        # blue still shown as primary: ECS has not shown the switch yet, retried, nothing deleted
        ([ts("b", BLUE, "PRIMARY")], errors.PrimaryNotSwitchedYet, "still shown as primary; nothing was deleted"),
        ([ts("g", BLUE)], errors.UnsafeDelete, "is green; nothing was deleted"),  # green itself behind the test rule
    ],
)
def test_delete_old_never_deletes_the_primary_task_set_or_green(task_sets, error, message):
    with pytest.raises(error, match=message):
        policy.old_task_sets([BLUE], "g", task_sets)


# --- Cleanup and Rollback ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task_set", "expected"),
    [
        (ts("g", GREEN, external="run-1"), True),  # this execution's green, idle: delete it
        (ts("b", BLUE, "PRIMARY", external="run-0"), False),  # another execution's: not ours
        (ts("o", GREEN, external="run-2"), False),
    ],
)
def test_cleanup_deletes_only_this_executions_green(task_set, expected):
    assert policy.may_delete_green(task_set, "run-1", {BLUE}) is expected


@pytest.mark.parametrize(
    ("task_set", "error", "message"),
    [
        (ts("g", BLUE, external="run-1"), errors.UnsafeDelete, "serves production"),
        # still shown as primary while production is back on blue: ECS lags the switch, retried
        (ts("g", GREEN, "PRIMARY", external="run-1"), errors.PrimaryNotSwitchedYet, "still shown as primary"),
    ],
)
def test_cleanup_refuses_to_delete_its_green_when_it_serves_production(task_set, error, message):
    with pytest.raises(error, match=message):
        policy.may_delete_green(task_set, "run-1", {BLUE})


@pytest.mark.parametrize(("healthy", "safe"), [(0, False), (1, True), (3, True)])
def test_rollback_needs_healthy_targets_in_blue(healthy, safe):
    if safe:
        policy.check_rollback_safe(BLUE, healthy, f"{healthy} healthy")
    else:
        with pytest.raises(errors.RollbackUnsafe, match="blue target group tg/blue has 2 unhealthy"):
            policy.check_rollback_safe(BLUE, healthy, "2 unhealthy")


@pytest.mark.parametrize(
    ("recorded", "listed", "production", "expected"),
    [
        (["ts-green"], set(), {BLUE}, ["ts-green"]),  # ECS does not list it yet: deleted by id
        (["ts-green"], {"ts-green"}, {BLUE}, []),  # listed: judged with the others (may_delete_green)
        (["ts-green"], set(), {BLUE, GREEN}, []),  # production forwards to green's group: never
        ([], set(), {BLUE}, []),  # nothing recorded (CreateGreen never ran)
    ],
    ids=["unlisted", "listed", "production-forwards-to-green", "nothing-recorded"],
)
def test_unlisted_green_is_deleted_by_id_only_when_production_does_not_forward_to_it(
    recorded, listed, production, expected
):
    assert policy.unlisted_green(recorded, listed, GREEN, production) == expected
