"""The reporting half of the benchmark: the chart and ``docs/benchmarks.md`` from ``bench/benchmarks.md.tmpl``.

Everything here formats what :mod:`bench.measure` measured; nothing runs the emulator.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

from .measure import (
    APPROVAL_TIMEOUT_S,
    DAY,
    FAILING_IMAGES,
    ROOT,
    ClickBench,
    DetectionRun,
    HoldRun,
    ImportTiming,
    LayerBuild,
    RouteRun,
    ScenarioRun,
    Startup,
    Window,
    quantile,
)

PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Step Functions Standard, free tier ignored
SLACK_LIMIT_S = 3.0
TEMPLATE = Path(__file__).resolve().parent / "benchmarks.md.tmpl"


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


def _lines(rows: list[str]) -> str:
    return "\n".join(rows)


def write_doc(
    path: Path,
    chart: Path,
    scenarios: dict[str, ScenarioRun],
    holds: list[HoldRun],
    clicks: ClickBench,
    imports: list[ImportTiming],
    checks: list[tuple[str, bool]],
    total_wall: float,
    layer: LayerBuild,
    startup: list[Startup],
    routes: list[RouteRun] | None = None,
    detection: list[DetectionRun] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(path, chart, scenarios, holds, clicks, imports, checks, total_wall, layer, startup, routes, detection)
    path.write_text(text)


def render(
    path: Path,
    chart: Path,
    scenarios: dict[str, ScenarioRun],
    holds: list[HoldRun],
    clicks: ClickBench,
    imports: list[ImportTiming],
    checks: list[tuple[str, bool]],
    total_wall: float,
    layer: LayerBuild,
    startup: list[Startup],
    routes: list[RouteRun] | None = None,
    detection: list[DetectionRun] | None = None,
) -> str:
    """The document: ``bench/benchmarks.md.tmpl`` filled with the figures and tables."""
    happy = scenarios["happy"]
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (working tree had uncommitted changes)" if _git("status", "--porcelain") else ""
    fresh_ms = [1000 * s for s in clicks.fresh[1:]] or [1000 * s for s in clicks.fresh]
    decided_ms = [1000 * s for s in clicks.decided]
    held = [h for h in holds if h.held_s is not None]
    overlap_happy = happy.overlap_windows
    cost_happy = happy.transitions * PRICE_PER_TRANSITION
    canary, linear = scenarios["canary"], scenarios["linear-alarm"]
    first_ms = 1000 * clicks.fresh[0] if clicks.fresh else 0.0
    values = {
        "now": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "dirty": dirty,
        "python": platform.python_version(),
        "moto": importlib.metadata.version("moto"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "total_wall": f"{total_wall:.0f}",
        "headline_table": _lines(_headline_table(scenarios, held, fresh_ms, imports, layer, startup)),
        "checks": _lines([f"- {'PASS' if ok else '**FAIL**'}: {text}" for text, ok in checks]),
        "baselines_table": _lines(_baselines_table(scenarios, held, overlap_happy, cost_happy)),
        "scenarios_table": _lines(_scenarios_table(scenarios)),
        "states": _lines(_states(scenarios)),
        "approval_timeout_s": APPROVAL_TIMEOUT_S,
        "approval_timeout_days": APPROVAL_TIMEOUT_S // DAY,
        "holds_table": _lines(_holds_table(holds)),
        "happy_calls": happy.n_calls,
        "happy_seed_calls": happy.seed_calls,
        "calls_table": _lines(_calls_table(happy)),
        "calls_per_scenario": ", ".join(f"`{r.name}` {r.n_calls}" for r in scenarios.values()),
        "routing_table": _lines(_routing_table(scenarios)),
        "rollback_table": _lines(_rollback_table(scenarios)),
        "hooks_table": _lines(_hooks_table(scenarios)),
        "routes_table": _lines(routes_table(routes or [])),
        "detection_table": _lines(_detection_table(detection or [])),
        "clicks_n": len(clicks.fresh),
        "slack_limit_s": f"{SLACK_LIMIT_S:.0f}",
        "clicks_table": _lines(_clicks_table(fresh_ms, decided_ms, first_ms)),
        "click_statuses": dict(clicks.statuses),
        "import_runs": len(imports[0].runs_us) if imports else 0,
        "imports_table": _lines(_imports_table(imports)),
        "layer_total_mb": f"{layer.total_bytes / 1e6:.1f}",
        "layer_bytecode_mb": f"{layer.bytecode_bytes / 1e6:.1f}",
        "layer_zipped_mb": f"{layer.zipped_bytes / 1e6:.1f}",
        "layer_table": _lines(_layer_table(layer)),
        "startup_runs": len(startup[0].runs_s) if startup else 0,
        "startup_table": _lines(_startup_table(startup)),
        "chart": os.path.relpath(chart, path.parent),
        "canary_steps": ", ".join(f"t+{at:.0f}s {w}%" for at, w in canary.weight_steps),
        "canary_end": f"{canary.end_at:.0f}",
        "linear_steps": ", ".join(f"t+{at:.0f}s {w}%" for at, w in linear.weight_steps),
        "linear_alarm": f"{(linear.alarm_at or 0):.0f}",
        "happy_emulator_transitions": happy.emulator_transitions,
        "happy_transitions": happy.transitions,
    }
    return Template(TEMPLATE.read_text()).substitute(values)


# --- the tables ------------------------------------------------------------------------------------
def _headline_table(
    scenarios: dict[str, ScenarioRun],
    held: list[HoldRun],
    fresh_ms: list[float],
    imports: list[ImportTiming],
    layer: LayerBuild,
    startup: list[Startup],
) -> list[str]:
    heaviest = max((t for t in imports if not t.floor), key=lambda t: t.median_us)
    floor = next((t for t in imports if t.floor), None)
    happy = scenarios["happy"]
    cost_happy = happy.transitions * PRICE_PER_TRANSITION
    return table(
        ["Metric", "Value"],
        [
            [
                "State transitions, happy deployment (billable)",
                f"{happy.transitions} (≈ {usd(cost_happy)} per deployment)",
            ],
            [
                "State transitions with the approval held: at once / 1 h / 7 d / 363 d",
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
                "Heaviest handler cold import (median CPU ms, as deployed: layer with bytecode, runtime's boto3)",
                f"{heaviest.function}: {heaviest.median_us / 1000:.0f} ms "
                f"({statistics.median(heaviest.without_bytecode_us) / 1000:.0f} ms without the layer's bytecode)"
                + (f"; floor (Powertools + X-Ray + parser alone): {floor.median_us / 1000:.0f} ms" if floor else ""),
            ],
            [
                "Shared layer, unzipped (zipped)",
                f"{layer.total_bytes / 1e6:.1f} MB ({layer.zipped_bytes / 1e6:.1f} MB), "
                f"of which {layer.bytecode_bytes / 1e6:.1f} MB bytecode; no boto3/botocore",
            ],
        ]
        + [
            [
                f"Start-up of {run.label} beside `aws --version` (median of run-by-run ratios)",
                f"{run.ratio:.2f}x ({1000 * run.median_s:.0f} ms vs {1000 * run.baseline_median_s:.0f} ms)",
            ]
            for run in startup
        ],
    )


def _baselines_table(
    scenarios: dict[str, ScenarioRun], held: list[HoldRun], overlap_happy: list[Window], cost_happy: float
) -> list[str]:
    happy = scenarios["happy"]
    return table(
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
                f"`approval.timeoutSeconds` + keep-old + bake ≤ 364 d (one execution-year); "
                f"held {days(held[-1].held_s or 0)} here at "
                f"{held[-1].transitions} transitions",
                "unbounded (manual workflow runs)",
                "≤ 2,880 min (2 days) to reroute traffic [2b]",
                "lifecycle hook timeout ≤ 20,160 min (14 d), default 1,440 min [3b]; each stage 24 h [3]",
            ],
            [
                "Old version kept after the cutover",
                "bake (`bakeSeconds` ≤ 1 d) + optional keep-old hold (with the approval, ≤ 364 d)",
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


def _scenarios_table(scenarios: dict[str, ScenarioRun]) -> list[str]:
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
    return table(
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


def _states(scenarios: dict[str, ScenarioRun]) -> list[str]:
    lines = []
    for run in scenarios.values():
        counted = Counter(run.states)
        path_text = " → ".join(dict.fromkeys(run.states))
        retries = run.transitions - len(run.states)
        lines.append(
            f"- `{run.name}` ({run.description}): {path_text}"
            + (f"; plus {retries} task retries (health polls)" if retries else "")
            + ("" if max(counted.values()) == 1 else f"; repeated: {dict((s, c) for s, c in counted.items() if c > 1)}")
        )
    return lines


def _holds_table(holds: list[HoldRun]) -> list[str]:
    return table(
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


def _calls_table(happy: ScenarioRun) -> list[str]:
    return table(
        ["service:Operation", "Calls", "Made by"],
        [
            [f"`{op}`", count, ", ".join(f"{fn} ×{n}" for fn, n in sorted(happy.calls_by_function[op].items()))]
            for op, count in sorted(happy.api_calls.items(), key=lambda item: (-item[1], item[0]))
        ],
    )


def _routing_table(scenarios: dict[str, ScenarioRun]) -> list[str]:
    return table(
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


def _hooks_table(scenarios: dict[str, ScenarioRun]) -> list[str]:
    """What the hook stages cost per deployment."""
    stages = ("GreenHooks", "StepHooks", "CutoverHooks", "DeleteOldHooks")
    rows = [
        [
            f"`{run.name}`",
            sum(run.states.count(stage) for stage in stages),
            ", ".join(f"{stage} {run.states.count(stage)}" for stage in stages if run.states.count(stage)) or "-",
            sum(count for (name, count) in run.hook_invocations.items()),
            run.transitions,
        ]
        for run in scenarios.values()
    ]
    return table(["Scenario", "Hook-state transitions", "By state", "Hook invocations", "All transitions"], rows)


def _detection_table(runs: list[DetectionRun]) -> list[str]:
    """From green's failure starting to production restored, and the transitions, per detector."""
    plain = {r.image: r.transitions for r in runs if r.detector == "none"}
    rows = [
        [
            f"{r.detector}",
            f"`{r.image}` ({FAILING_IMAGES.get(r.image, 'healthy')})",
            r.outcome,
            "—" if r.failure_at is None else f"t+{r.failure_at:.0f}s",
            "—" if r.time_to_restore is None else f"{r.time_to_restore:.0f}",
            r.transitions,
            f"{r.transitions - plain[r.image]:+d}" if r.image == "v2" and r.image in plain else "—",
        ]
        for r in runs
    ]
    headers = [
        "Detector",
        "Release",
        "Outcome",
        "Failure starts (production reaches green)",
        "Failure → production restored (simulated s)",
        "Transitions",
        "Transitions added (healthy canary, vs no detector)",
    ]
    return table(headers, rows)


