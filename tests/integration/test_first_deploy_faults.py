"""Every AWS call site of a first deployment, failed once and failed for good.

Same method as the fault-injection suite (``bluegreen_emulator.faults``), on an empty EXTERNAL
service whose production rule answers a fixed response: after every call the handlers make,
production forwards only to target groups with healthy targets; at the end either the service
is live on exactly one primary task set, or (cleanup, rollback) the rules are exactly as before,
no task set is left, and the lock is free.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen.aws.first_deploy import serving_groups
from bluegreen.domain.models import RuleSnapshot
from bluegreen_emulator import faults
from bluegreen_emulator.emulator import ACCOUNT, REGION, Emulator

from .helpers import snapshot

SEED = {"first_task_set": False, "production_action": "fixed-response", "config_overrides": faults.CONFIG}


def _production(emu: Emulator, rule_arn: str) -> set[str]:
    """Where production goes, read from the moto backend (not counted as an API call)."""
    rule = elbv2_backends[ACCOUNT][REGION].describe_rules(listener_arn=None, rule_arns=[rule_arn])[0]
    return serving_groups(RuleSnapshot(ruleArn=rule_arn, actions=[action.data for action in rule.actions]))


def _check(emu: Emulator, rule_arn: str, violations: list[str], label: str, call: Any) -> None:
    for group in _production(emu, rule_arn):
        targets = elbv2_backends[ACCOUNT][REGION].target_groups[group].targets
        if not any(emu.plane.health.get((group, t), ("", None))[0] == "healthy" for t in targets):
            violations.append(
                f"{label}: after {call.operation}, production forwards to {group} without healthy targets"
            )


def _live(emu: Emulator, cluster: str, name: str) -> list[Any]:
    service = ecs_backends[ACCOUNT][REGION].services[f"{cluster}:{name}"]
    return [ts for ts in service.task_sets if ts.status in ("PRIMARY", "ACTIVE")]


@pytest.mark.matrix
def test_no_fault_strands_a_first_deployment():
    violations: list[str] = []
    with Emulator(timing=faults.FAST) as emu:
        probe = emu.seed_service("probe", **SEED)
        start = len(emu.recorder.calls)
        assert emu.run(probe.name, "v2").status == "SUCCEEDED"
        points = sorted({(c.function, f"{c.service}:{c.operation}") for c in emu.recorder.calls[start:]})
        emu.plane.unwatch(probe.name)
        assert ("CreateGreenFunction", "ecs:CreateTaskSet") in points and len(points) >= 20

        for index, point in enumerate(points):
            for persistent in (False, True):
                demo = emu.seed_service(f"f{index}{'p' if persistent else 't'}", **SEED)
                before = snapshot(emu, demo.name)
                label = faults.label_of(point, persistent)
                check = functools.partial(_check, emu, demo.production_rule_arn, violations, label)
                result, injected = faults.run_faulted(emu, demo.name, point, persistent, check)
                expected = faults.expected_outcome(point, persistent)
                if result.outcome != expected:
                    violations.append(f"{label}: ended {result.outcome} ({result.error}), expected {expected}")
                live = _live(emu, demo.cluster, demo.name)
                if result.outcome == "deployed":
                    groups = {(ts.load_balancers or [{}])[0].get("targetGroupArn") for ts in live}
                    if (
                        len(live) != 1
                        or live[0].status != "PRIMARY"
                        or _production(emu, demo.production_rule_arn) != groups
                    ):
                        violations.append(f"{label}: deployed, but not live on exactly one primary task set")
                elif snapshot(emu, demo.name) != before or live:
                    violations.append(f"{label}: ended {result.outcome} with rules or task sets changed")
                if emu.store.lock_holder(demo.name):
                    violations.append(f"{label}: the deployment lock is still held")
                if injected == 0 and not point[1].startswith(faults.BEST_EFFORT):  # Slack clients may be cached
                    violations.append(f"{label}: the fault was never injected")
                emu.plane.unwatch(demo.name)

    assert violations == []
