"""Every route kind (single rule, several rules, listener default actions, NLB listeners) x (happy,
alarm rollback, manual rollback, canary) on one emulator per module, asserting every route's final actions.

The alarm rollback of each kind runs by default; the rest of the matrix is marked ``matrix`` (CI runs it).
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.aws import elbv2
from bluegreen.aws.decisions import decide
from bluegreen_emulator.emulator import Emulator, route_of

from .helpers import wait_for_gate, wait_until

LAYOUTS = ["rules", "several-rules", "listener-ports", "nlb"]
CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}
_count = [0]


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator() as emulator:
        yield emulator


def seed(emu: Emulator, layout: str, **config: Any) -> Any:
    _count[0] += 1
    return emu.seed_service(f"r{_count[0]}-{layout[:6]}", layout=layout, config_overrides=config or None)


def routes_of(demo: Any) -> list[str]:
    return [*demo.production_routes, demo.test_rule_arn]


def actions(emu: Emulator, demo: Any) -> dict[str, list[dict[str, Any]]]:
    return {arn: emu.rule_actions(arn) for arn in routes_of(demo)}


def calls_per_route(emu: Emulator, demo: Any, first: int, function: str | None = None) -> dict[str, int]:
    counts = dict.fromkeys(routes_of(demo), 0)
    for call in emu.recorder.calls[first:]:
        arn = route_of(call)
        if arn in counts and function in (None, call.function):
            counts[arn] += 1
    return counts


def expected_operation(demo: Any) -> str:
    return "ModifyListener" if demo.layout in ("listener-ports", "nlb") else "ModifyRule"


def assert_restored(emu: Emulator, demo: Any, saved: dict[str, list[dict[str, Any]]]) -> None:
    # Every route is back to its saved actions, byte for byte; blue is the only task set, primary
    assert actions(emu, demo) == saved
    task_sets = emu.task_sets(demo.name)
    assert [(ts["imageTag"], ts["status"]) for ts in task_sets] == [("v1", "PRIMARY")]
    assert emu.store.lock_holder(demo.name) is None


def assert_deployed(emu: Emulator, demo: Any, saved: dict[str, list[dict[str, Any]]]) -> None:
    blue, green = demo.target_groups
    final = actions(emu, demo)
    for arn in demo.production_routes:
        # Production on green; every action but the forward exactly as saved
        assert elbv2.receiving(elbv2.forward_weights(final[arn])) == {green}
        assert [a for a in final[arn] if a["Type"] != "forward"] == [a for a in saved[arn] if a["Type"] != "forward"]
    assert elbv2.receiving(elbv2.forward_weights(final[demo.test_rule_arn])) == {blue}
    assert [(ts["imageTag"], ts["status"]) for ts in emu.task_sets(demo.name)] == [("v2", "PRIMARY")]
    assert emu.store.lock_holder(demo.name) is None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_alarm_rollback_restores_every_route_verbatim(emu, layout):
    # Given a service routed through ``layout`` and the routes' actions saved
    demo = seed(emu, layout)
    saved = actions(emu, demo)
    first = len(emu.recorder.calls)

    # When v2-5xx fires the alarm during the bake
    result = emu.run(demo.name, "v2-5xx")

    # Then the deployment rolled back, each route restored in one call of its own kind
    assert result.error == "RolledBack", result.cause
    assert_restored(emu, demo, saved)
    restored = calls_per_route(emu, demo, first, "RollbackFunction")
    assert all(restored[arn] == 1 for arn in routes_of(demo)), restored
    ops = {c.operation for c in emu.recorder.calls[first:] if route_of(c)}
    assert ops == {expected_operation(demo)}


@pytest.mark.matrix
@pytest.mark.parametrize("layout", LAYOUTS)
def test_happy_path_moves_every_route_once(emu, layout):
    demo = seed(emu, layout)
    saved = actions(emu, demo)
    first = len(emu.recorder.calls)

    result = emu.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert_deployed(emu, demo, saved)
    # One call per production route (the swap) and one for the test route
    assert calls_per_route(emu, demo, first) == dict.fromkeys(routes_of(demo), 1)


@pytest.mark.matrix
@pytest.mark.parametrize("layout", LAYOUTS)
def test_manual_rollback_in_the_bake_restores_every_route(emu, layout):
    demo = seed(emu, layout, bakeSeconds=3600)
    saved = actions(emu, demo)
    arn = emu.start(demo.name, "v2")

    gate = wait_for_gate(emu, demo.name, "bake", timeout=120)
    decide(emu.store, gate.gateId, "rollback", "iam:ops", "checking the routes")
    result = emu.wait(arn)

    assert result.error == "RolledBack", result.cause
    assert_restored(emu, demo, saved)


@pytest.mark.matrix
@pytest.mark.parametrize("layout", LAYOUTS)
def test_canary_moves_every_production_route_at_each_step(emu, layout):
    demo = seed(emu, layout, **CANARY)
    saved = actions(emu, demo)
    blue, green = demo.target_groups
    first = len(emu.recorder.calls)
    arn = emu.start(demo.name, "v2")

    # During the canary step every production route sends 10% to green; the test route still reaches green
    wait_until(lambda: getattr(emu.store.open_gate_of(demo.name), "weight", None) == 10, timeout=120)
    for route in demo.production_routes:
        assert elbv2.forward_weights(emu.rule_actions(route)) == {green: 10, blue: 90}
    assert elbv2.receiving(elbv2.forward_weights(emu.rule_actions(demo.test_rule_arn))) == {green}

    result = emu.wait(arn)

    assert result.status == "SUCCEEDED", result.cause
    assert_deployed(emu, demo, saved)
    counts = calls_per_route(emu, demo, first)
    assert all(counts[route] == 2 for route in demo.production_routes), counts  # one call per route per step
    assert counts[demo.test_rule_arn] == 1
