"""Pure judgement of green's health from what AWS reports (no AWS calls here).

Green is judged by **its own** targets: the addresses of its running tasks. Other
targets in the same target group (a deleted task set's targets still ``draining``,
a replaced task's old address) are ignored. Green is healthy when at least the
desired number of its own targets are ``healthy``; ``initial`` means "not yet".

A green whose tasks keep stopping trips the crash-loop circuit breaker, with the
same threshold as the ECS deployment circuit breaker: half the desired count,
at least 3 and at most 200 failed tasks.
"""

from __future__ import annotations

import math

from bluegreen.domain.models import GreenObservation, GreenVerdict, StoppedTask

HEALTHY = "healthy"
# Stop codes of tasks that failed on their own (not scaled in or stopped by a deployment).
FAILURE_STOP_CODES = ("EssentialContainerExited", "TaskFailedToStart")
MIN_FAILURES, MAX_FAILURES = 3, 200


def failure_threshold(desired: int) -> int:
    return min(MAX_FAILURES, max(MIN_FAILURES, math.ceil(0.5 * desired)))


def failed(task: StoppedTask) -> bool:
    """A task that stopped because it failed: its container exited, or it failed the ELB health checks."""
    return task.stopCode in FAILURE_STOP_CODES or "health checks" in task.stoppedReason.lower()


def crash_reasons(stopped: list[StoppedTask]) -> str:
    """``2 x Essential container in task exited; 1 x ...`` for the error's cause."""
    counts: dict[str, int] = {}
    for task in stopped:
        if failed(task):
            reason = task.stoppedReason or task.stopCode or "no reason given"
            counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(f"{count} x {reason}" for reason, count in sorted(counts.items()))


def _describe(states: list[tuple[str, str | None]]) -> str:
    if not states:
        return "no registered targets"
    counts: dict[str, int] = {}
    reasons: set[str] = set()
    for state, reason in states:
        counts[state] = counts.get(state, 0) + 1
        if reason:
            reasons.add(reason)
    text = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    return f"{text} ({', '.join(sorted(reasons))})" if reasons else text


def judge(observation: GreenObservation) -> GreenVerdict:
    if not observation.exists:
        return GreenVerdict(
            healthy=False,
            healthyTargets=0,
            desired=0,
            summary=f"task set {observation.taskSetId} is not listed by ECS (yet, or any more)",
        )
    own_addresses = set(observation.addresses)
    own = [t for t in observation.targets if t.address in own_addresses]
    others = [t for t in observation.targets if t.address not in own_addresses]
    healthy = sum(1 for t in own if t.state == HEALTHY)
    desired = observation.desired
    failures = [task for task in observation.stopped if failed(task)]
    crash_looping = len(failures) >= failure_threshold(desired) and healthy < desired
    ok = desired > 0 and observation.running >= desired and healthy >= desired and not crash_looping
    summary = (
        f"task set {observation.taskSetId}: {observation.stability}, {observation.running}/{desired} tasks running; "
        f"its targets: {_describe([(t.state, t.reason) for t in own])}"
    )
    if others:
        summary += (
            f"; ignored {len(others)} other target(s) in its group: {_describe([(t.state, t.reason) for t in others])}"
        )
    if failures:
        summary += f"; {len(failures)} task(s) stopped: {crash_reasons(failures)}"
    return GreenVerdict(
        healthy=ok, healthyTargets=healthy, desired=desired, crashLooping=crash_looping, summary=summary
    )
