"""Benchmarks of the blue/green workflow on the embedded emulator.

Run from the repository root (about a minute and a half)::

    .venv/bin/python -m bench.run        # or: .venv/bin/python bench/run.py

It writes ``docs/benchmarks.md`` and ``docs/canary-weights.png``. Every number comes from the
emulator (moto plus a simulated clock): the generated document says what that does and does not
measure. Not part of the test suite; it exits 1 when a check fails (the document is written anyway).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.elbv2.models import elbv2_backends

from bluegreen import elbv2 as rules
from bluegreen_cli.local import simclock
from bluegreen_cli.local.demo import SCENARIOS, summarize
from bluegreen_cli.local.emulator import ACCOUNT, REGION, Emulator

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400
PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Step Functions Standard, free tier ignored
SLACK_LIMIT_S = 3.0
APPROVAL_TIMEOUT_S = 365 * DAY  # the largest approval.timeoutSeconds the configuration accepts
HOLDS = [("none (approved at once)", 0), ("1 hour", 3600), ("7 days", 7 * DAY), ("364 days", 364 * DAY)]
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
        rule = backend.describe_rules(listener_arn=None, rule_arns=[rule_arn])[0]
        return rules.receiving(rules.forward_weights([action.data for action in rule.actions]))

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


def wait_for_gate(emu: Emulator, service: str, kind: str, timeout: float = 60.0) -> dict[str, Any]:
    """A pending gate of ``kind`` whose Slack message is posted (it has a ``ts``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate["kind"] == kind and gate.get("ts"):
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
        demo = emu.seed_service(config_overrides=spec.config)
        emu.plane.alarm_min_weight = spec.alarm_min_weight
        emu.plane.alarm_changes = StampedList(emu.plane.alarm_changes)
        emu.clicks = StampedList(emu.clicks)
        watch = RoutingWatch(emu, demo.name)
        emu.recorder.after.append(watch)
        helper = None
        if spec.click:
            helper = threading.Thread(target=operator, args=(emu, demo.name, *spec.click), daemon=True)
            helper.start()
        wall_setup = time.perf_counter() - started
        first_call = len(emu.recorder.calls)  # seeding made calls too (the ECR trigger sees the image pushes)
        begun = time.perf_counter()
        result = emu.run(demo.name, spec.tag)
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
            if call.operation == "ModifyRule" and call.params.get("RuleArn") == demo.production_rule_arn:
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
        restore = next(
            (
                r
                for r in watch.rows
                if r.call.function == "RollbackFunction"
                and r.call.operation == "ModifyRule"
                and r.call.params.get("RuleArn") == demo.production_rule_arn
            ),
            None,
        )
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
        )
    return run


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
    opened = datetime.fromisoformat(gate["createdAt"])
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
    # Nobody answers: the approval times out after 365 days and green is cleaned up. In a fresh emulator:
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


