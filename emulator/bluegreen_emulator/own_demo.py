"""The ``own-service`` demo: a service built through the API only (as with the AWS CLI), deployed v1 -> v2.

Nothing is seeded for the service: the emulator runs its tasks because it is in ECS, as any service is.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from bluegreen.aws import elbv2

from .emulator import Emulator
from .own_service import build_service
from .route_state import client_actions
from .scenarios import SCENARIOS

SERVICE = "shop"
START_UP_SECONDS = 60  # the first task set's tasks start and turn healthy before the first deployment


def run_own_service_demo(scenario: str, as_json: bool = False, out: TextIO = sys.stdout, verbose: bool = False) -> int:
    spec = SCENARIOS[scenario]
    started = time.monotonic()
    with Emulator(log_stream=sys.stderr if verbose else None) as emu:
        print(f"Scenario '{scenario}': {spec.description}", file=out)
        service = build_service(emu.session, SERVICE, layout=spec.layout)
        print(
            f"  built {service.name} through the API: VPC, 2 subnets, SG, ALB ({service.layout}), 2 target groups, "
            f"ECR {service.repository} ({', '.join(service.digests)}), task definition, EXTERNAL service, "
            f"task set {service.first_task_set} (create-task-set), alarm {service.alarm_name}, SSM configuration",
            file=out,
        )
        emu.clock.advance(START_UP_SECONDS)
        ecs, elb = emu.client("ecs"), emu.client("elbv2")
        tasks = ecs.list_tasks(cluster=service.cluster, startedBy=service.first_task_set)["taskArns"]
        health = elb.describe_target_health(TargetGroupArn=service.target_groups[0])["TargetHealthDescriptions"]
        healthy = sum(1 for d in health if d["TargetHealth"]["State"] == "healthy")
        print(
            f"  [t+{emu.clock.elapsed:5.0f}s] first task set: {len(tasks)} tasks, {healthy} healthy targets", file=out
        )
        print(f"Deploying {service.name}: {service.repository}:v1 -> {service.repository}:{spec.tag}", file=out)

        def on_state(name: str, elapsed: float) -> None:
            print(f"  [t+{elapsed:5.0f}s] {name}", file=out, flush=True)

        result = emu.run(service.name, spec.tag, on_state=on_state)
        actions = client_actions(elb, service.production_route)
        production = sorted(elbv2.receiving(elbv2.forward_weights(actions)))
        arns = [
            ts["taskSetArn"]
            for ts in ecs.describe_services(cluster=service.cluster, services=[service.name])["services"][0]["taskSets"]
        ]
        task_sets = ecs.describe_task_sets(cluster=service.cluster, service=service.name, taskSets=arns)["taskSets"]
        lock_held = emu.store.lock_holder(service.name) is not None
        summary: dict[str, Any] = {
            "scenario": scenario,
            "status": result.status,
            "outcome": result.outcome,
            "expectedOutcome": spec.expected_outcome,
            "executionArn": result.execution_arn,
            "error": result.error,
            "cause": result.cause,
            "states": result.states,
            "production": production,
            "taskSets": [{"id": ts["id"], "status": ts["status"]} for ts in task_sets],
            "lockHeld": lock_held,
            "approvals": len(emu.approvals),
            "simulatedSeconds": round(emu.clock.elapsed),
            "wallSeconds": round(time.monotonic() - started, 2),
        }
    for at, _service, gate_id in emu.approvals:
        print(f"  approval {gate_id} approved in Slack at t+{at:.0f}s", file=out)
    print(f"Execution {result.status}: outcome {result.outcome}", file=out)
    if result.status != "SUCCEEDED":
        print(f"  {result.error}: {result.cause}", file=out)
    for group in production:
        print(f"  production -> {group.split(':')[-1]}", file=out)
    for task_set in summary["taskSets"]:
        print(f"  task set {task_set['id']} {task_set['status']}", file=out)
    print(f"  {summary['simulatedSeconds']}s simulated in {summary['wallSeconds']}s", file=out)
    if as_json:
        print(json.dumps(summary, default=str), file=out)
    # Deployed, as expected: production on the new task set (the other target group), the only one left.
    clean = not lock_held and len(task_sets) == 1 and production == [service.target_groups[1]]
    return 0 if result.outcome == spec.expected_outcome and clean else 1
