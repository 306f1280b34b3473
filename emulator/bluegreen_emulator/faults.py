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

and at the end: exactly one task set, primary, production forwards to it, the
service's lock is released and no analysis alarm of the service remains.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from moto.cloudwatch.models import cloudwatch_backends
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen.aws import elbv2 as rules
from bluegreen.domain import analysis
from bluegreen.domain.gates import Gate
from bluegreen.slack.notify import get_notifier

from .dataplane import Timing
from .emulator import ACCOUNT, REGION, Emulator, ExecutionResult
from .lambdas import CONTAINER_PARAMETERS
from .route_state import backend_actions
from .seed import push_image

# Functions that run before production is switched: a persistent fault there must end in cleanup.
BEFORE_SWAP = {"ValidateFunction", "CreateGreenFunction", "CheckHealthFunction", "OpenGateFunction"}
# Runs on the execution's status-change event, after it ended: a failure there never changes its end.
AFTER_END = {"ExecutionEndedFunction"}
# Calls that only feed Slack notifications: a failure there must never stop a deployment.
BEST_EFFORT = ("secretsmanager:", "events:")  # deployment events are published best effort
# Calls of one function that only feed a convenience (the Roll back to previous button).
BEST_EFFORT_POINTS = {("DeleteOldFunction", "dynamodb:Query")}
FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)
# With the built-in analysis, so its call sites (the alarm put, read, deleted) are faulted and stopped too
CONFIG = {"bakeSeconds": 20, "approval": {"required": False}, "analysis": {}}


def config_for(layout: str) -> dict[str, Any]:
    """An NLB service cannot have the built-in analysis (Validate refuses it)."""
    return {k: v for k, v in CONFIG.items() if k != "analysis"} if layout == "nlb" else CONFIG


@dataclass
class FaultReport:
    points: list[tuple[str, str]] = field(default_factory=list)
    injected: int = 0
    violations: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    # Ends no Catch sees, pushes during a deployment, racing clicks (None: not run)
    uncaught: UncaughtReport | None = None

    def summary(self) -> str:
        text = (
            f"fault points: {len(self.points)}, faults injected: {self.injected}, "
            f"invariant violations: {len(self.violations)}"
        )
        if self.uncaught is not None:
            text += "\n" + self.uncaught.summary()
        return text


@dataclass
class UncaughtReport:
    """Executions stopped at every call site (and one timed out), pushes during a deployment, racing clicks."""

    ended: int = 0  # stopped or timed-out executions
    cleaned: int = 0  # ... that left nothing behind
    pushes: int = 0
    pushes_lost: int = 0
    clicks: int = 0
    false_outcomes: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"stopped/timed-out executions cleaned: {self.cleaned}/{self.ended}, "
            f"pushes lost: {self.pushes_lost}, clicks told a false outcome: {self.false_outcomes}"
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
        for arn in self.demo.production_routes or [self.demo.production_rule_arn]:  # Every route
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
        prefix = analysis.alarm_name(self.demo.name, "")  # This service's analysis alarms
        left = [name for name in cloudwatch_backends[ACCOUNT][REGION].alarms if name.startswith(prefix)]
        if left:
            self.violations.append(f"{where}: analysis alarm {', '.join(left)} left behind")


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


def run_faulted(
    emu: Emulator, service: str, point: tuple[str, str], persistent: bool, after_call: Callable[[Any], None]
) -> tuple[ExecutionResult, int]:
    """One deployment of ``service`` with a fault at ``point`` (once, or at every call there); ``after_call``
    runs after every call the handlers make. Returns the result and how many faults were injected."""
    hook, seen = _fault(point, persistent)
    CONTAINER_PARAMETERS.clear_caches()  # so cached reads (the Slack secret) reach their call site again
    get_notifier.cache_clear()
    emu.recorder.before.append(hook)
    emu.recorder.after.append(after_call)
    try:
        result = emu.run(service, "v2")
    finally:
        emu.recorder.before.remove(hook)
        emu.recorder.after.remove(after_call)
    return result, seen[0]


def label_of(point: tuple[str, str], persistent: bool) -> str:
    return f"{point[0]} {point[1]} ({'persistent' if persistent else 'transient'})"


def _check_after_call(invariants: Invariants, label: str, call: Any) -> None:
    invariants.after_call(label)


def discover_points(emu: Emulator, layout: str = "rules") -> list[tuple[str, str]]:
    """The (function, service:Operation) pairs a happy deployment calls."""
    demo = emu.seed_service("probe", config_overrides=config_for(layout), layout=layout)
    start = len(emu.recorder.calls)
    result = emu.run(demo.name, "v2")
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the fault-free deployment failed: {result.error}: {result.cause}")
    calls = emu.recorder.calls[start:]
    emu.plane.unwatch(demo.name)
    return sorted({(c.function, f"{c.service}:{c.operation}") for c in calls})


