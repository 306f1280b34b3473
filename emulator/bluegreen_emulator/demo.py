"""``bluegreen local demo``: one full blue/green deployment on the embedded emulator."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from bluegreen.aws.decisions import decide
from bluegreen.domain.hooks import hook_lines
from bluegreen.domain.plan import Plan, render

from .emulator import Emulator, ExecutionResult, route_of
from .scenarios import SCENARIOS, USER_HOOK_ARN, Scenario

__all__ = ["SCENARIOS", "Scenario", "run_demo", "summarize"]


def _stopper(emu: Emulator, service: str, kind: str, out: TextIO) -> None:
    """StopExecution once the ``kind`` gate is open, as someone would from the console or the CLI."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == kind:
            print(f"  [t+{emu.clock.elapsed:5.0f}s] (operator runs aws stepfunctions stop-execution)", file=out)
            emu.client("stepfunctions").stop_execution(executionArn=gate.executionArn, cause="demo: stopped")
            return
        time.sleep(0.005)


def _operator(emu: Emulator, service: str, kind: str, action: str, out: TextIO) -> None:
    """Click ``action`` on the ``kind`` gate's Slack message once it is posted (the approval is auto-approved)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == kind and gate.ts:
            print(f"  [t+{emu.clock.elapsed:5.0f}s] (operator clicks {action.capitalize()} on {gate.gateId})", file=out)
            emu.click(gate, action)
            return
        time.sleep(0.005)


def _interactive(emu: Emulator, service: str, out: TextIO) -> None:
    """Wait for the operator to type approve / reject at the prompt."""
    while True:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == "approval":
            break
        time.sleep(0.01)
    print(f"Approval {gate.gateId} pending. Test it at {gate.testUrl}.", file=out)
    while True:
        answer = input("approve / reject [reason]? ").strip()
        action, _, reason = answer.partition(" ")
        if action in ("approve", "reject"):
            decide(emu.store, gate.gateId, action, "cli:interactive", reason)
            return
        print("type 'approve' or 'reject <reason>'", file=out)


# --- --to-previous, deployment events and delivery metrics in the demo ---------------------
def _to_previous(emu: Emulator, service: str, out: TextIO) -> str:
    """``bluegreen rollback SERVICE --to-previous`` as the CLI runs it, against the emulator."""
    from rich.console import Console

    from bluegreen_cli.operator import Clients, Operator

    operator = Operator(
        Clients(emu.session),
        out=Console(file=out, highlight=False, markup=False, emoji=False, width=160),
        store=emu.store,
        state_machine_arn=emu.state_machine_arn,
    )
    return operator.rollback_to_previous(service, "demo: back to the previous release")


def _delivery(emu: Emulator, service: str) -> dict[str, Any]:
    """The deployment events the bus carried (in order) and the stats of the demo's history."""
    from bluegreen.domain import clock
    from bluegreen.domain.history import delivery_stats

    events = [
        {
            "detailType": e["detail-type"],
            "execution": e["detail"]["executionName"],
            "at": e["detail"]["at"],
            **{
                k: e["detail"][k]
                for k in ("imageDigest", "greenWeight", "who", "why", "rollbackOf")
                if k in e["detail"]
            },
        }
        for e in emu.deployment_events()
        if "executionName" in e["detail"]  # the deployments' milestones (not the reconciler's repairs)
    ]
    items = emu.store.deployments(service, limit=100)
    now = clock.now()
    stats = delivery_stats(items, now - timedelta(days=30), now, service=service)
    return {"events": events, "stats": stats.model_dump(mode="json")}


def _lose_end_events(function: str, event: dict[str, Any]) -> str | None:
    """EventBridge's best-effort delivery: the end's status-change event never reaches ExecutionEnded."""
    ended = function == "ExecutionEndedFunction" and event.get("detail", {}).get("status") != "RUNNING"
    return "drop" if ended else None


def _reconcile(emu: Emulator, service: str, out: TextIO) -> None:
    """What the lost end event left, then the reconciler's next scheduled run (after its grace period)."""
    left = [ts["id"] for ts in emu.task_sets(service)]
    print(
        f"  end event lost: lock held {emu.store.lock_holder(service) is not None}, {len(left)} task sets, "
        f"gate open {emu.store.open_gate_of(service) is not None}",
        file=out,
    )
    emu.clock.advance(300)  # the schedule's next run: every 5 minutes
    report = emu.reconcile()
    print(f"  [t+{emu.clock.elapsed:5.0f}s] reconciler (scheduled every 5 minutes):", file=out)
    for repair in report["repairs"]:
        print(f"    {repair['kind']}: {repair['action']}", file=out)


REHEARSED_ACCOUNT = "210987654321"  # the "real" account the rehearsal scenario snapshots (not the default one)


