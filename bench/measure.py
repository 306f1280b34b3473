"""The measuring half of the benchmark: scenarios, approval holds, Slack clicks, handler imports, start-up.

Each ``run_*`` function runs on the embedded emulator (or in fresh interpreters) and returns plain
dataclasses; :mod:`bench.report` turns them into ``docs/benchmarks.md``; :mod:`bench.run` ties both.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.elbv2.models import elbv2_backends

from bluegreen.aws import elbv2 as rules
from bluegreen.domain.gates import Gate
from bluegreen_emulator import simclock
from bluegreen_emulator.demo import SCENARIOS, _stopper, summarize
from bluegreen_emulator.emulator import ACCOUNT, REGION, Emulator, route_of
from bluegreen_emulator.route_state import backend_actions

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400
# The longest approval Validate accepts for the demo service: a deployment may wait 364 days in all (Step Functions'
# one-year limit less a day), and the demo's bake (120 s) and health wait (300 s) count too.
APPROVAL_TIMEOUT_S = 364 * DAY - 3600
HOLDS = [("none (approved at once)", 0), ("1 hour", 3600), ("7 days", 7 * DAY), ("363 days", 363 * DAY)]
FINE_GROWTH = 0.001  # callback time step near the end of a hold: lands within 0.1% of the target


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --- measuring helpers ---------------------------------------------------------------------------
def billable_transitions(events: list[dict[str, Any]]) -> int:
    """States entered plus task retries, where an attempt is a Lambda *or* a callback task scheduled."""
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    tasks = sum(1 for e in events if e["type"] == "TaskStateEntered")
    attempts = sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
    return entered + attempts - tasks


class StampedList(list):
    """A list that remembers the wall-clock moment of every append (alarm changes, clicks)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.stamps: list[float | None] = [None] * len(self)

    def append(self, item: Any) -> None:
        self.stamps.append(time.perf_counter())
        super().append(item)


@dataclass
class CallRow:
    """The routing state right after one API call returned."""

    call: Any
    at: float  # simulated seconds
    wall: float  # perf_counter when the call returned
    unhealthy: tuple[str, ...]  # target groups production forwards to that have no healthy target
    overlap: bool  # the test rule forwards to the one target group that carries all production traffic

    @property
    def name(self) -> str:
        return f"{self.call.function} {self.call.service}:{self.call.operation}"


@dataclass
class Window:
    opened: CallRow
    closed: CallRow | None
    calls: int

    @property
    def seconds(self) -> float | None:
        return None if self.closed is None else round(self.closed.at - self.opened.at, 3)


class RoutingWatch:
    """After-call hook: inspects the listener rules and target health in the moto backends.

    It reads the backends directly (like ``faults.Invariants``), so it makes no API call of its own.
    """

    def __init__(self, emu: Emulator, service: str) -> None:
        self.emu = emu
        self.demo = emu.services[service]
        self.rows: list[CallRow] = []
        self.spent = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def _receiving(backend: Any, rule_arn: str) -> set[str]:
        # A listener rule or a listener's default actions; a first deployment's production
        # route may answer a fixed response (it forwards nowhere)
        actions = backend_actions(backend, rule_arn)
        if not any(action.get("Type") == "forward" for action in actions):
            return set()
        return rules.receiving(rules.forward_weights(actions))

    def _healthy(self, backend: Any, group: str) -> bool:
        targets = backend.target_groups[group].targets
        return any(self.emu.plane.health.get((group, target), ("", None))[0] == "healthy" for target in targets)

    def __call__(self, call: Any) -> None:
        started = time.perf_counter()
        backend = elbv2_backends[ACCOUNT][REGION]
        production = self._receiving(backend, self.demo.production_rule_arn)
        test = self._receiving(backend, self.demo.test_rule_arn)
        unhealthy = tuple(sorted(g for g in production if not self._healthy(backend, g)))
        overlap = len(production) == 1 and production <= test
        done = time.perf_counter()
        with self._lock:
            self.rows.append(CallRow(call, call.at, done, unhealthy, overlap))
            self.spent += done - started


