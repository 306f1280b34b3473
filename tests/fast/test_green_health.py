"""The health gate's verdict on green, from what AWS reports (pure: no AWS)."""

from bluegreen.domain.green_health import failure_threshold, judge
from bluegreen.domain.models import GreenObservation, StoppedTask, TargetObservation

CRASH = StoppedTask(
    taskArn="t", stoppedReason="Essential container in task exited", stopCode="EssentialContainerExited"
)
SCALED_IN = StoppedTask(
    taskArn="s",
    stoppedReason="Scaling activity initiated by (deployment ecs-svc/1)",
    stopCode="ServiceSchedulerInitiated",
)


def observe(targets, addresses, desired=2, running=None, stopped=()):
    return GreenObservation(
        taskSetId="ecs-svc/green",
        stability="STABILIZING",
        desired=desired,
        running=len(addresses) if running is None else running,
        addresses=addresses,
        targets=[TargetObservation(address=a, state=s, reason=r) for a, s, r in targets],
        stopped=list(stopped),
    )


def test_other_task_sets_draining_targets_are_ignored():
    # Given green's two targets are healthy next to two draining targets of a deleted task set
    targets = [("10.0.0.1", "healthy", None), ("10.0.0.2", "healthy", None)]
    targets += [("10.0.9.1", "draining", "Target.DeregistrationInProgress")] * 2

    # When judged
    verdict = judge(observe(targets, ["10.0.0.1", "10.0.0.2"]))

    # Then green is healthy, and the summary says what was ignored
    assert verdict.healthy and verdict.healthyTargets == 2
    assert "ignored 2 other target(s)" in verdict.summary


def test_initial_targets_are_not_yet_healthy():
    targets = [("10.0.0.1", "healthy", None), ("10.0.0.2", "initial", "Elb.InitialHealthChecking")]
    verdict = judge(observe(targets, ["10.0.0.1", "10.0.0.2"]))
    assert not verdict.healthy and not verdict.crashLooping
    assert verdict.healthyTargets == 1
    assert "Elb.InitialHealthChecking" in verdict.summary


def test_fewer_healthy_than_desired_is_not_healthy_even_if_all_are_healthy():
    # Given a scale-out: 4 desired, 2 running and healthy
    targets = [("10.0.0.1", "healthy", None), ("10.0.0.2", "healthy", None)]
    assert not judge(observe(targets, ["10.0.0.1", "10.0.0.2"], desired=4)).healthy


def test_a_replaced_tasks_old_address_does_not_count():
    # Given a task was replaced: its old address drains, the new one is healthy
    targets = [("10.0.0.1", "healthy", None), ("10.0.0.2", "draining", None), ("10.0.0.3", "healthy", None)]
    verdict = judge(observe(targets, ["10.0.0.1", "10.0.0.3"], stopped=[CRASH]))
    assert verdict.healthy and not verdict.crashLooping


def test_crash_loop_trips_at_the_ecs_circuit_breaker_threshold_and_scale_in_does_not_count():
    # Given three crashed tasks (threshold for 2 desired is 3), no healthy target
    assert failure_threshold(2) == 3 and failure_threshold(10) == 5 and failure_threshold(1000) == 200
    crashing = judge(observe([], [], stopped=[CRASH] * 3))
    assert crashing.crashLooping and not crashing.healthy
    assert "3 x Essential container in task exited" in crashing.summary
    # ... while stops by scale-in are not failures
    assert not judge(observe([], [], stopped=[CRASH, CRASH, SCALED_IN, SCALED_IN])).crashLooping


def test_a_task_set_ecs_does_not_list_yet_is_not_healthy():
    verdict = judge(GreenObservation(taskSetId="ecs-svc/green", exists=False))
    assert not verdict.healthy and "not listed" in verdict.summary