def _snapshot_of_another(spec: Scenario, out: TextIO) -> dict[str, Any]:
    """The rehearsal scenario's first half: a service in another emulator (account), snapshotted to a file."""
    import tempfile

    import boto3

    from bluegreen_cli import snapshot as snapshots

    from .rehearsal import shape

    with Emulator(account=REHEARSED_ACCOUNT, slack=False) as source:
        demo = source.seed_service(
            config_overrides=spec.config, sidecar=spec.sidecar, layout=spec.layout, **(spec.seed or {})
        )
        operations: list[str] = []
        session = boto3.session.Session(region_name=source.region)
        session.events.register("before-call", lambda model, **_: operations.append(model.name))
        taken = snapshots.take(session, demo.name, stack="bluegreen")
        before = shape(source, demo.name)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"{demo.name}-snapshot-", delete=False) as file:
        path = file.name
    snapshots.write(taken, path)
    print(
        f"Snapshot of {demo.name} in account {taken.account}: {len(operations)} read calls "
        f"({', '.join(sorted(set(operations)))}), written to {path}",
        file=out,
    )
    if not all(op.startswith(("Describe", "List", "Get")) for op in operations):
        raise RuntimeError(f"the snapshot made a call that is not a read: {operations}")
    return {"snapshot": snapshots.load(path), "shape": before, "file": path}


def summarize(
    emu: Emulator, scenario: str, service: str, result: ExecutionResult, wall: float, first_call: int = 0
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "scenario": scenario,
        "slackCalls": [c.method for c in emu.slack.calls] if emu.slack else [],
        "status": result.status,
        "outcome": result.outcome,
        "expectedOutcome": SCENARIOS[scenario].expected_outcome,
        "executionArn": result.execution_arn,
    }
    plan = (result.output or {}).get("plan")
    if plan:  # What the release changed
        summary["plan"] = plan
    if emu.slack:
        posted = [c.args for c in emu.slack.calls_to("chat.postMessage") if c.args.get("blocks")]
        summary["approvalShowsPlan"] = any("Plan for" in json.dumps(args.get("blocks")) for args in posted)
    if result.status != "SUCCEEDED":
        summary["error"] = result.error
        summary["cause"] = result.cause
    demo = emu.services[service]
    production_routes = set(demo.production_routes or [demo.production_rule_arn])
    summary.update(
        {
            "states": result.states,
            "stateTransitions": result.state_transitions,
            "apiCalls": emu.recorder.counts(first_call),
            "productionRuleModifications": sum(
                1 for call in emu.recorder.calls[first_call:] if route_of(call) in production_routes
            ),
            "productionWeights": emu.production_weights(service),
            "productionTaskSets": [  # The task sets production forwards to now
                ts["id"] for ts in emu.task_sets(service) if emu.production_weights(service).get(ts["targetGroupArn"])
            ],
            "productionWeightSteps": emu.weight_steps(service),
            "taskSets": emu.task_sets(service),
            "rollbackReactionSeconds": emu.rollback_reaction(service),
            "simulatedSeconds": round(emu.clock.elapsed),
            "wallSeconds": round(wall, 2),
        }
    )
    return summary