def windows(rows: list[CallRow], bad: Any) -> list[Window]:
    found: list[Window] = []
    current: Window | None = None
    for row in rows:
        if bad(row):
            if current is None:
                current = Window(row, None, 0)
            current.calls += 1
        elif current is not None:
            current.closed = row
            found.append(current)
            current = None
    if current is not None:
        found.append(current)
    return found


def wait_for_gate(emu: Emulator, service: str, kind: str, timeout: float = 60.0) -> Gate:
    """A pending gate of ``kind`` whose Slack message is posted (it has a ``ts``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == kind and gate.ts:
            return gate
        time.sleep(0.002)
    raise TimeoutError(f"no pending {kind} gate for {service} within {timeout}s")


def operator(emu: Emulator, service: str, kind: str, action: str) -> None:
    """Click ``action`` on the ``kind`` gate's Slack message once it is posted (as the demo does)."""
    emu.click(wait_for_gate(emu, service, kind), action)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- 1. the demo scenarios -----------------------------------------------------------------------
@dataclass
class ScenarioRun:
    name: str
    description: str
    expected: str
    outcome: str
    error: str | None
    states: list[str]
    transitions: int
    emulator_transitions: int
    history_events: int
    api_calls: dict[str, int]
    seed_calls: int
    calls_by_function: dict[str, Counter]
    production_modify: dict[str, int]
    rows: list[CallRow]
    weight_steps: list[tuple[float, int]]
    end_at: float
    alarm_at: float | None
    trigger_at: float | None
    approval_at: float | None
    reaction_s: float | None
    reaction_calls: int | None
    reaction_wall_ms: float | None
    delivered_s: float | None  # simulated s from the SendTaskFailure that stops the watch to the restore
    simulated_s: float
    wall_setup: float
    wall_run: float
    wall_hooks: float
    hook_invocations: dict[str, int] = field(default_factory=dict)  # Verification hook calls

    @property
    def n_calls(self) -> int:
        return sum(self.api_calls.values())

    @property
    def unhealthy_windows(self) -> list[Window]:
        return windows(self.rows, lambda r: bool(r.unhealthy))

    @property
    def overlap_windows(self) -> list[Window]:
        return windows(self.rows, lambda r: r.overlap)