def expected_outcome(point: tuple[str, str], persistent: bool) -> str:
    """How a deployment must end when ``point`` fails once (transient) or for good (persistent)."""
    if not persistent or point[1].startswith(BEST_EFFORT) or point[0] in AFTER_END or point in BEST_EFFORT_POINTS:
        return "deployed"
    return "cleaned_up" if point[0] in BEFORE_SWAP else "rolled_back"


def run_suite(
    progress: Callable[[str], None] | None = None, uncaught: bool = True, layout: str = "rules", only: str = ""
) -> FaultReport:
    """``layout``: how the service's routes are set up; ``only``: inject only at the points whose
    ``service:Operation`` starts with it (e.g. ``elbv2:`` for the route call sites); ``uncaught``: also the
    stops, pushes, timeouts and clicks no Catch sees."""
    report = FaultReport()
    with Emulator(timing=FAST) as emu:
        report.points = [point for point in discover_points(emu, layout) if point[1].startswith(only)]
        for index, point in enumerate(report.points):
            for persistent in (False, True):
                name = f"s{index}{'p' if persistent else 't'}"
                demo = emu.seed_service(name, config_overrides=config_for(layout), layout=layout)
                invariants = Invariants(emu, demo.name)
                label = label_of(point, persistent)
                check = functools.partial(_check_after_call, invariants, label)
                result, injected = run_faulted(emu, demo.name, point, persistent, check)
                report.injected += injected
                expected = expected_outcome(point, persistent)
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
                        "injected": injected,
                        "violations": invariants.violations,
                    }
                )
                if progress:
                    progress(f"{label}: {result.outcome}, {injected} faults")
        if uncaught:
            report.uncaught = UncaughtReport()
            run_stops(emu, report.points, report.uncaught)
            run_pushes(emu, report.uncaught)
    if report.uncaught is not None:  # these need an emulator of their own (one at a time)
        run_timeout(report.uncaught)
        run_clicks(report.uncaught)
        report.violations.extend(report.uncaught.problems)
    return report


# --- ends no Catch sees -------------------------------------------------------------------
def _stop_after(emu: Emulator, point: tuple[str, str], stopped: list[str]) -> Callable[[Any], None]:
    """A hook that stops the running execution right after the first call at ``point`` (as an operator would)."""
    function, operation = point

    def hook(call: Any) -> None:
        if stopped or call.function != function or f"{call.service}:{call.operation}" != operation:
            return
        sfn = emu.client("stepfunctions")

        def stop() -> None:
            running = sfn.list_executions(stateMachineArn=emu.state_machine_arn, statusFilter="RUNNING")["executions"]
            stopped.extend(e["executionArn"] for e in running)
            for arn in stopped:
                sfn.stop_execution(executionArn=arn, cause="fault suite")

        # From another thread: this one runs the handler, whose calls are recorded and checked against its IAM
        # policy; the operator's calls are not the function's.
        worker = threading.Thread(target=stop)
        worker.start()
        worker.join()

    return hook


def _clean_at_end(emu: Emulator, service: str, where: str, problems: list[str]) -> bool:
    invariants = Invariants(emu, service)
    invariants.at_end(where)
    if emu.store.open_gate_of(service):
        invariants.violations.append(f"{where}: a gate is still open")
    problems.extend(invariants.violations)
    return not invariants.violations


def run_stops(emu: Emulator, points: list[tuple[str, str]], report: UncaughtReport) -> None:
    """Stop an execution right after each call site of a deployment; every end must leave nothing behind."""
    config = {**CONFIG, "keepOld": {"enabled": True, "timeoutSeconds": 60}}
    for index, point in enumerate(points):
        demo = emu.seed_service(f"x{index}", config_overrides=config)
        stopped: list[str] = []
        hook = _stop_after(emu, point, stopped)
        emu.recorder.after.append(hook)
        try:
            result = emu.run(demo.name, "v2")
        finally:
            emu.recorder.after.remove(hook)
        emu.plane.unwatch(demo.name)
        if result.status != "ABORTED":
            continue  # the call site is in the end path itself (the execution ended first): nothing to stop
        report.ended += 1
        where = f"stopped after {point[0]} {point[1]}"
        if _clean_at_end(emu, demo.name, where, report.problems):
            report.cleaned += 1