def _create_user_hook(emu: Emulator, out: TextIO) -> None:
    """CreateFunction of local/example_hook.py as a zip, as a user would (``aws lambda create-function``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", (Path(__file__).parent / "example_hook.py").read_text())
    name = USER_HOOK_ARN.rsplit(":", 1)[1]
    role = emu.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    emu.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
        Environment={"Variables": {"CHECKS": "3"}},
    )
    print(f"Created Lambda function {name} (python3.13 zip, its own process) as the service's hook", file=out)


def run_demo(
    scenario: str, as_json: bool = False, out: TextIO = sys.stdout, verbose: bool = False, interactive: bool = False
) -> int:
    spec = SCENARIOS[scenario]
    if spec.own_service:
        from .own_demo import run_own_service_demo

        return run_own_service_demo(scenario, as_json=as_json, out=out, verbose=verbose)
    started = time.monotonic()
    log_stream = sys.stderr if verbose else None
    auto_approve = not interactive and (spec.click is None or spec.click[0] != "approval")
    settings: dict[str, Any] = {
        "log_stream": log_stream,
        "auto_approve": auto_approve,
        "pace": 60.0 if interactive else None,
    }
    rehearsal = _snapshot_of_another(spec, out) if spec.rehearsal else None
    if rehearsal:
        from .rehearsal import emulator_for

        emulator = emulator_for(rehearsal["snapshot"], **settings)
    else:
        emulator = Emulator(**settings)
    with emulator as emu:
        if rehearsal:
            from .rehearsal import seed_snapshot, shape

            demo = seed_snapshot(emu, rehearsal["snapshot"])
            same = shape(emu, demo.name) == rehearsal["shape"]
            print(
                f"Rehearsal emulator: account {emu.account}, seeded from the file alone; describe calls answer "
                f"{'as' if same else 'NOT as'} in the snapshotted account",
                file=out,
            )
        else:
            if spec.user_hook:
                _create_user_hook(emu, out)
            demo = emu.seed_service(
                config_overrides=spec.config, sidecar=spec.sidecar, layout=spec.layout, **(spec.seed or {})
            )
        emu.plane.alarm_min_weight = spec.alarm_min_weight
        if spec.alarm_events_lost:  # as a deleted or disabled rule in AWS: the alarm's events never arrive
            emu.set_alarm_events(False)
        for zone in spec.zones_out:  # Blue runs in every zone, green's tasks only where ECS can place
            emu.plane.zone_out_of_capacity(zone)
        helper = None
        if interactive:
            helper = threading.Thread(target=_interactive, args=(emu, demo.name, out), daemon=True)
        elif spec.click:
            helper = threading.Thread(target=_operator, args=(emu, demo.name, *spec.click, out), daemon=True)
        elif spec.stop_at:
            helper = threading.Thread(target=_stopper, args=(emu, demo.name, spec.stop_at, out), daemon=True)
        if helper:
            helper.start()
        print(f"Scenario '{scenario}': {spec.description}", file=out)
        if spec.release:
            print(f"Deploying {demo.name}: {json.dumps(spec.release)}", file=out)
        else:
            current = f"{demo.repository}:v1" if demo.blue_task_set else "nothing (no task set yet)"
            print(f"Deploying {demo.name}: {current} -> {demo.repository}:{spec.tag}", file=out)

        def on_state(name: str, elapsed: float) -> None:
            print(f"  [t+{elapsed:5.0f}s] {name}", file=out, flush=True)

        if spec.lose_end_event:
            emu.async_lambda.faults.append(_lose_end_events)
        first_call = len(emu.recorder.calls)  # seeding pushes images: the ECR trigger's calls are not the deployment's
        raw = {"service": demo.name, **spec.release} if spec.release else None
        result = emu.run(demo.name, spec.tag, on_state=on_state, raw_input=raw)
        if spec.to_previous and result.outcome == "deployed":
            print(
                f"Execution {result.status}: outcome {result.outcome}; "
                f"now: bluegreen rollback {demo.name} --to-previous",
                file=out,
            )
            first_call = len(emu.recorder.calls)
            result = emu.wait(_to_previous(emu, demo.name, out), on_state=on_state)
        if spec.lose_end_event:
            _reconcile(emu, demo.name, out)
        summary = summarize(emu, scenario, demo.name, result, time.monotonic() - started, first_call)
        hooks = hook_lines(next(iter(emu.store.deployments(demo.name, limit=1)), {}))
        summary["lockHeld"] = emu.store.lock_holder(demo.name) is not None
        if rehearsal:
            summary["rehearsal"] = {"account": emu.account, "file": rehearsal["file"], "sameShape": same}
        summary.update(_delivery(emu, demo.name))

    for event in summary["events"]:
        print(f"  event {event['detailType']:<20} {event['execution']}", file=out)
    for at, _service, gate_id in emu.approvals:
        print(f"  approval {gate_id} approved in Slack at t+{at:.0f}s", file=out)
    for line in hooks:
        print(f"  {line}", file=out)
    print(f"Execution {result.status}: outcome {result.outcome}", file=out)
    if result.status != "SUCCEEDED" and (result.error or result.cause):
        print(f"  {result.error}: {result.cause}", file=out)
    steps = summary["productionWeightSteps"]
    if len(steps) > 1:
        shown = ", ".join(f"t+{at:.0f}s {weight}%" for at, weight in steps)
        print(f"  green's share of production, one call per route each: {shown}", file=out)
    for group, weight in summary["productionWeights"].items():
        print(f"  production -> {group.split(':')[-1]} weight {weight}", file=out)
    if summary["rollbackReactionSeconds"] is not None:
        trigger = "alarm" if scenario != "manual-rollback" else "click"
        print(
            f"  rollback reaction: {summary['rollbackReactionSeconds']}s from {trigger} to production restored",
            file=out,
        )
    if summary.get("plan"):
        print("  plan (also in the Slack approval message):", file=out)
        for line in render(Plan.model_validate(summary["plan"])).splitlines():
            print(f"    {line}", file=out)
    for task_set in summary["taskSets"]:
        print(f"  task set {task_set['id']} {task_set['status']} image {task_set['imageTag']}", file=out)
    print(
        f"  {summary['stateTransitions']} state transitions, {sum(summary['apiCalls'].values())} AWS API calls, "
        f"{summary['simulatedSeconds']}s simulated in {summary['wallSeconds']}s",
        file=out,
    )
    if as_json:
        print(json.dumps(summary, default=str), file=out)
    clean = not summary["lockHeld"] and len(summary["taskSets"]) == 1
    if rehearsal and not summary["rehearsal"]["sameShape"]:
        clean = False  # the rehearsal is of another shape than the account's: not a rehearsal
    return 0 if result.outcome == spec.expected_outcome and clean else 1