def run_scenario(name: str) -> ScenarioRun:
    spec = SCENARIOS[name]
    started = time.perf_counter()
    auto_approve = spec.click is None or spec.click[0] != "approval"
    with Emulator(auto_approve=auto_approve) as emu:
        # seeded as the demo seeds it: its routes' layout, sidecar and seed options
        demo = emu.seed_service(
            config_overrides=spec.config, sidecar=spec.sidecar, layout=spec.layout, **(spec.seed or {})
        )
        emu.plane.alarm_min_weight = spec.alarm_min_weight
        for zone in spec.zones_out:
            emu.plane.zone_out_of_capacity(zone)
        emu.plane.alarm_changes = StampedList(emu.plane.alarm_changes)
        emu.clicks = StampedList(emu.clicks)
        watch = RoutingWatch(emu, demo.name)
        emu.recorder.after.append(watch)
        helper = None
        if spec.click:
            helper = threading.Thread(target=operator, args=(emu, demo.name, *spec.click), daemon=True)
            helper.start()
        elif spec.stop_at:  # Stopped from the console, as the demo does
            helper = threading.Thread(target=_stopper, args=(emu, demo.name, spec.stop_at, io.StringIO()), daemon=True)
            helper.start()
        wall_setup = time.perf_counter() - started
        first_call = len(emu.recorder.calls)  # seeding made calls too (the ECR trigger sees the image pushes)
        begun = time.perf_counter()
        raw = {"service": demo.name, **spec.release} if spec.release else None  # A whole release
        result = emu.run(demo.name, spec.tag, raw_input=raw)
        wall_run = time.perf_counter() - begun
        if helper:
            helper.join(timeout=10)
        summary = summarize(emu, name, demo.name, result, wall_run)
        calls = emu.recorder.calls[first_call:]
        end_at = emu.clock.elapsed

        by_function: dict[str, Counter] = defaultdict(Counter)
        modify: Counter = Counter()
        for call in calls:
            by_function[f"{call.service}:{call.operation}"][call.function] += 1
            if route_of(call) == demo.production_rule_arn:  # ModifyRule or ModifyListener
                modify[call.function] += 1

        # Rollback reaction: from the trigger (alarm to ALARM, or the Roll back click) to production restored.
        alarm_at = next((at for at, alarm, state in emu.plane.alarm_changes if state == "ALARM"), None)
        trigger_stamp, trigger_at = None, alarm_at
        clicks = [i for i, (_at, _svc, action) in enumerate(emu.clicks) if action == "rollback"]
        if clicks:
            trigger_stamp, trigger_at = emu.clicks.stamps[clicks[0]], emu.clicks[clicks[0]][0]
        elif alarm_at is not None:
            index = next(i for i, (_at, _a, state) in enumerate(emu.plane.alarm_changes) if state == "ALARM")
            trigger_stamp = emu.plane.alarm_changes.stamps[index]
        # Production is restored once the Rollback's call on its last production route returned
        production_routes = demo.production_routes or [demo.production_rule_arn]
        restores = [
            r for r in watch.rows if r.call.function == "RollbackFunction" and route_of(r.call) in production_routes
        ]
        restore = restores[min(len(production_routes), len(restores)) - 1] if restores else None
        reaction_calls = reaction_wall = delivered = None
        failure = next(
            (
                r
                for r in watch.rows
                if r.call.operation == "SendTaskFailure"
                and r.call.function in ("AlarmEventFunction", "SlackCallbackFunction")
            ),
            None,
        )
        if failure is not None and restore is not None:
            delivered = round(restore.at - failure.at, 3)
        if trigger_stamp is not None and restore is not None:
            reaction_calls = sum(1 for r in watch.rows if trigger_stamp < r.wall <= restore.wall)
            reaction_wall = round(1000 * (restore.wall - trigger_stamp), 1)
        run = ScenarioRun(
            name=name,
            description=spec.description,
            expected=spec.expected_outcome,
            outcome=result.outcome,
            error=result.error,
            states=result.states,
            transitions=billable_transitions(result.events),
            emulator_transitions=result.state_transitions,
            history_events=len(result.events),
            api_calls=dict(sorted(Counter(f"{c.service}:{c.operation}" for c in calls).items())),
            seed_calls=sum(summary["apiCalls"].values()) - len(calls),
            calls_by_function=dict(by_function),
            production_modify=dict(modify),
            rows=list(watch.rows),
            weight_steps=emu.weight_steps(demo.name),
            end_at=end_at,
            alarm_at=alarm_at,
            trigger_at=trigger_at,
            approval_at=emu.approvals[0][0] if emu.approvals else None,
            reaction_s=emu.rollback_reaction(demo.name),
            reaction_calls=reaction_calls,
            reaction_wall_ms=reaction_wall,
            delivered_s=delivered,
            simulated_s=round(end_at, 1),
            wall_setup=wall_setup,
            wall_run=wall_run,
            wall_hooks=watch.spent,
            hook_invocations={n: c for n, c in emu.dispatcher.invocations.items() if n.startswith("bluegreen-hook-")},
        )
    return run


# --- time to restore, an alarm vs the built-in analysis ---------------------------------
CANARY_10 = {"type": "CANARY", "percent": 10, "intervalSeconds": 900}
DETECTORS = {
    # the service's own alarm (seeded: more than 10 target 5xx a minute, 1 of 1), no analysis
    "alarm": {"trafficShift": CANARY_10},
    # no alarm, the built-in analysis (its defaults but minRequests 50: the canary gets 60 requests a minute)
    "analysis": {"alarmNames": [], "trafficShift": CANARY_10, "analysis": {"minRequests": 50}},
    # the same, judging on one minute (1 of 1) instead of 2 of the last 3
    "analysis 1/1": {
        "alarmNames": [],
        "trafficShift": CANARY_10,
        "analysis": {"minRequests": 50, "evaluationPeriods": 1, "datapointsToAlarm": 1},
    },
    # neither: what the other two add is measured against this
    "none": {"alarmNames": [], "trafficShift": CANARY_10},
}
FAILING_IMAGES = {"v2-5xx": "50% 5xx from its first request", "v2-5xx-rising": "5xx rate 2%, +2%/min"}


