"""Benchmarks of the blue/green workflow on the embedded emulator.

Run from the repository root (about a minute and a half)::

    .venv/bin/python -m bench.run        # or: make bench

It writes ``docs/benchmarks.md`` and ``docs/canary-weights.png``: :mod:`bench.measure` measures,
:mod:`bench.report` writes the document from ``bench/benchmarks.md.tmpl``. Every number comes from the
emulator (moto plus a simulated clock): the generated document says what that does and does not
measure. Not part of the test suite; it exits 1 when a check fails (the document is written anyway).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .measure import (
    ROOT,
    SCENARIOS,
    ScenarioRun,
    build_layer,
    run_clicks,
    run_detection,
    run_holds,
    run_imports,
    run_routes,
    run_scenario,
    run_startup,
    say,
)
from .report import SLACK_LIMIT_S, days, draw_chart, write_doc

IMPORT_LIMIT_MS = 250  # The heaviest handler's cold import


# --- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="output folder (default: docs/)")
    parser.add_argument("--clicks", type=int, default=20, help="fresh approvals to click (default 20)")
    parser.add_argument("--import-runs", type=int, default=5, help="measured imports per handler (default 5)")
    parser.add_argument("--startup-runs", type=int, default=7, help="measured CLI start-ups per command (default 7)")
    args = parser.parse_args(argv)
    # Handlers without business metrics flush an empty set (as in pyproject's pytest filterwarnings).
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    started = time.perf_counter()
    checks: list[tuple[str, bool]] = []

    say("Start-up of the CLI beside `aws --version`:")
    startup = run_startup(args.startup_runs)
    for run in startup:
        checks.append((f"{run.label} loads no moto", not run.moto_loaded))
        # `bluegreen --help` and `bluegreen status` start no slower than `aws --version`.
        checks.append((f"{run.label} starts no slower than `aws --version` ({run.ratio:.2f}x)", run.ratio <= 1.0))

    say("The shared layer, built by its Makefile:")
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as workdir:
        layer = build_layer(Path(workdir))
        say(f"  {layer.total_bytes / 1e6:.1f} MB unzipped ({layer.bytecode_bytes / 1e6:.1f} MB bytecode)")
        say(f"Cold imports of the handlers ({args.import_runs} runs each after one warm-up):")
        imports = run_imports(args.import_runs, layer)
    heaviest = max((t for t in imports if not t.floor), key=lambda t: t.median_us)
    checks.append(
        (
            f"heaviest handler's cold import under {IMPORT_LIMIT_MS} ms CPU "
            f"({heaviest.function}: {heaviest.median_us / 1000:.0f} ms)",
            heaviest.median_us < 1000 * IMPORT_LIMIT_MS,
        )
    )

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

    say("ELB calls per route and per step:")
    route_runs = run_routes()
    for route_run in route_runs:
        for step in route_run.steps:
            per_route = sorted(set(step.production_writes.values()))
            say(
                f"  {route_run.layout:<15} N={route_run.production_routes} {step.step:<11} "
                f"{'/'.join(map(str, per_route))} {route_run.operation} per production route, "
                f"{step.test_writes} on the test route, {step.writes} writes, {sum(step.reads.values())} reads"
            )
        checks.append(
            (
                f"`{route_run.layout}`: every traffic step is one {route_run.operation} per production route "
                f"({route_run.production_routes} route(s)), outcomes {route_run.outcomes}",
                route_run.outcomes == ["deployed", "rolled_back"]
                and all(set(step.production_writes.values()) == {1} for step in route_run.steps),
            )
        )
    say("Failure to restore, an alarm vs the built-in analysis:")
    detection = run_detection()
    for d in detection:
        restore = "—" if d.time_to_restore is None else f"{d.time_to_restore:.0f}s"
        say(
            f"  {d.detector:<13} {d.image:<14} {d.outcome:<12} restored {restore:>6} after the failure, "
            f"{d.transitions} transitions"
        )
    plain = {d.image: d.transitions for d in detection if d.detector == "none"}
    checks.append(
        (
            "the built-in analysis, with no alarm configured, rolls back every failing image",
            all(d.outcome == "rolled_back" for d in detection if d.detector.startswith("analysis") and d.image != "v2"),
        )
    )
    checks.append(
        (
            "a healthy canary costs the same transitions with an alarm, with the analysis or with neither",
            len({d.transitions for d in detection if d.image == "v2"}) == 1 and plain.get("v2") is not None,
        )
    )

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
    write_doc(doc, chart, scenarios, holds, clicks, imports, checks, total, layer, startup, route_runs, detection)
    say(f"Wrote {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc} and {chart.name} in {total:.0f}s")
    failed = [text for text, ok in checks if not ok]
    for text in failed:
        say(f"FAIL: {text}")
    # The acceptance criterion of the holds, asserted once the document (with its FAIL line) is written.
    assert len(counts) == 1, f"state transitions grew with the approval hold: {[h.transitions for h in approved]}"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
