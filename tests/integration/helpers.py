"""Helpers for workflow tests on the emulator."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.domain.gates import Gate
from bluegreen_emulator.emulator import Emulator

MUTATING = {"CreateTaskSet", "DeleteTaskSet", "ModifyRule", "RegisterTaskDefinition", "UpdateServicePrimaryTaskSet"}


def snapshot(emu: Emulator, service: str) -> dict:
    """What users see: both rules' actions and the task sets (id, status, target group)."""
    demo = emu.services[service]
    return {
        "production": emu.rule_actions(demo.production_rule_arn),
        "test": emu.rule_actions(demo.test_rule_arn),
        "taskSets": sorted((ts["id"], ts["status"], ts["targetGroupArn"]) for ts in emu.task_sets(service)),
    }


def production_modify_calls(emu: Emulator, service: str, function: str | None = None) -> int:
    rule = emu.services[service].production_rule_arn
    return sum(
        1
        for c in emu.recorder.calls
        if c.operation == "ModifyRule" and c.params.get("RuleArn") == rule and function in (None, c.function)
    )


def fail_call(
    emu: Emulator, operation: str, code: str, times: int | None = None, function: str | None = None
) -> list[int]:
    """Make the handlers' ``operation`` calls fail with ``code`` (``times`` times, or always)."""
    seen = [0]

    def hook(call: Any) -> None:
        if call.operation == operation and function in (None, call.function) and (times is None or seen[0] < times):
            seen[0] += 1
            status = 500 if code in ("InternalError", "ServiceUnavailable") else 400
            response = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(response, operation)

    emu.recorder.before.append(hook)
    return seen


def wait_for_gate(emu: Emulator, service: str, kind: str, timeout: float = 30.0) -> Gate:
    """Block (real time) until the service has a pending gate of ``kind``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == kind:
            return gate
        time.sleep(0.005)
    raise AssertionError(f"no pending {kind} gate for {service} within {timeout}s")


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def live_task_sets(ecs: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    """The service's PRIMARY and ACTIVE task sets, from DescribeServices (DescribeTaskSets needs their ids)."""
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskSets"]
    return [ts for ts in described if ts["status"] in ("PRIMARY", "ACTIVE")]