@dataclass
class DetectionRun:
    detector: str
    image: str
    outcome: str
    failure_at: float | None  # simulated s: production first reaches green (the image fails from its first request)
    restored_at: float | None  # simulated s: Rollback's ModifyRule on the production rule
    transitions: int

    @property
    def time_to_restore(self) -> float | None:
        if self.failure_at is None or self.restored_at is None:
            return None
        return round(self.restored_at - self.failure_at, 1)


def _detection_run(detector: str, image: str) -> DetectionRun:
    with Emulator(auto_approve=True) as emu:
        demo = emu.seed_service(config_overrides=DETECTORS[detector])
        result = emu.run(demo.name, image)
        steps = emu.weight_steps(demo.name)
        restored = next(
            (
                c.at
                for c in emu.recorder.calls
                if c.function == "RollbackFunction" and route_of(c) == demo.production_rule_arn
            ),
            None,
        )
        return DetectionRun(
            detector=detector,
            image=image,
            outcome=result.outcome,
            failure_at=steps[0][0] if steps else None,
            restored_at=restored,
            transitions=billable_transitions(result.events),
        )


def run_detection() -> list[DetectionRun]:
    """Each detector against each failing image, and against a healthy one (the transitions it adds)."""
    return [_detection_run(detector, image) for detector in DETECTORS for image in (*FAILING_IMAGES, "v2")]


# --- 2. approval holds ---------------------------------------------------------------------------
@dataclass
class HoldRun:
    label: str
    target_s: float
    held_s: float | None
    outcome: str
    error: str | None
    transitions: int
    emulator_transitions: int
    history_events: int
    wall: float


def _hold_and_approve(emu: Emulator, service: str, tag: str, hold_s: float) -> tuple[str, float]:
    """Start a deployment, keep its approval pending ``hold_s`` simulated seconds, click Approve."""
    arn = emu.start(service, tag)
    gate = wait_for_gate(emu, service, "approval")
    opened = datetime.fromisoformat(gate.createdAt)
    if hold_s <= 0:
        emu.click(gate, "approve")
        return arn, (emu.clock.now() - opened).total_seconds()
    # The approval task advances the clock in growing steps while it waits. This listener runs in that
    # thread after each step: near the target it shrinks the steps, at the target it parks the thread
    # (time stands still) until the click is done, so the hold lands just past the target, never at
    # the approval timeout.
    reached, release = threading.Event(), threading.Event()

    def listener() -> None:
        if release.is_set():
            return
        waited = (emu.clock.now() - opened).total_seconds()
        if waited >= 0.9 * hold_s:
            simclock.CALLBACK_GROWTH = FINE_GROWTH
        if waited >= hold_s:
            reached.set()
            release.wait(60)

    default_growth = simclock.CALLBACK_GROWTH
    emu.clock.listeners.append(listener)
    try:
        if not reached.wait(120):
            raise TimeoutError(f"the approval was not held {hold_s}s within 120s of wall time")
        held = (emu.clock.now() - opened).total_seconds()
        answer = emu.click(gate, "approve")
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"the Approve click was answered {answer}")
    finally:
        release.set()
        emu.clock.listeners.remove(listener)
        simclock.CALLBACK_GROWTH = default_growth
    return arn, held