def _rollback_table(scenarios: dict[str, ScenarioRun]) -> list[str]:
    return table(
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


def _clicks_table(fresh_ms: list[float], decided_ms: list[float], first_ms: float) -> list[str]:
    return table(
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


def _imports_table(imports: list[ImportTiming]) -> list[str]:
    return table(
        [
            "Function",
            "Median CPU ms",
            "Min CPU ms",
            "Max CPU ms",
            "Without the layer's bytecode, median CPU ms",
            "Heaviest direct imports (cumulative wall ms, median run)",
        ],
        [
            [
                f"*{t.function}*" if t.floor else f"`{t.function}`",
                f"{t.median_us / 1000:.1f}",
                f"{min(t.runs_us) / 1000:.1f}",
                f"{max(t.runs_us) / 1000:.1f}",
                f"{statistics.median(t.without_bytecode_us) / 1000:.1f}" if t.without_bytecode_us else "—",
                ", ".join(f"`{name}` {us / 1000:.0f}" for name, us in t.children),
            ]
            for t in sorted(imports, key=lambda t: (t.floor, -t.median_us))
        ],
    )


def _layer_table(layer: LayerBuild) -> list[str]:
    return table(
        ["Top-level folder of `python/`", "MB (with bytecode)"],
        [[f"`{name}`", f"{size / 1e6:.1f}"] for name, size in layer.packages[:8]]
        + [["everything else", f"{sum(size for _, size in layer.packages[8:]) / 1e6:.1f}"]],
    )


def _startup_table(startup: list[Startup]) -> list[str]:
    return table(
        ["Command", "Median ms", "`aws --version` median ms", "Ratio (median of pairs)", "Loads moto"],
        [
            [
                run.label,
                f"{1000 * run.median_s:.0f}",
                f"{1000 * run.baseline_median_s:.0f}",
                f"{run.ratio:.2f}x",
                "yes" if run.moto_loaded else "no",
            ]
            for run in startup
        ],
    )


# --- ELB calls per route and per step -------------------------------------------------------
def routes_table(runs: list[RouteRun]) -> list[str]:
    """One row per layout and step: the writes on each production route, the test route, and the reads."""
    rows = []
    for run in runs:
        for step in run.steps:
            per_route = sorted(set(step.production_writes.values()))
            reads = ", ".join(f"{op} {n}" for op, n in sorted(step.reads.items()))
            rows.append(
                [
                    f"`{run.layout}` ({run.description})",
                    run.production_routes,
                    step.step,
                    f"{'/'.join(map(str, per_route))} `{run.operation}`",
                    step.test_writes,
                    step.writes,
                    reads or "—",
                ]
            )
    return table(
        [
            "Layout",
            "Production routes (N)",
            "Step",
            "Writes per production route",
            "Test route writes",
            "ELB writes in the step",
            "ELB reads in the step",
        ],
        rows,
    )
