"""Fault injection: every AWS API call site of a full deployment, failed once and failed for good.

A *fault point* is a (function, ``service:Operation``) pair that a happy deployment
calls. For each one the suite runs two deployments on the emulator:

* **transient**: the first call at that point fails with a throttling error; the
  deployment must still succeed (the state machine retries the task);
* **persistent**: every call at that point fails; the run must end clean:
  ``cleaned_up`` when the point is before the swap, ``rolled_back`` from the swap on, and
  ``deployed`` when the call only feeds Slack (notifications never block a deployment).

After every API call the handlers make, the invariants are checked against the
emulator's state (not through the API, so the checks do not count as calls):

* the production rule forwards only to target groups that have healthy targets;
* at most two task sets exist;

and at the end: exactly one task set, primary, production forwards to it, and the
service's lock is released.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen import elbv2 as rules
from bluegreen.notify import get_notifier

from .dataplane import Timing
from .emulator import ACCOUNT, REGION, Emulator
from .route_state import backend_actions

# Functions that run before production is switched: a persistent fault there must end in cleanup.
BEFORE_SWAP = {"ValidateFunction", "CreateGreenFunction", "CheckHealthFunction", "OpenGateFunction"}
# Calls that only feed Slack notifications: a failure there must never stop a deployment.
BEST_EFFORT = ("secretsmanager:",)
FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)
CONFIG = {"bakeSeconds": 20, "approval": {"required": False}}


@dataclass
class FaultReport:
    points: list[tuple[str, str]] = field(default_factory=list)
    injected: int = 0
    violations: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"fault points: {len(self.points)}, faults injected: {self.injected}, "
            f"invariant violations: {len(self.violations)}"
        )


def _live_task_sets(service: Any) -> list[Any]:
    return [ts for ts in service.task_sets if ts.status in ("PRIMARY", "ACTIVE")]


class Invariants:
    """Checks the emulator's state directly in the moto backends."""

    def __init__(self, emu: Emulator, service: str) -> None:
        self.emu = emu
        self.demo = emu.services[service]
        self.violations: list[str] = []

    def _service(self) -> Any:
        return ecs_backends[ACCOUNT][REGION].services[f"{self.demo.cluster}:{self.demo.name}"]

    def _production(self) -> set[str]:
        backend = elbv2_backends[ACCOUNT][REGION]
        groups: set[str] = set()
        for arn in self.demo.production_routes or [self.demo.production_rule_arn]:  # issue #14: every route
            groups |= rules.receiving(rules.forward_weights(backend_actions(backend, arn)))
        return groups

    def _healthy(self, target_group: str) -> bool:
        group = elbv2_backends[ACCOUNT][REGION].target_groups[target_group]
        return any(
            self.emu.plane.health.get((target_group, target), ("", None))[0] == "healthy" for target in group.targets
        )

    def after_call(self, where: str) -> None:
        for group in self._production():
            if not self._healthy(group):
                self.violations.append(f"{where}: production forwards to {group} without healthy targets")
        count = len(_live_task_sets(self._service()))
        if count > 2:
            self.violations.append(f"{where}: {count} task sets exist")

    def at_end(self, where: str) -> None:
        live = _live_task_sets(self._service())
        if len(live) != 1:
            self.violations.append(f"{where}: {len(live)} task sets at the end")
            return
        task_set = live[0]
        if task_set.status != "PRIMARY":
            self.violations.append(f"{where}: the remaining task set is {task_set.status}, not PRIMARY")
        group = (task_set.load_balancers or [{}])[0].get("targetGroupArn")
        if self._production() != {group}:
            self.violations.append(f"{where}: production does not forward only to the remaining task set")
        if self.emu.store.lock_holder(self.demo.name):  # outside a handler: not counted as a call
            self.violations.append(f"{where}: the deployment lock is still held")


def _fault(point: tuple[str, str], persistent: bool) -> tuple[Callable[[Any], None], list[int]]:
    function, operation = point
    seen = [0]

    def hook(call: Any) -> None:
        at_point = call.function == function and f"{call.service}:{call.operation}" == operation
        if at_point and (persistent or seen[0] == 0):
            seen[0] += 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "injected fault"}}
            raise ClientError(error, call.operation)

    return hook, seen


def _check_after_call(invariants: Invariants, label: str, call: Any) -> None:
    invariants.after_call(label)


def discover_points(emu: Emulator, layout: str = "rules") -> list[tuple[str, str]]:
    """The (function, service:Operation) pairs a happy deployment calls."""
    demo = emu.seed_service("probe", config_overrides=CONFIG, layout=layout)
    start = len(emu.recorder.calls)
    result = emu.run(demo.name, "v2")
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the fault-free deployment failed: {result.error}: {result.cause}")
    calls = emu.recorder.calls[start:]
    emu.plane.unwatch(demo.name)
    return sorted({(c.function, f"{c.service}:{c.operation}") for c in calls})


def run_suite(progress: Callable[[str], None] | None = None, layout: str = "rules", only: str = "") -> FaultReport:
    """``layout``: how the service's routes are set up (issue #14); ``only``: inject only at the points whose
    ``service:Operation`` starts with it (e.g. ``elbv2:`` for the route call sites)."""
    report = FaultReport()
    with Emulator(timing=FAST) as emu:
        report.points = [point for point in discover_points(emu, layout) if point[1].startswith(only)]
        for index, point in enumerate(report.points):
            for persistent in (False, True):
                name = f"s{index}{'p' if persistent else 't'}"
                demo = emu.seed_service(name, config_overrides=CONFIG, layout=layout)
                invariants = Invariants(emu, demo.name)
                hook, seen = _fault(point, persistent)
                label = f"{point[0]} {point[1]} ({'persistent' if persistent else 'transient'})"
                check = functools.partial(_check_after_call, invariants, label)
                parameters.clear_caches()  # so cached reads (the Slack secret) reach their call site again
                get_notifier.cache_clear()
                emu.recorder.before.append(hook)
                emu.recorder.after.append(check)
                try:
                    result = emu.run(demo.name, "v2")
                finally:
                    emu.recorder.before.remove(hook)
                    emu.recorder.after.remove(check)
                report.injected += seen[0]
                expected = "deployed"
                if persistent and not point[1].startswith(BEST_EFFORT):
                    expected = "cleaned_up" if point[0] in BEFORE_SWAP else "rolled_back"
                if result.outcome != expected:
                    invariants.violations.append(
                        f"{label}: ended {result.outcome} ({result.error}: {result.cause}), expected {expected}"
                    )
                invariants.at_end(label)
                emu.plane.unwatch(demo.name)
                report.violations.extend(invariants.violations)
                report.runs.append(
                    {
                        "point": list(point),
                        "persistent": persistent,
                        "outcome": result.outcome,
                        "injected": seen[0],
                        "violations": invariants.violations,
                    }
                )
                if progress:
                    progress(f"{label}: {result.outcome}, {seen[0]} faults")
    return report


def main(as_json: bool = False) -> int:
    report = run_suite()
    for violation in report.violations:
        print(f"VIOLATION {violation}")  # noqa: T201 - command output
    if as_json:
        print(json.dumps({"points": report.points, "injected": report.injected, "violations": report.violations}))  # noqa: T201
    print(report.summary())  # noqa: T201 - command output
    return 0 if not report.violations else 1