def run_holds() -> list[HoldRun]:
    runs: list[HoldRun] = []
    with Emulator(auto_approve=False) as emu:
        demo = emu.seed_service(config_overrides={"approval": {"timeoutSeconds": APPROVAL_TIMEOUT_S}})
        for index, (label, hold_s) in enumerate(HOLDS):
            started = time.perf_counter()
            arn, held = _hold_and_approve(emu, demo.name, ("v2", "v3")[index % 2], hold_s)
            result = emu.wait(arn, timeout=120)
            runs.append(
                HoldRun(
                    label,
                    hold_s,
                    held,
                    result.outcome,
                    result.error,
                    billable_transitions(result.events),
                    result.state_transitions,
                    len(result.events),
                    time.perf_counter() - started,
                )
            )
    # Nobody answers: the approval times out after about 364 days and green is cleaned up. In a fresh emulator:
    # after the holds above the clock's offset is large and fractional, and the emulator's callback wait
    # then never reaches its timeout (see the observations in the document).
    with Emulator(auto_approve=False) as emu:
        demo = emu.seed_service(config_overrides={"approval": {"timeoutSeconds": APPROVAL_TIMEOUT_S}})
        started = time.perf_counter()
        arn = emu.start(demo.name, "v2")
        try:
            result = emu.wait(arn, timeout=60)
        except TimeoutError:
            runs.append(HoldRun("no answer (times out)", APPROVAL_TIMEOUT_S, None, "hung", None, 0, 0, 0, 60.0))
            emu.client("stepfunctions").stop_execution(executionArn=arn)
        else:
            runs.append(
                HoldRun(
                    "no answer (times out)",
                    APPROVAL_TIMEOUT_S,
                    None,
                    result.outcome,
                    result.error,
                    billable_transitions(result.events),
                    result.state_transitions,
                    len(result.events),
                    time.perf_counter() - started,
                )
            )
    return runs


# --- 3. Slack callback answer time ---------------------------------------------------------------
@dataclass
class ClickBench:
    fresh: list[float] = field(default_factory=list)  # seconds, first click on a pending approval
    decided: list[float] = field(default_factory=list)  # seconds, a second click on the decided gate
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def run_clicks(count: int) -> ClickBench:
    bench = ClickBench()
    with Emulator(auto_approve=False) as emu:
        demo = emu.seed_service(config_overrides={"bakeSeconds": 30})
        for index in range(count):
            arn = emu.start(demo.name, ("v2", "v3")[index % 2])
            gate = wait_for_gate(emu, demo.name, "approval")
            started = time.perf_counter()
            answer = emu.click(gate, "approve")
            bench.fresh.append(time.perf_counter() - started)
            bench.statuses[answer.get("statusCode")] += 1
            started = time.perf_counter()
            again = emu.click(gate, "approve")
            bench.decided.append(time.perf_counter() - started)
            bench.statuses[again.get("statusCode")] += 1
            result = emu.wait(arn)
            if result.status != "SUCCEEDED":
                bench.failures.append(f"deployment {index}: {result.error}: {result.cause}")
    return bench


# --- 4. cold import of the handlers --------------------------------------------------------------
@dataclass
class ImportTiming:
    function: str
    runs_us: list[int]
    children: list[tuple[str, int]]  # heaviest direct imports of app.py (median run)
    without_bytecode_us: list[int] = field(default_factory=list)  # the same with a layer of sources only
    floor: bool = False  # not a handler: what every handler imports before any code of its own (FLOOR_APP)

    @property
    def median_us(self) -> int:
        return int(statistics.median(self.runs_us))


def _parse_importtime(stderr: str) -> tuple[int, list[tuple[str, int]]]:
    lines = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        lines.append((depth, name.strip(), int(cumulative)))
    index = max(i for i, (depth, name, _) in enumerate(lines) if depth == 0 and name == "app")
    children = []
    for depth, name, cumulative in reversed(lines[:index]):
        if depth == 0:
            break
        if depth == 1:
            children.append((name, cumulative))
    return lines[index][2], sorted(children, key=lambda c: -c[1])


# The SDK the python3.13 Lambda runtime provides (boto3 with its dependencies); the layer ships none of it.
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")


@dataclass
class LayerBuild:
    """The shared layer built by its own Makefile (as ``sam build`` does), for this machine's platform."""

    python: Path  # the layer's python/ folder (on Lambda: /opt/python)
    sources: Path  # the same without bytecode (what a wheel-unpacking build ships)
    runtime_sdk: Path  # boto3 + botocore as the runtime provides them (with bytecode, as in the runtime)
    total_bytes: int
    bytecode_bytes: int
    zipped_bytes: int
    packages: list[tuple[str, int]]  # (top-level folder, bytes), largest first