def run_imports(runs: int) -> list[ImportTiming]:
    timings = []
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        code_dir = app.parent
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(code_dir), str(ROOT / "layers" / "shared")]),
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
        }
        samples: list[tuple[int, list[tuple[str, int]]]] = []
        for attempt in range(runs + 1):  # the first run warms the file cache and writes .pyc files
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import app"],
                env=env,
                cwd=code_dir,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"importing {app} failed:\n{done.stderr[-2000:]}")
            if attempt:
                samples.append(_parse_importtime(done.stderr))
        samples.sort(key=lambda s: s[0])
        median_children = samples[len(samples) // 2][1]
        timings.append(ImportTiming(code_dir.name, [s[0] for s in samples], median_children[:3]))
        say(f"  {code_dir.name:<15} median {statistics.median(s[0] for s in samples) / 1000:7.1f} ms")
    return timings


# --- 5. the chart --------------------------------------------------------------------------------
def draw_chart(runs: dict[str, ScenarioRun], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.6), dpi=120)
    styles = {"canary": ("#1f77b4", "-"), "linear-alarm": ("#d62728", "--")}
    for name, (color, line) in styles.items():
        run = runs.get(name)
        if run is None or not run.weight_steps:
            continue
        xs, ys = [0.0], [0]
        for at, weight in run.weight_steps:
            xs.append(at)
            ys.append(weight)
        xs.append(max(run.end_at, xs[-1]))
        ys.append(ys[-1])
        label = f"{name} ({run.outcome.replace('_', ' ')})"
        ax.step(xs, ys, where="post", color=color, linestyle=line, linewidth=2.2, label=label)
        ax.plot([at for at, _ in run.weight_steps], [w for _, w in run.weight_steps], "o", color=color, ms=5)
        if run.alarm_at is not None:
            ax.axvline(run.alarm_at, color=color, linestyle=":", linewidth=1.2)
            ax.annotate(
                f"{name}: alarm at t+{run.alarm_at:.0f}s,\nrolled back in one ModifyRule",
                xy=(run.alarm_at, 40),
                xytext=(run.alarm_at + 25, 62),
                color=color,
                fontsize=8,
                arrowprops={"arrowstyle": "->", "color": color},
            )
        if run.approval_at is not None and name == "canary":
            ax.annotate(
                f"canary approved in Slack t+{run.approval_at:.0f}s",
                xy=(run.approval_at, 0),
                xytext=(5, 32),
                fontsize=8,
                color="#555555",
                arrowprops={"arrowstyle": "->", "color": "#888888"},
            )
    ax.set_xlabel("simulated seconds since the execution started")
    ax.set_ylabel("green's share of production (%)")
    ax.set_ylim(-3, 105)
    ax.set_yticks([0, 10, 20, 40, 60, 80, 100])
    ax.grid(True, alpha=0.3)
    ax.set_title("Traffic shifting on the emulator: one ModifyRule per step (markers)", fontsize=10)
    ax.legend(loc="center right", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --- 6. the document -----------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return out + [""]


def usd(value: float) -> str:
    return f"${value:.6f}".rstrip("0").rstrip(".") if value < 0.01 else f"${value:.2f}"


def days(seconds: float) -> str:
    if seconds >= DAY:
        return f"{seconds / DAY:.2f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds:.0f} s"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _window_text(found: list[Window]) -> str:
    if not found:
        return "none"
    parts = []
    for w in found:
        end = "until the end" if w.closed is None else f"closed by {w.closed.name}"
        parts.append(f"{w.calls} call(s) from {w.opened.name} at t+{w.opened.at:.0f}s, {end} ({w.seconds} s)")
    return "; ".join(parts)


def write_doc(
    path: Path,
    chart: Path,
    scenarios: dict[str, ScenarioRun],
    holds: list[HoldRun],
    clicks: ClickBench,
    imports: list[ImportTiming],
    checks: list[tuple[str, bool]],
    total_wall: float,
) -> None:
    happy = scenarios["happy"]
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (working tree had uncommitted changes)" if _git("status", "--porcelain") else ""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fresh_ms = [1000 * s for s in clicks.fresh[1:]] or [1000 * s for s in clicks.fresh]
    decided_ms = [1000 * s for s in clicks.decided]
    held = [h for h in holds if h.held_s is not None]
    overlap_happy = happy.overlap_windows
    cost_happy = happy.transitions * PRICE_PER_TRANSITION

    lines = [
        "# Benchmarks",
        "",
        f"Generated by `.venv/bin/python -m bench.run` on {now}, commit `{commit}`{dirty}; Python "
        f"{platform.python_version()}, moto {importlib.metadata.version('moto')}, {platform.machine()} with "
        f"{os.cpu_count()} CPUs. The whole run took {total_wall:.0f} s of wall time.",
        "",
        "**All timings below come from the embedded emulator with simulated time**, not from AWS:",
        "",
        "- The real `template.yaml`, state machine and `functions/*/app.py` handlers run on moto. Wait states,",
        "  retry intervals and callback waits advance a simulated clock instead of sleeping, so a deployment",
        "  that would take minutes (or a year) runs in about a second with the same states, retries and API calls.",
        "- The data plane is simulated: tasks start 15 s after a task set is created and turn healthy 20 s later;",
        "  `v2-5xx` fires the 5xx alarm 20 s after it serves production. Simulated durations follow from those",
        "  settings, not from ECS or ALB.",
        "- **Exact and transferable to AWS** (given the same data-plane timings): state transitions, Step",
        "  Functions cost, API calls and their order, `ModifyRule` counts, routing windows counted in calls.",
        "- **Not measured**: AWS API latency, Lambda cold starts and invocation latency (only the Python import",
        "  part is measured, section 7), Step Functions scheduling latency, EventBridge delivery, CloudWatch",
        "  alarm evaluation (in AWS an alarm needs at least one evaluation period of data before it changes",
        "  state; the emulator flips it when the data plane says so), ALB health-check intervals, ECS task",
        "  start times, Slack's network. A reaction of 0 simulated seconds means *no wait, poll or sleep in the",
        "  path*, not zero latency in AWS.",
        "- Wall times are of this machine running moto in process and are only useful to compare runs.",
        "",
        "## Headline",
        "",
    ]
    lines += table(
        ["Metric", "Value"],
        [
            [
                "State transitions, happy deployment (billable)",
                f"{happy.transitions} (≈ {usd(cost_happy)} per deployment)",
            ],
            [
                "State transitions with the approval held: at once / 1 h / 7 d / 364 d",
                " / ".join(str(h.transitions) for h in held) + " — constant",
            ],
            ["AWS API calls, happy deployment", f"{happy.n_calls}"],
            [
                "`ModifyRule` on the production rule at cutover (happy)",
                f"{happy.production_modify.get('SwapFunction', 0)}",
            ],
            [
                "API calls while production forwarded to a target group without healthy targets",
                f"{sum(w.calls for r in scenarios.values() for w in r.unhealthy_windows)} "
                f"in all {len(scenarios)} scenarios",
            ],
            [
                "Rollback reaction (simulated s from alarm / click to production restored)",
                ", ".join(f"{n}: {scenarios[n].reaction_s}" for n in ("alarm", "manual-rollback", "linear-alarm")),
            ],
            [
                "Slack callback answer (emulator wall time, median of fresh approvals)",
                f"{statistics.median(fresh_ms):.0f} ms (Slack's limit: 3,000 ms)",
            ],
            [
                "Heaviest handler cold import (median)",
                f"{max(imports, key=lambda t: t.median_us).function}: "
                f"{max(t.median_us for t in imports) / 1000:.0f} ms",
            ],
        ],
    )

    lines += ["## Checks", ""]
    lines += [f"- {'PASS' if ok else '**FAIL**'}: {text}" for text, ok in checks]
    lines += [""]

    # --- comparison with the baselines
    lines += [
        "## Beside the published baselines",
        "",
        "Measured values are from this run; the other columns are documented limits, not measurements.",
        "",
    ]
    lines += table(
        [
            "",
            "This project (emulator)",
            "GitHub Actions + EXTERNAL controller [1]",
            "CodeDeploy ECS blue/green [2]",
            "ECS native blue/green [3]",
        ],
        [
            [
                "Production cutover",
                f"{happy.production_modify.get('SwapFunction', 0)} `ModifyRule` (weighted forward, green 100 / "
                "blue 0); test rule moved after it",
                "2 `modify-rule` calls swapping the rules' host-header conditions, `sleep 5s` between",
                "managed by CodeDeploy",
                "managed by ECS",
            ],
            [
                "Intermediate routing state at cutover",
                f"test rule still on green for {sum(w.calls for w in overlap_happy)} call(s), "
                f"{sum(w.seconds or 0 for w in overlap_happy):.0f} simulated s (no sleep)",
                "≥ 5 s between the two calls (both rules could point at the test target group)",
                "—",
                "—",
            ],
            [
                "Traffic shifting",
                "all at once, canary, linear; one `ModifyRule` per step (chart below)",
                "all at once (canary listed as future work)",
                "Canary, Linear, AllAtOnce configurations",
                "blue/green; linear and canary strategies (`CanaryConfiguration`, [3c])",
            ],
            [
                "Longest wait for approval before production moves",
                f"`approval.timeoutSeconds` ≤ 365 d; held {days(held[-1].held_s or 0)} here at "
                f"{held[-1].transitions} transitions",
                "unbounded (manual workflow runs)",
                "≤ 2,880 min (2 days) to reroute traffic [2b]",
                "lifecycle hook timeout ≤ 20,160 min (14 d), default 1,440 min [3b]; each stage 24 h [3]",
            ],
            [
                "Old version kept after the cutover",
                "bake (`bakeSeconds` ≤ 1 d) + optional keep-old hold (`keepOld.timeoutSeconds` ≤ 365 d)",
                "until someone runs the delete workflow",
                "≤ 2,880 min (2 days) before the original task set is deleted [2a]",
                "bake time 0–1,440 min, then blue is scaled down [3]",
            ],
            [
                "Rollback trigger and reaction",
                "CloudWatch alarm state-change event or Slack button; "
                + ", ".join(f"{n} {scenarios[n].reaction_s} s" for n in ("alarm", "manual-rollback", "linear-alarm"))
                + " simulated",
                "manual (run a workflow)",
                "CloudWatch alarms, automatic rollback",
                "CloudWatch alarms, lifecycle hooks",
            ],
            [
                "Orchestration cost",
                f"{happy.transitions} transitions × $0.025/1,000 = {usd(cost_happy)} per happy deployment [4]",
                "GitHub Actions minutes (not measured)",
                "—",
                "—",
            ],
            [
                "Longest callback wait",
                "Step Functions `waitForTaskToken`: up to 1 year [5]",
                "—",
                "—",
                "—",
            ],
        ],
    )
    lines += [
        "Sources:",
        "",
        "1. KINTO Technologies, *Implementing BlueGreenDeployment with GitHub Actions + ECS* (2023),",
        "   <https://blog.kinto-technologies.com/posts/2023-06-27-ECS-BlueGreenDeployment-en>, as summarised in",
        "   `shared/REFERENCE.md` (two `modify-rule` calls with `sleep 5s`, delete found from the test rule).",
        "2. AWS CodeDeploy: (a) *BlueInstanceTerminationOption* — for ECS, minutes before the original (blue) task",
        "   set is deleted, maximum 2,880 minutes,",
        "   <https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_BlueInstanceTerminationOption.html>;",
        "   (b) *DeploymentReadyOption* (wait before the deployment stops if traffic is not rerouted),",
        "   <https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentReadyOption.html>, with the",
        "   2-day maximum from *Create a deployment group for an Amazon ECS deployment (console)*,",
        "   <https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-groups-create-ecs.html>;",
        "   (c) *Working with deployment configurations in CodeDeploy* (ECS Canary, Linear, AllAtOnce),",
        "   <https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html>.",
        "3. Amazon ECS: *Amazon ECS blue/green deployments*,",
        "   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html>",
        "   (bake time, lifecycle stages); (b) *DeploymentLifecycleHookTimeoutConfiguration* — `timeoutInMinutes`",
        "   1–20,160, default 1,440,",
        "   <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentLifecycleHookTimeoutConfiguration.html>;",
        "   (c) *AWS::ECS::Service CanaryConfiguration*,",
        "   <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-service-canaryconfiguration.html>.",
        "   The 24-hour stage limit and the 0–1,440-minute bake range are as summarised in `shared/REFERENCE.md`.",
        "4. *AWS Step Functions Pricing* — Standard workflows, $0.025 per 1,000 state transitions (retries count),",
        "   <https://aws.amazon.com/step-functions/pricing/>. The free tier (4,000 transitions a month) is ignored.",
        "5. *Step Functions service quotas* (execution and task-token wait up to one year),",
        "   <https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>.",
        "6. Slack, *Handling user interaction in your Slack apps* — acknowledge an interaction within 3 seconds,",
        "   <https://docs.slack.dev/interactivity/handling-user-interaction>.",
        "",
    ]

    # --- 1. scenarios
    lines += [
        "## 1. State transitions, cost and wall time per scenario",
        "",
        "*Transitions* are what Step Functions bills: every state entered plus every retry of a task, where a",
        "retry is a Lambda invocation or a callback task scheduled again. Cost = transitions × $0.025 / 1,000.",
        "*Emulator wall* is the time of `emu.run` (execution start to end) minus the time spent in the routing",
        "hook of section 4; *setup* is starting the emulator and seeding the service.",
        "",
    ]
    rows = []
    for run in scenarios.values():
        rows.append(
            [
                f"`{run.name}`",
                run.outcome + ("" if run.outcome == run.expected else f" (**expected {run.expected}**)"),
                run.transitions,
                run.emulator_transitions,
                usd(run.transitions * PRICE_PER_TRANSITION),
                f"${run.transitions * PRICE_PER_TRANSITION * 1000:.2f}",
                run.n_calls,
                run.history_events,
                f"{run.simulated_s:.0f}",
                f"{run.wall_run - run.wall_hooks:.2f}",
                f"{run.wall_setup:.2f}",
            ]
        )
    lines += table(
        [
            "Scenario",
            "Outcome",
            "Transitions",
            "`state_transitions` (emulator)",
            "Cost / deployment",
            "Cost / 1,000 deployments",
            "API calls",
            "History events",
            "Simulated s",
            "Emulator wall s",
            "Setup wall s",
        ],
        rows,
    )
    lines += ["States entered, in order:", ""]
    for run in scenarios.values():
        counted = Counter(run.states)
        path_text = " → ".join(dict.fromkeys(run.states))
        retries = run.transitions - len(run.states)
        lines.append(
            f"- `{run.name}` ({run.description}): {path_text}"
            + (f"; plus {retries} task retries (health polls)" if retries else "")
            + ("" if max(counted.values()) == 1 else f"; repeated: {dict((s, c) for s, c in counted.items() if c > 1)}")
        )
    lines += [""]

    # --- 2. holds
    lines += [
        "## 2. Approval holds",
        "",
        f"One service with `approval.timeoutSeconds` = {APPROVAL_TIMEOUT_S} ({APPROVAL_TIMEOUT_S // DAY} days,",
        "the largest value the configuration accepts; 366 days is refused with `InvalidServiceConfig`). Each",
        "deployment waits at the approval gate for the hold (simulated), then Approve is clicked in Slack",
        "through the real callback. The hold is measured from the gate's `createdAt` to the click.",
        "",
    ]
    lines += table(
        [
            "Hold",
            "Held (simulated)",
            "Outcome",
            "Transitions",
            "`state_transitions` (emulator)",
            "History events",
            "Wall s",
        ],
        [
            [
                h.label,
                "—" if h.held_s is None else days(h.held_s),
                h.outcome + (f" ({h.error})" if h.error else ""),
                h.transitions,
                h.emulator_transitions,
                h.history_events,
                f"{h.wall:.1f}",
            ]
            for h in holds
        ],
    )
    lines += [
        "The approval is one `waitForTaskToken` task: holding it costs nothing per hour, so the transition",
        "count and the execution history do not grow with the hold (asserted). Without an answer the task",
        "times out after 365 days and the deployment is cleaned up (last row; a different, longer path).",
        "",
    ]

    # --- 3. API calls
    lines += [
        "## 3. AWS API calls of one happy deployment",
        "",
        f"{happy.n_calls} calls made by the handlers from the start of the execution to its end, the Slack",
        "callback's included. Step Functions' own Lambda invocations are not counted, nor the",
        f"{happy.seed_calls} calls the EcrTrigger function made while the emulator seeded the demo images",
        "(`bluegreen local demo --json` counts those in `apiCalls`). By `service:Operation`:",
        "",
    ]
    lines += table(
        ["service:Operation", "Calls", "Made by"],
        [
            [f"`{op}`", count, ", ".join(f"{fn} ×{n}" for fn, n in sorted(happy.calls_by_function[op].items()))]
            for op, count in sorted(happy.api_calls.items(), key=lambda item: (-item[1], item[0]))
        ],
    )
    lines += [
        "API calls per scenario, for comparison: " + ", ".join(f"`{r.name}` {r.n_calls}" for r in scenarios.values()),
        "",
    ]

    # --- 4. routing
    lines += [
        "## 4. Production routing during the deployment",
        "",
        "After **every** API call the handlers make, a hook on `emu.recorder.after` reads the production and test",
        "listener rules and the target health straight from the moto backends (no API calls of its own) and",
        "records two conditions of the routing state that call left behind:",
        "",
        "- **Misrouted production**: the production rule forwards (weight > 0) to a target group that has no",
        '  healthy target. Requests to production would fail (503). This is what "production could be',
        '  misrouted" means here.',
        "- **Rule overlap**: the test rule forwards to the one target group that carries all production traffic,",
        "  so testers reach the production version and the other version is unreachable by the test host. This is",
        "  the intermediate state of a two-call swap (the GitHub Actions workflow keeps one for ≥ 5 s). During a",
        "  canary or linear step production is split, so the test rule staying on green is not counted.",
        "",
        "A call is counted when the condition holds right after it returns (the call that opens a window counts,",
        "the call that closes it does not). Windows are also given in simulated seconds.",
        "",
    ]
    lines += table(
        [
            "Scenario",
            "`ModifyRule` on production (by function)",
            "Calls with misrouted production",
            "Calls with rule overlap",
            "Overlap windows",
        ],
        [
            [
                f"`{r.name}`",
                ", ".join(f"{fn} ×{n}" for fn, n in sorted(r.production_modify.items())) or "0",
                sum(w.calls for w in r.unhealthy_windows),
                sum(w.calls for w in r.overlap_windows),
                _window_text(r.overlap_windows),
            ]
            for r in scenarios.values()
        ],
    )

    # --- 5. rollback
    lines += [
        "## 5. Rollback reaction",
        "",
        "From the trigger — the 5xx alarm going to `ALARM` in the data plane, or the *Roll back* click in Slack —",
        "to the `ModifyRule` that restores the production rule (`emu.rollback_reaction`), and from the",
        "`SendTaskFailure` that ends the watching callback task to that restore. The path is: CloudWatch alarm",
        "state-change event → EventBridge rule → AlarmEvent Lambda → `SendTaskFailure` → Catch → Rollback Lambda",
        "(or Slack callback Lambda → `SendTaskFailure` → …). Nothing in the product's path polls or sleeps: the",
        "alarm paths take 0 simulated seconds. The seconds shown for the Roll back click are emulator pacing (see",
        "the notes at the end). In AWS add the alarm's evaluation period, EventBridge delivery, two Lambda",
        "invocations and one state transition.",
        "",
    ]
    lines += table(
        [
            "Scenario",
            "Trigger",
            "Trigger at (simulated)",
            "Reaction (simulated s)",
            "`SendTaskFailure` → restore (simulated s)",
            "API calls from trigger to restore",
            "Emulator wall ms",
            "Green's share when restored",
        ],
        [
            [
                f"`{n}`",
                "Roll back click" if n == "manual-rollback" else "alarm → ALARM",
                "—" if r.trigger_at is None else f"t+{r.trigger_at:.0f}s",
                r.reaction_s,
                r.delivered_s,
                r.reaction_calls,
                r.reaction_wall_ms,
                f"{r.weight_steps[-2][1] if len(r.weight_steps) > 1 else 100}% → 0%",
            ]
            for n, r in ((n, scenarios[n]) for n in ("alarm", "manual-rollback", "linear-alarm"))
        ],
    )

    # --- 6. slack
    first_ms = 1000 * clicks.fresh[0] if clicks.fresh else 0.0
    lines += [
        "## 6. Slack callback answer time",
        "",
        f'{len(clicks.fresh)} deployments, each stopped at a fresh pending approval; `emu.click(gate, "approve")`',
        "sends a signed `block_actions` request through the real SlackCallback handler (signature check, gate",
        "lookup, approver check, `SendTaskSuccess`, `chat.update` to the local fake Slack) and the wall-clock",
        "time until it answers is measured. Then the same button is clicked again on the now decided gate.",
        f"Slack's limit is {SLACK_LIMIT_S:.0f} s [6]. Emulator wall time: moto in process, loopback HTTP, no network.",
        "",
    ]
    lines += table(
        ["Clicks", "n", "Median ms", "p90 ms", "Max ms", "Share of Slack's 3 s (median)"],
        [
            [
                "fresh approval (first click excluded)",
                len(fresh_ms),
                f"{statistics.median(fresh_ms):.1f}",
                f"{quantile(fresh_ms, 0.9):.1f}",
                f"{max(fresh_ms):.1f}",
                f"{statistics.median(fresh_ms) / (10 * SLACK_LIMIT_S):.1f}%",
            ],
            ["first click of the run (loads the handler module in process)", 1, f"{first_ms:.1f}", "—", "—", "—"],
            [
                "already-decided gate (nothing changes; the released execution runs on in other threads meanwhile)",
                len(decided_ms),
                f"{statistics.median(decided_ms):.1f}",
                f"{quantile(decided_ms, 0.9):.1f}",
                f"{max(decided_ms):.1f}",
                f"{statistics.median(decided_ms) / (10 * SLACK_LIMIT_S):.1f}%",
            ],
        ],
    )
    lines += [
        f"HTTP statuses answered: {dict(clicks.statuses)}. A real Lambda adds its cold start (section 7) and",
        "AWS API latency to this; the handler answers synchronously after `SendTaskSuccess` and `chat.update`.",
        "",
    ]

    # --- 7. imports
    lines += [
        "## 7. Cold import time of the Lambda handlers",
        "",
        'Method: for each `functions/<name>/app.py`, a fresh interpreter (`python -X importtime -c "import',
        'app"`) with `PYTHONPATH=functions/<name>:layers/shared` and the environment Lambda sets',
        "(`LAMBDA_TASK_ROOT`, `AWS_LAMBDA_FUNCTION_NAME`, region, the template's Powertools variables — so the",
        "Tracer is active, as with `Tracing: Active`). The figure is the *cumulative* microseconds of the",
        "top-level `app` import reported by `-X importtime`: the module-level work of a cold start (imports,",
        "Powertools objects), not the Lambda runtime's own start, nor the first request. One warm-up run per",
        f"handler is discarded (file cache, `.pyc`), then {len(imports[0].runs_us) if imports else 0} runs are "
        "measured and the median is shown. Third-party packages come from the virtualenv (the layer's pins; boto3",
        "as in the Lambda runtime), so the numbers are of this machine, not of a 256 MB arm64 Lambda. Most of",
        "`bluegreen.aws` is `boto3` itself, which every handler needs (the runtime would import it too);",
        "`aws_lambda_powertools.utilities.parser` is pydantic; `bluegreen.slack` is `slack_sdk`.",
        "",
    ]
    lines += table(
        ["Function", "Median ms", "Min ms", "Max ms", "Heaviest direct imports (cumulative ms, median run)"],
        [
            [
                f"`{t.function}`",
                f"{t.median_us / 1000:.1f}",
                f"{min(t.runs_us) / 1000:.1f}",
                f"{max(t.runs_us) / 1000:.1f}",
                ", ".join(f"`{name}` {us / 1000:.0f}" for name, us in t.children),
            ]
            for t in sorted(imports, key=lambda t: -t.median_us)
        ],
    )

    # --- 8. chart
    canary, linear = scenarios["canary"], scenarios["linear-alarm"]
    lines += [
        "## 8. Traffic shifting over time",
        "",
        f"![Green's share of production over simulated time]({os.path.relpath(chart, path.parent)})",
        "",
        "Green's share of the production rule's weighted forward action after each `ModifyRule` on it",
        "(`emu.weight_steps`), in simulated seconds:",
        "",
        "- `canary` (10% for 5 minutes, then 100%): "
        + ", ".join(f"t+{at:.0f}s {w}%" for at, w in canary.weight_steps)
        + f"; blue deleted at t+{canary.end_at:.0f}s.",
        "- `linear-alarm` (+20% every 2 minutes, `v2-5xx` fails from 40%): "
        + ", ".join(f"t+{at:.0f}s {w}%" for at, w in linear.weight_steps)
        + f"; the alarm fired at t+{(linear.alarm_at or 0):.0f}s and production went back to blue in one call.",
        "",
        "## Notes on the measurements",
        "",
        "- **Two transition counts.** The *Transitions* columns count states entered plus retries, where an attempt",
        "  is a `LambdaFunctionScheduled` *or* a `TaskScheduled` event. The emulator's",
        "  `ExecutionResult.state_transitions` counts only `LambdaFunctionScheduled` as attempts while subtracting",
        "  every `TaskStateEntered`, so each entry of a `lambda:invoke.waitForTaskToken` task (AwaitApproval, Bake,",
        f"  WatchStep, HoldOld) lowers it by one: {happy.emulator_transitions} instead of {happy.transitions} for",
        "  `happy`. The holds are constant under both counts.",
        "- **Manual rollback, a few simulated seconds.** Emulator pacing, not a wait in the product: while the",
        "  bake waits, its callback loop advances the clock in 2-second steps (`CALLBACK_MIN_STEP`) about every",
        "  millisecond of wall time. `Emulator.click` records the click time *before* it holds the clock, so",
        "  steps taken in between count as reaction; and the step pending while the click holds the clock",
        "  completes before the loop sees the failure (the 2 s from `SendTaskFailure` to the restore).",
        "- **Approval timeout row.** It runs in a fresh emulator. After the long holds the simulated clock's",
        "  offset is large and fractional, and a 365-day callback timeout never fires there: the callback wait",
        "  compares `elapsed - start` with the timeout in floating point and advances by `timeout - waited`, a",
        "  step smaller than the offset's resolution, so the clock stops and the execution hangs.",
        "- **Simulated times vary by a few seconds between runs** where an approval is clicked: while the",
        "  approval waits, the clock moves in 2-second steps paced by wall time, and the click lands after a",
        "  wall-time-dependent number of them. Counts (transitions, calls) do not vary.",
        "- **366 days.** `approval.timeoutSeconds` is capped at 365 days by the configuration model, so the holds use",
        "  a 365-day timeout and the longest hold is 364 days.",
        "",
        "## Reproduce",
        "",
        "```bash",
        ".venv/bin/pip install -c constraints.txt -r bench/requirements.txt   # matplotlib, for the chart",
        ".venv/bin/python -m bench.run                                        # about 1.5 minutes",
        "```",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# --- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="output folder (default: docs/)")
    parser.add_argument("--clicks", type=int, default=20, help="fresh approvals to click (default 20)")
    parser.add_argument("--import-runs", type=int, default=5, help="measured imports per handler (default 5)")
    args = parser.parse_args(argv)
    # Handlers without business metrics flush an empty set (as in pyproject's pytest filterwarnings).
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    started = time.perf_counter()
    checks: list[tuple[str, bool]] = []

    say(f"Cold imports of the handlers ({args.import_runs} runs each after one warm-up):")
    imports = run_imports(args.import_runs)

    say("Scenarios:")
    scenarios: dict[str, ScenarioRun] = {}
    for name in SCENARIOS:
        run = scenarios[name] = run_scenario(name)
        say(
            f"  {name:<16} {run.outcome:<12} {run.transitions:3d} transitions "
            f"(emulator says {run.emulator_transitions}), {run.n_calls:3d} API calls, "
            f"{run.simulated_s:6.0f}s simulated, {run.wall_run:.2f}s wall"
        )
        checks.append((f"`{name}` ends {run.expected} (got {run.outcome})", run.outcome == run.expected))
    happy = scenarios["happy"]
    checks.append(
        (
            "happy: exactly one `ModifyRule` on the production rule at cutover",
            happy.production_modify == {"SwapFunction": 1},
        )
    )
    misrouted = {n: sum(w.calls for w in r.unhealthy_windows) for n, r in scenarios.items()}
    checks.append(
        (
            "no API call leaves production forwarding to a target group without healthy targets (all scenarios)",
            not any(misrouted.values()),
        )
    )
    for name in ("alarm", "manual-rollback", "linear-alarm"):
        reaction = scenarios[name].reaction_s
        checks.append((f"`{name}`: production restored (reaction {reaction} simulated s)", reaction is not None))

    say("Approval holds:")
    holds = run_holds()
    for hold in holds:
        held = "—" if hold.held_s is None else days(hold.held_s)
        say(
            f"  {hold.label:<22} held {held:>9}: {hold.outcome:<11} {hold.transitions} transitions "
            f"(emulator says {hold.emulator_transitions}), {hold.history_events} history events, {hold.wall:.1f}s wall"
        )
    approved = [h for h in holds if h.held_s is not None]
    counts = {h.transitions for h in approved}
    checks.append(
        (
            "approvals held "
            + ", ".join(h.label for h in approved)
            + f" cost the same transitions ({sorted(counts)}) and history events",
            len(counts) == 1
            and len({h.history_events for h in approved}) == 1
            and all(h.outcome == "deployed" for h in approved),
        )
    )
    checks.append(
        (
            "every hold reached its target without timing out",
            all(h.held_s is not None and h.held_s >= h.target_s for h in approved),
        )
    )
    say(f"Slack clicks ({args.clicks} fresh approvals):")
    clicks = run_clicks(args.clicks)
    fresh_ms = [1000 * s for s in clicks.fresh[1:]] or [1000 * s for s in clicks.fresh]
    say(
        f"  fresh: median {statistics.median(fresh_ms):.1f} ms, max {max(fresh_ms):.1f} ms; "
        f"first {1000 * clicks.fresh[0]:.1f} ms; decided: median {1000 * statistics.median(clicks.decided):.1f} ms"
    )
    checks.append(
        (
            f"Slack callback answers within {SLACK_LIMIT_S:.0f} s on the emulator (max {max(fresh_ms):.0f} ms)",
            max(fresh_ms) < 1000 * SLACK_LIMIT_S and not clicks.failures,
        )
    )

    chart = args.docs / "canary-weights.png"
    doc = args.docs / "benchmarks.md"
    draw_chart(scenarios, chart)
    total = time.perf_counter() - started
    write_doc(doc, chart, scenarios, holds, clicks, imports, checks, total)
    say(f"Wrote {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc} and {chart.name} in {total:.0f}s")
    failed = [text for text, ok in checks if not ok]
    for text in failed:
        say(f"FAIL: {text}")
    # The acceptance criterion of the holds, asserted once the document (with its FAIL line) is written.
    assert len(counts) == 1, f"state transitions grew with the approval hold: {[h.transitions for h in approved]}"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
