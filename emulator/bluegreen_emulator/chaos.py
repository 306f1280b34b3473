"""Data-plane chaos: what ECS and the load balancer do on their own, injected at every phase of a deployment.

Like the API fault-injection suite (:mod:`.faults`, whose invariant checks it reuses), but the
injected events come from the data plane, not from the API: a green task crashes and is replaced,
a blue task is replaced, a slow drain, a scale-out, a scale-in, a target flapping once, ECS's
read-after-write lag growing. Each event is injected once, right before the first API call of a
phase (health wait, approval, each traffic step, bake, keep-old, delete) of a healthy release,
which must still be **deployed**: a rollback is spurious. Invariants, checked after every call:
production forwards only to target groups with healthy targets, no task set that serves
production is deleted, at most two task sets; after the end: one primary task set that production
forwards to, no lock, no open gate.

An alarm set by hand (``set-alarm-state``) is a data-plane event too: :data:`EXTRA_EVENTS` is the
hook where the CloudWatch metrics model (item 3) adds it, with its expected outcome.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters
from moto.ecs.models import ecs_backends

from bluegreen.slack.notify import get_notifier

from .dataplane import Timing
from .emulator import ACCOUNT, REGION, Emulator
from .faults import Invariants

FAST = Timing(task_start=2, healthy_after=4, alarm_delay=2)

# scenario -> (service configuration, phases: name -> (function, its nth invocation))
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, tuple[str, int]]]] = {
    "happy": (
        {
            "bakeSeconds": 20,
            "keepOld": {"enabled": True, "timeoutSeconds": 60, "onTimeout": "finish"},
        },
        {
            "health wait": ("CheckHealthFunction", 2),  # the 2nd poll: green's tasks exist
            "approval": ("OpenGateFunction", 1),
            "swap": ("SwapFunction", 1),
            "bake": ("BakeFunction", 1),
            "keep-old": ("OpenGateFunction", 2),
            "delete": ("DeleteOldFunction", 1),
        },
    ),
    "canary": (
        {
            "bakeSeconds": 20,
            "approval": {"required": False},
            "trafficShift": {"type": "CANARY", "percent": 50, "intervalSeconds": 30},
        },
        {  # the phases it shares with "happy" (health wait, bake, delete) are exercised there
            "step 1": ("SwapFunction", 1),
            "step 1 watch": ("BakeFunction", 1),
            "step 2": ("SwapFunction", 2),
        },
    ),
}


@dataclass
class Target:
    """What an event acts on."""

    emu: Emulator
    service: str
    cluster: str
    green_group: str
    blue_group: str

    def task_set(self, group: str) -> str | None:
        return self.emu.plane.task_set_of_group(self.service, group)


def _crash(group_of: Callable[[Target], str]) -> Callable[[Target], bool]:
    def event(target: Target) -> bool:
        task_set = target.task_set(group_of(target))
        return bool(task_set) and target.emu.plane.crash_task(task_set) is not None

    return event


def _flap(target: Target) -> bool:
    task_set = target.task_set(target.green_group)
    return bool(task_set) and target.emu.plane.flap(task_set, seconds=20) is not None


def _slow_drain(target: Target) -> bool:
    for group in (target.green_group, target.blue_group):
        target.emu.plane.set_deregistration_delay(group, 900)
    return True


def _scale(count: int) -> Callable[[Target], bool]:
    def event(target: Target) -> bool:
        target.emu.plane.scale_service(target.cluster, target.service, count)
        return True

    return event


def _lag(target: Target) -> bool:
    target.emu.plane.consistency_delay = 8.0
    target.emu.plane.events.append((target.emu.clock.elapsed, "ECS read-after-write lag now 8s"))
    return True


# event -> (inject, expected outcome)
EVENTS: dict[str, tuple[Callable[[Target], bool], str]] = {
    "green task crash+replace": (_crash(lambda t: t.green_group), "deployed"),
    "blue task replaced": (_crash(lambda t: t.blue_group), "deployed"),
    "slow drain": (_slow_drain, "deployed"),
    "scale-out": (_scale(4), "deployed"),
    "scale-in": (_scale(1), "deployed"),
    "target flaps once": (_flap, "deployed"),
    "eventual consistency": (_lag, "deployed"),
}
# Hook for the CloudWatch metrics model: e.g. {"alarm set by hand": (inject, "rolled_back")}.
EXTRA_EVENTS: dict[str, tuple[Callable[[Target], bool], str]] = {}


@dataclass
class ChaosReport:
    events: int = 0
    runs: int = 0
    spurious_rollbacks: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    debris: list[str] = field(default_factory=list)
    not_injected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"data-plane events: {self.events}, spurious rollbacks: {len(self.spurious_rollbacks)}, "
            f"invariant violations: {len(self.violations)}, debris left: {len(self.debris)}"
        )


class _PhaseTrigger:
    """Runs the event right before the first API call of the phase's ``nth`` function invocation."""

    def __init__(self, emu: Emulator, function: str, nth: int, inject: Callable[[], bool]) -> None:
        self.emu, self.function, self.nth, self.inject = emu, function, nth, inject
        self.baseline = emu.dispatcher.invocations[function]  # invocations of earlier runs
        self.fired = False
        self.injected = False

    def __call__(self, call: Any) -> None:
        if self.fired or call.function != self.function:
            return
        if self.emu.dispatcher.invocations[self.function] - self.baseline == self.nth:
            self.fired = True
            self.injected = self.inject()