def _tree_bytes(path: Path, only: str | None = None) -> int:
    return sum(f.stat().st_size for f in path.rglob(only or "*") if f.is_file())


def build_layer(workdir: Path) -> LayerBuild:
    """``make build-SharedLayer`` into ``workdir`` plus the runtime's SDK beside it (both from the registry)."""
    layer = workdir / "layer"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-f",
            str(ROOT / "layers" / "shared" / "Makefile"),
            "build-SharedLayer",
            f"ARTIFACTS_DIR={layer}",
            f"PYTHON={sys.executable}",
            "PIP_PLATFORM=",  # this machine's wheels, to import them here
        ],
        check=True,
    )
    python = layer / "python"
    sources = workdir / "layer-sources"
    shutil.copytree(python, sources, ignore=shutil.ignore_patterns("__pycache__"))
    runtime_sdk = workdir / "runtime-sdk"
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in RUNTIME_SDK]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        + ["--target", str(runtime_sdk), *pins],
        check=True,
    )
    archive = workdir / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(python.rglob("*")):
            zipped.write(file, Path("python") / file.relative_to(python))
    packages = sorted(
        ((entry.name, _tree_bytes(entry) if entry.is_dir() else entry.stat().st_size) for entry in python.iterdir()),
        key=lambda item: -item[1],
    )
    return LayerBuild(
        python=python,
        sources=sources,
        runtime_sdk=runtime_sdk,
        total_bytes=_tree_bytes(python),
        bytecode_bytes=_tree_bytes(python, "*.pyc"),
        zipped_bytes=archive.stat().st_size,
        packages=[p for p in packages if not p[0].endswith((".dist-info", "-stubs"))],
    )


def _import_samples(code_dir: Path, layer: Path, runtime_sdk: Path, runs: int) -> list[tuple[int, list]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # Lambda's search path: the function (/var/task), the layer (/opt/python), the runtime's SDK.
        "PYTHONPATH": os.pathsep.join([str(code_dir), str(layer), str(runtime_sdk)]),
        # /var/task and /opt are read-only in Lambda: only the bytecode that was shipped is used.
        "PYTHONDONTWRITEBYTECODE": "1",
        # What Lambda sets, so Powertools behaves as in AWS (the Tracer is active: Tracing: Active).
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"bluegreen-{code_dir.name}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "bluegreen",
        "POWERTOOLS_METRICS_NAMESPACE": "BlueGreenDeployments",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "TABLE_NAME": "bluegreen-DeploymentsTable",
        "CONFIG_PREFIX": "/bluegreen/services",
        # EcrTrigger and ExecutionEnded require it at cold start (the template sets it)
        "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:bluegreen-deployment",
    }
    samples: list[tuple[int, list[tuple[str, int]]]] = []
    for attempt in range(runs + 1):  # the first run warms the file cache
        # -S: no site-packages of this virtualenv, only what Lambda would have on its path.
        bare = _child_cpu_us([sys.executable, "-S", "-c", "pass"], env, code_dir)
        done, cpu_us = _child_run([sys.executable, "-S", "-X", "importtime", "-c", "import app"], env, code_dir)
        if done.returncode != 0:
            raise RuntimeError(f"importing {code_dir / 'app.py'} failed:\n{done.stderr[-2000:]}")
        if attempt:
            _, children = _parse_importtime(done.stderr)
            samples.append((max(0, cpu_us - bare), children))
    return sorted(samples, key=lambda s: s[0])


def _child_run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``command``; its CPU time (user + system, microseconds) from the kernel's accounting."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, int(1e6 * cpu)


def _child_cpu_us(command: list[str], env: dict[str, str], cwd: Path) -> int:
    return _child_run(command, env, cwd)[1]


