"""Canary and linear traffic shifting: one ModifyRule per step, rollback from any step in one call."""

from __future__ import annotations

import json

from bluegreen.aws import elbv2
from bluegreen.aws.decisions import decide

from .helpers import production_modify_calls, snapshot, wait_until

CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}
LINEAR = {"trafficShift": {"type": "LINEAR", "percent": 20, "intervalSeconds": 120}}


def weights(emulator, service):
    return [weight for _, weight in emulator.weight_steps(service)]


def test_canary_moves_10_percent_then_everything(emulator):
    demo = emulator.seed_service(config_overrides=CANARY)
    arn = emulator.start(demo.name, "v2")

    # During the canary step: 10% on green, the test rule still reaches green, blue still primary
    wait_until(lambda: getattr(emulator.store.open_gate_of(demo.name), "weight", None) == 10)
    assert emulator.production_weights(demo.name) == {demo.target_groups[1]: 10, demo.target_groups[0]: 90}
    assert elbv2.forward_weights(emulator.rule_actions(demo.test_rule_arn)) == {demo.target_groups[1]: 1}
    blue = next(ts for ts in emulator.task_sets(demo.name) if ts["imageTag"] == "v1")
    assert blue["status"] == "PRIMARY"

    result = emulator.wait(arn)

    assert result.status == "SUCCEEDED", result.cause
    assert weights(emulator, demo.name) == [10, 100]
    assert production_modify_calls(emulator, demo.name) == 2  # exactly one call per step
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]


def test_linear_rolls_back_from_a_partial_weight_in_one_call(emulator):
    demo = emulator.seed_service(config_overrides=LINEAR)
    emulator.plane.alarm_min_weight = 40  # v2-5xx fails once it serves 40% of production
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2-5xx")

    assert result.error == "RolledBack"
    assert "AlarmTriggered" in result.cause
    assert weights(emulator, demo.name) == [20, 40, 0]
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    assert snapshot(emulator, demo.name) == before


def test_manual_rollback_mid_canary(emulator):
    demo = emulator.seed_service(config_overrides=CANARY)
    before = snapshot(emulator, demo.name)
    arn = emulator.start(demo.name, "v2")
    wait_until(lambda: getattr(emulator.store.open_gate_of(demo.name), "weight", None) == 10)

    gate = emulator.store.open_gate_of(demo.name)
    decide(emulator.store, gate.gateId, "rollback", "iam:ops", "error rate on the canary")
    result = emulator.wait(arn)

    assert result.error == "RolledBack"
    assert weights(emulator, demo.name) == [10, 0]
    assert snapshot(emulator, demo.name) == before


def test_strategy_can_be_overridden_per_execution(emulator):
    demo = emulator.seed_service()
    payload = {"service": demo.name, "imageTag": "v2", "trafficShift": {"type": "LINEAR", "percent": 50}}

    result = emulator.wait(emulator.start(demo.name, "v2", raw_input=payload))

    assert result.status == "SUCCEEDED", result.cause
    assert weights(emulator, demo.name) == [50, 100]
    assert json.loads(result.events[0]["executionStartedEventDetails"]["input"])["trafficShift"]["type"] == "LINEAR"


def test_transitions_do_not_grow_with_the_bake_or_step_length(emulator):
    short = emulator.seed_service("short", config_overrides={"bakeSeconds": 60, **CANARY})
    long = emulator.seed_service(
        "long",
        config_overrides={
            "bakeSeconds": 86400,
            "trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 86400},
        },
    )
    counts = [emulator.run(service.name, "v2").state_transitions for service in (short, long)]
    assert counts[0] == counts[1]