class _ApprovalHold:
    """Stops simulated time from the approval gate's opening until the auto-approver has clicked.

    On a loaded machine the approver thread can lag; without the hold the approval's timeout could
    pass in simulated time before it clicks. Data-plane events are the subject here, not timeouts.
    """

    def __init__(self, emu: Emulator, service: str) -> None:
        self.emu, self.service = emu, service
        self.started = False

    def __call__(self, call: Any) -> None:
        if self.started or call.function != "OpenGateFunction":
            return
        self.started = True
        hold = self.emu.clock.hold()
        hold.__enter__()
        approvals = len(self.emu.approvals)

        def release() -> None:
            deadline = time.monotonic() + 120
            while len(self.emu.approvals) == approvals and time.monotonic() < deadline:
                time.sleep(0.005)
            hold.__exit__(None, None, None)

        threading.Thread(target=release, name="chaos-approval-hold", daemon=True).start()


def _never_delete_serving(invariants: Invariants, label: str, call: Any) -> None:
    """Before DeleteTaskSet: the task set must not be one production forwards to."""
    if call.operation != "DeleteTaskSet":
        return
    service = ecs_backends[ACCOUNT][REGION].services[f"{invariants.demo.cluster}:{invariants.demo.name}"]
    doomed = [ts for ts in service.task_sets if call.params.get("taskSet") in (ts.id, ts.task_set_arn)]
    production = invariants._production()  # Every production route, rule or listener
    for task_set in doomed:
        if (task_set.load_balancers or [{}])[0].get("targetGroupArn") in production:
            invariants.violations.append(f"{label}: deleted task set {task_set.id}, which serves production")


def _after(invariants: Invariants, label: str, call: Any) -> None:
    invariants.after_call(label)


def run_suite(progress: Callable[[str], None] | None = None, scenarios: list[str] | None = None) -> ChaosReport:
    report = ChaosReport()
    events = {**EVENTS, **EXTRA_EVENTS}
    with Emulator(timing=FAST) as emu:
        index = 0
        for scenario in scenarios or list(SCENARIOS):
            config, phases = SCENARIOS[scenario]
            for phase, (function, nth) in phases.items():
                for event_name, (inject, expected) in events.items():
                    index += 1
                    demo = emu.seed_service(f"c{index}", config_overrides=config)
                    target = Target(emu, demo.name, demo.cluster, demo.target_groups[1], demo.target_groups[0])
                    label = f"{scenario} / {phase} / {event_name}"
                    invariants = Invariants(emu, demo.name)
                    trigger = _PhaseTrigger(emu, function, nth, functools.partial(inject, target))
                    approval = _ApprovalHold(emu, demo.name)
                    guard = functools.partial(_never_delete_serving, invariants, label)
                    check = functools.partial(_after, invariants, label)
                    parameters.clear_caches()
                    get_notifier.cache_clear()
                    emu.recorder.before.extend([trigger, guard, approval])
                    emu.recorder.after.append(check)
                    try:
                        result = emu.run(demo.name, "v2")
                    finally:
                        emu.recorder.before.remove(trigger)
                        emu.recorder.before.remove(guard)
                        emu.recorder.before.remove(approval)
                        emu.recorder.after.remove(check)
                        emu.plane.consistency_delay = FAST.consistency_delay
                    report.runs += 1
                    report.events += int(trigger.injected)
                    if not trigger.injected:
                        report.not_injected.append(label)
                    if result.outcome != expected:
                        text = f"{label}: ended {result.outcome} ({result.error}: {(result.cause or '')[:300]})"
                        if result.outcome == "rolled_back" or expected == "deployed":
                            report.spurious_rollbacks.append(text)
                        else:
                            invariants.violations.append(text)
                    if result.outcome in ("deployed", "rolled_back", "cleaned_up"):
                        before = len(invariants.violations)
                        invariants.at_end(label)
                        report.debris += invariants.violations[before:]
                        del invariants.violations[before:]
                    if emu.store.open_gate_of(demo.name):
                        report.debris.append(f"{label}: a gate is still open")
                    emu.plane.unwatch(demo.name)
                    report.violations += invariants.violations
                    if progress:
                        progress(f"{label}: {result.outcome}{'' if trigger.injected else ' (event not injected)'}")
    return report


def main() -> int:
    from . import lost_events

    report = run_suite(progress=lambda line: print(f"  {line}", flush=True))  # noqa: T201 - command output
    # Events AWS may lose, duplicate or delay (and the alarm events the end-of-bake alarm re-read catches)
    lost = lost_events.run_suite(
        progress=lambda line: print(f"  {line}", flush=True),  # noqa: T201 - command output
        cases={**lost_events.CASES, **lost_events.ALARM_CASES},
    )
    report.debris += lost.debris  # one "debris left" for both suites
    for line in lost.wrong_outcome + lost.alarm_in_production:
        print(f"LOST EVENT {line}")  # noqa: T201 - command output
    for line in report.spurious_rollbacks:
        print(f"SPURIOUS {line}")  # noqa: T201 - command output
    for line in report.violations:
        print(f"VIOLATION {line}")  # noqa: T201
    for line in report.debris:
        print(f"DEBRIS {line}")  # noqa: T201
    for line in report.not_injected:
        print(f"NOT INJECTED {line}")  # noqa: T201
    print(  # noqa: T201 - command output
        f"data-plane events: {report.events}, spurious rollbacks: {len(report.spurious_rollbacks)}, "
        f"invariant violations: {len(report.violations)}, events lost: {lost.lost}, "
        f"releases left in production with an alarm in ALARM: {len(lost.alarm_in_production)}, "
        f"debris left: {len(report.debris)}"
    )
    failed = report.spurious_rollbacks or report.violations or report.debris or report.not_injected
    failed = failed or lost.wrong_outcome or lost.alarm_in_production
    return 0 if not failed else 1