# What every handler imports and creates before any code of its own: Powertools' Logger, Metrics and an
# active Tracer (the X-Ray SDK, and botocore's client, which it patches) and the parser (pydantic). No handler
# starts faster on the same machine at the same load: the figure tells a handler's own share from the load's.
FLOOR = "(floor: Powertools + X-Ray + parser)"
FLOOR_APP = """\
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser

from bluegreen import TRACED_MODULES

logger, tracer, metrics = Logger(), Tracer(patch_modules=TRACED_MODULES), Metrics()
"""


def run_imports(runs: int, layer: LayerBuild) -> list[ImportTiming]:
    timings = []
    floor_dir = layer.python.parent / "floor"
    floor_dir.mkdir(exist_ok=True)
    (floor_dir / "app.py").write_text(FLOOR_APP)
    for app in [*sorted((ROOT / "functions").glob("*/app.py")), floor_dir / "app.py"]:
        code_dir = app.parent
        samples = _import_samples(code_dir, layer.python, layer.runtime_sdk, runs)
        without = _import_samples(code_dir, layer.sources, layer.runtime_sdk, runs)
        median_children = samples[len(samples) // 2][1]
        floor = code_dir == floor_dir
        timing = ImportTiming(
            FLOOR if floor else code_dir.name,
            [s[0] for s in samples],
            median_children[:3],
            [s[0] for s in without],
            floor=floor,
        )
        timings.append(timing)
        say(
            f"  {timing.function:<15} median {timing.median_us / 1000:7.1f} ms "
            f"({statistics.median(timing.without_bytecode_us) / 1000:.1f} ms without the layer's bytecode)"
        )
    return timings


# --- 5. start-up of the CLI ----------------------------------------------------------------------
@dataclass
class Startup:
    """Wall seconds of whole commands, run in turn with a baseline (A B A B ...) after one warm-up each."""

    label: str
    runs_s: list[float]
    baseline: str
    baseline_runs_s: list[float]
    moto_loaded: bool

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def baseline_median_s(self) -> float:
        return statistics.median(self.baseline_runs_s)

    @property
    def ratio(self) -> float:
        """Median of the run-by-run ratios, so a drift of the machine's speed cancels out."""
        return statistics.median(a / b for a, b in zip(self.runs_s, self.baseline_runs_s, strict=True))


def _timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - started


def _with_bytecode(cache: Path) -> dict[str, str]:
    """The environment with every imported module's bytecode, as after ``pip install`` (which compiles it).

    This machine's shells set ``PYTHONDONTWRITEBYTECODE``: the package's sources (an editable install) were
    compiled again at every run while the AWS CLI's site-packages had bytecode. Here both sides write and
    read theirs in a cache of the benchmark's own (``PYTHONPYCACHEPREFIX``), filled by the warm-up run.
    """
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(cache)}


def aws_cli() -> str | None:
    """The AWS CLI of this environment (the dev extra installs it), else one on PATH."""
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def run_startup(runs: int) -> list[Startup]:
    aws = aws_cli()
    if aws is None:
        say("  no AWS CLI found: start-up not measured")
        return []
    baseline = [aws, "--version"]
    commands = {
        "`bluegreen --help`": "import sys; from bluegreen_cli.main import main; main(['--help'])",
        # The operator module imports what every command against AWS needs; the rest waits for its command.
        "modules of `bluegreen status SERVICE` (and of every command against AWS)": (
            "import bluegreen_cli.main, bluegreen_cli.operator, bluegreen.domain.hooks"
        ),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="bluegreen-startup-pycache-") as cache:
        env = _with_bytecode(Path(cache))
        for label, code in commands.items():
            results.append(_startup(label, code, baseline, env, runs))
    return results


def _startup(label: str, code: str, baseline: list[str], env: dict[str, str], runs: int) -> Startup:
    """``python -c code`` and ``baseline`` in turn, ``runs`` times each after a warm-up (it writes the bytecode)."""
    command = [sys.executable, "-c", code]
    _timed(command, env), _timed(baseline, env)
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(_timed(command, env))
        theirs.append(_timed(baseline, env))
    probe = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(any(m.split('.')[0] == 'moto' for m in sys.modules))"],
        capture_output=True,
        text=True,
        check=False,
    )
    result = Startup(label, mine, "aws --version", theirs, probe.stdout.strip().endswith("True"))
    say(f"  {label}: median {1000 * result.median_s:.0f} ms, {result.ratio:.2f}x `aws --version`")
    return result