def run_timeout(report: UncaughtReport) -> None:
    with Emulator(timing=FAST, auto_approve=False, execution_timeout=3600) as emu:
        demo = emu.seed_service("timeout", config_overrides={"approval": {"timeoutSeconds": 7200}})
        result = emu.run(demo.name, "v2")
        report.ended += 1
        if result.status == "TIMED_OUT" and _clean_at_end(emu, demo.name, "timed out", report.problems):
            report.cleaned += 1
        elif result.status != "TIMED_OUT":
            report.problems.append(f"timeout run ended {result.status}")


def run_pushes(emu: Emulator, report: UncaughtReport) -> None:
    """Push two images while a deployment runs: the first waits, the second supersedes it, both said."""
    demo = emu.seed_service("pushes", config_overrides={**CONFIG, "tagPattern": r"v\d+"})
    ecr = emu.client("ecr")
    pushed: list[tuple[str, str]] = []
    done: list[bool] = []

    def push_during(call: Any) -> None:
        if done or call.function != "CreateGreenFunction" or call.operation != "CreateTaskSet":
            return
        done.append(True)
        worker = threading.Thread(
            target=lambda: pushed.extend((tag, push_image(ecr, demo.repository, tag)) for tag in ("v5", "v6"))
        )
        worker.start()
        worker.join()

    emu.recorder.after.append(push_during)
    try:
        pushed.append(("v4", push_image(ecr, demo.repository, "v4")))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (emu.store.pending_of(demo.name) or emu.store.lock_holder(demo.name)):
            time.sleep(0.05)
        emu.wait_idle()
    finally:
        emu.recorder.after.remove(push_during)
    sfn = emu.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=emu.state_machine_arn)["executions"]
    deployed = set()
    for listed in executions:
        described = sfn.describe_execution(executionArn=listed["executionArn"])
        request = json.loads(described["input"])
        if request.get("service") == demo.name and described["status"] == "SUCCEEDED":
            deployed.add(request["imageTag"])
    live = {ts["image"].rsplit("@", 1)[-1] for ts in emu.task_sets(demo.name)}
    report.pushes += len(pushed)
    for position, (tag, _) in enumerate(pushed):
        # Not lost: deployed, or superseded by a later push that was deployed.
        if tag not in deployed and not any(later in deployed for later, _ in pushed[position + 1 :]):
            report.pushes_lost += 1
            report.problems.append(f"push of {tag} was lost (deployed: {sorted(deployed)})")
    if live != {pushed[-1][1]}:
        report.problems.append(f"after the pushes production runs {sorted(live)}, not {pushed[-1][0]}")
        report.pushes_lost += 1
    emu.plane.unwatch(demo.name)


def run_clicks(report: UncaughtReport, rounds: int = 4, clickers: int = 6) -> None:
    """Approve and Reject clicked at the same instant: exactly one is told it decided, the others the truth."""
    with Emulator(timing=FAST, auto_approve=False) as emu:
        demo = emu.seed_service("clicks", config_overrides={"bakeSeconds": 5})
        for round_number in range(rounds):
            arn = emu.start(demo.name, "v2" if round_number % 2 == 0 else "v3")
            gate = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (gate and gate.ts):
                gate = emu.store.open_gate_of(demo.name)
                time.sleep(0.005)
            if not gate:
                report.problems.append(f"click round {round_number}: no approval")
                continue
            barrier = threading.Barrier(clickers)
            answers: list[str] = []

            def click(
                action: str, gate: Gate = gate, barrier: threading.Barrier = barrier, answers: list = answers
            ) -> None:
                barrier.wait()
                answers.append(json.loads(emu.click(gate, action)["body"])["message"])

            threads = [threading.Thread(target=click, args=(("approve", "reject")[i % 2],)) for i in range(clickers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            emu.wait(arn)
            final = emu.store.get_gate(gate.gateId).status
            word = {"APPROVED": "Approved", "REJECTED": "Rejected"}.get(final, final)
            report.clicks += len(answers)
            for text in answers:
                told_decided = text.startswith(("Approved:", "Rejected:"))
                truthful = (told_decided and text.startswith(word + ":")) or (
                    not told_decided and f"already {word.lower()}" in text.lower()
                )
                if not truthful:
                    report.false_outcomes += 1
                    report.problems.append(f"click round {round_number}: told {text!r}, gate {final}")
            if sum(text.startswith(("Approved:", "Rejected:")) for text in answers) != 1:
                report.false_outcomes += 1
                report.problems.append(f"click round {round_number}: not exactly one decision: {answers}")


def main(as_json: bool = False) -> int:
    report = run_suite()
    for violation in report.violations:
        print(f"VIOLATION {violation}")  # noqa: T201 - command output
    if as_json:
        print(json.dumps({"points": report.points, "injected": report.injected, "violations": report.violations}))  # noqa: T201
    print(report.summary())  # noqa: T201 - command output
    return 0 if not report.violations else 1
