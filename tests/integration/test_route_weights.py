"""The emulator's traffic figures (weight steps, rollback reaction) follow every production route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_emulator.emulator import Emulator, route_of

CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_weight_steps_and_reaction_follow_every_production_route(emu):
    # Given a service with two production rules (web and api host names), a 10 % canary
    demo = emu.seed_service("w1-several", layout="several-rules", config_overrides=CANARY)
    web, api = demo.production_routes
    saved = {route: emu.rule_actions(route) for route in (web, api)}

    # When v2-5xx fires the alarm at 10 % and the deployment rolls back
    result = emu.run(demo.name, "v2-5xx")
    assert result.error == "RolledBack", result.cause

    # Then each route went to 10 % then back to 0 %, one call each per step
    per_route = emu.route_weight_steps(demo.name)
    assert [w for _, w in per_route[web]] == [10, 0]
    assert [w for _, w in per_route[api]] == [10, 0]
    # and production's steps count once every route is there: at the later of the two routes' calls
    steps = emu.weight_steps(demo.name)
    assert [w for _, w in steps] == [10, 0]
    assert [at for at, _ in steps] == [max(per_route[web][i][0], per_route[api][i][0]) for i in range(2)]
    # and the rollback reaction runs to the call that restored the last route
    restored = max(c.at for c in emu.recorder.calls if c.function == "RollbackFunction" and route_of(c) in (web, api))
    alarm = min(at for at, name, state in emu.plane.alarm_changes if name == demo.alarm_name and state == "ALARM")
    assert emu.rollback_reaction(demo.name) == round(restored - alarm, 3)
    # and both routes are back to their saved actions
    assert {route: emu.rule_actions(route) for route in (web, api)} == saved