# --- ELB calls per route and per step, for every route layout ------------------------------
ROUTE_LAYOUTS = {
    "rules": "one production rule, one test rule",
    "several-rules": "two production rules (web and api hosts), one test rule",
    "listener-ports": "production listener :80, test listener :8080 (CodeDeploy layout)",
    "nlb": "Network Load Balancer, TCP listeners :80 and :8080",
}
ROUTE_CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}
ELB_WRITES = ("ModifyRule", "ModifyListener")


@dataclass
class RouteStep:
    """One invocation of a step that moves traffic: the ELB calls it made, by route."""

    step: str  # e.g. "Swap 10 %", "Swap 100 %", "Rollback"
    production_writes: dict[str, int]  # production route -> ModifyRule/ModifyListener calls
    test_writes: int
    reads: Counter  # ELB read operation -> calls (DescribeRules, DescribeListeners, DescribeTargetHealth, ...)

    @property
    def writes(self) -> int:
        return sum(self.production_writes.values()) + self.test_writes


@dataclass
class RouteRun:
    layout: str
    description: str
    production_routes: int
    operation: str  # ModifyRule or ModifyListener
    steps: list[RouteStep]
    outcomes: list[str]


def _route_steps(emu: Emulator, demo: Any, calls: list[Any]) -> list[RouteStep]:
    """Group the Swap and Rollback invocations' ELB calls: an invocation's calls are consecutive calls of one
    function at one simulated moment (a canary's steps are minutes apart)."""
    production = list(demo.production_routes or [demo.production_rule_arn])
    green = demo.target_groups[1]
    groups: list[tuple[str, list[Any]]] = []
    for call in calls:
        if call.service != "elbv2":
            continue
        if not groups or groups[-1][0] != call.function or call.at - groups[-1][1][-1].at > 1.0:
            groups.append((call.function, []))
        groups[-1][1].append(call)
    steps: list[RouteStep] = []
    for function, group in groups:
        if function not in ("SwapFunction", "RollbackFunction"):
            continue
        writes = dict.fromkeys(production, 0)
        test_writes = 0
        label = "Rollback"
        for call in group:
            route = route_of(call)
            if route in writes:
                writes[route] += 1
                if function == "SwapFunction":
                    weights = rules.forward_weights(call.params.get("Actions") or call.params["DefaultActions"])
                    label = f"Swap {round(100 * weights.get(green, 0) / (sum(weights.values()) or 1))} %"
            elif route == demo.test_rule_arn:
                test_writes += 1
        reads = Counter(c.operation for c in group if c.operation not in ELB_WRITES)
        steps.append(RouteStep(label, writes, test_writes, reads))
    return steps


def run_routes() -> list[RouteRun]:
    """For each route layout: a 10 % canary deployed to 100 %, then one rolled back by the alarm at 10 %."""
    runs: list[RouteRun] = []
    with Emulator() as emu:
        for layout, description in ROUTE_LAYOUTS.items():
            steps: list[RouteStep] = []
            outcomes: list[str] = []
            demo = None
            for suffix, tag in (("ok", "v2"), ("alarm", "v2-5xx")):
                demo = emu.seed_service(f"b-{layout[:6]}-{suffix}", layout=layout, config_overrides=ROUTE_CANARY)
                first = len(emu.recorder.calls)
                result = emu.run(demo.name, tag)
                outcomes.append(result.outcome)
                measured = _route_steps(emu, demo, emu.recorder.calls[first:])
                # the happy run's every step; of the alarm run only its Rollback (its 10 % step is the same)
                steps += measured if tag == "v2" else [step for step in measured if step.step == "Rollback"]
            assert demo is not None
            operation = "ModifyListener" if layout in ("listener-ports", "nlb") else "ModifyRule"
            runs.append(
                RouteRun(layout, description, len(demo.production_routes), operation, steps, outcomes),
            )
    return runs
