"""``bluegreen local demo``: one full blue/green deployment on the embedded emulator."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from .emulator import Emulator, ExecutionResult


@dataclass(frozen=True)
class Scenario:
    tag: str
    expected_outcome: str
    description: str


SCENARIOS = {
    "happy": Scenario("v2", "deployed", "v1 -> v2: green turns healthy, production swaps, bake passes, blue deleted"),
    "unhealthy": Scenario(
        "v2-broken", "cleaned_up", "v2-broken never passes health checks: green deleted, production untouched"
    ),
    "alarm": Scenario("v2-5xx", "rolled_back", "v2-5xx fires the 5xx alarm during the bake: rules restored, blue back"),
}


def summarize(emu: Emulator, scenario: str, service: str, result: ExecutionResult, wall: float) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "scenario": scenario,
        "status": result.status,
        "outcome": result.outcome,
        "expectedOutcome": SCENARIOS[scenario].expected_outcome,
        "executionArn": result.execution_arn,
    }
    if result.status != "SUCCEEDED":
        summary["error"] = result.error
        summary["cause"] = result.cause
    production_rule = emu.services[service].production_rule_arn
    summary.update(
        {
            "states": result.states,
            "stateTransitions": result.state_transitions,
            "apiCalls": emu.recorder.counts(),
            "productionRuleModifications": sum(
                1
                for call in emu.recorder.calls
                if call.operation == "ModifyRule" and call.params.get("RuleArn") == production_rule
            ),
            "productionWeights": emu.production_weights(service),
            "taskSets": emu.task_sets(service),
            "rollbackReactionSeconds": emu.rollback_reaction(service),
            "simulatedSeconds": round(emu.clock.elapsed),
            "wallSeconds": round(wall, 2),
        }
    )
    return summary


def run_demo(scenario: str, as_json: bool = False, out: TextIO = sys.stdout, verbose: bool = False) -> int:
    spec = SCENARIOS[scenario]
    started = time.monotonic()
    log_stream = sys.stderr if verbose else None
    with Emulator(log_stream=log_stream) as emu:
        demo = emu.seed_service()
        print(f"Scenario '{scenario}': {spec.description}", file=out)
        print(f"Deploying {demo.name}: {demo.repository}:v1 -> {demo.repository}:{spec.tag}", file=out)

        def on_state(name: str, elapsed: float) -> None:
            print(f"  [t+{elapsed:5.0f}s] {name}", file=out, flush=True)

        result = emu.run(demo.name, spec.tag, on_state=on_state)
        summary = summarize(emu, scenario, demo.name, result, time.monotonic() - started)

    print(f"Execution {result.status}: outcome {result.outcome}", file=out)
    if result.status != "SUCCEEDED":
        print(f"  {result.error}: {result.cause}", file=out)
    for group, weight in summary["productionWeights"].items():
        print(f"  production -> {group.split(':')[-1]} weight {weight}", file=out)
    if summary["rollbackReactionSeconds"] is not None:
        print(f"  rollback reaction: {summary['rollbackReactionSeconds']}s from alarm to production restored", file=out)
    for task_set in summary["taskSets"]:
        print(f"  task set {task_set['id']} {task_set['status']} image {task_set['imageTag']}", file=out)
    print(
        f"  {summary['stateTransitions']} state transitions, {sum(summary['apiCalls'].values())} AWS API calls, "
        f"{summary['simulatedSeconds']}s simulated in {summary['wallSeconds']}s",
        file=out,
    )
    if as_json:
        print(json.dumps(summary, default=str), file=out)
    return 0 if result.outcome == spec.expected_outcome else 1
