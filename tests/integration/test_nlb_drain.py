"""Behind a Network Load Balancer, a rollback leaves green its open connections for ``nlbDrainSeconds``.

An NLB applies a listener change to new connections only: existing ones stay on their target. The emulator's
load balancers model that (a long-lived connection is bound to its target until the target's task stops). A
Rollback restores the listeners at once, then the state machine waits (a Wait state, simulated time) before
RollbackAfterDrain deletes green, so connections open on green are not cut the moment production goes back.
"""

from __future__ import annotations

from typing import Any

import pytest


def watch_rollback(emulator, demo) -> dict[str, Any]:  # noqa: ANN001 - the emulator and its demo service
    """Open a connection on green during the bake; note when Rollback restores production and deletes green."""
    listener = demo.production_routes[0]
    seen: dict[str, Any] = {}

    def before(call) -> None:  # noqa: ANN001 - the recorder's ApiCall
        if call.function == "BakeFunction" and "connection" not in seen:
            seen["connection"] = emulator.front.connect(listener)  # production is on green now
        if call.function == "RollbackFunction" and call.operation == "ModifyListener" and "restored" not in seen:
            seen["restored"] = call.at
        if call.function == "RollbackFunction" and call.operation == "DeleteTaskSet" and "deleted" not in seen:
            seen["deleted"] = call.at
            seen["alive_at_delete"] = emulator.front.alive(seen["connection"])
            seen["new_connection"] = emulator.front.connect(listener)

    emulator.recorder.before.append(before)
    return seen


@pytest.mark.parametrize(
    ("drain", "alive"),
    [(None, True), (0, False)],
    ids=["default 600s drain", "no drain (the defect: green deleted under its connections)"],
)
def test_an_nlb_rollback_deletes_green_only_after_its_connections_had_the_drain_time(emulator, drain, alive):
    # Given a service behind an NLB whose v2 fires the alarm in the bake
    config: dict[str, Any] = {"bakeSeconds": 3600}
    if drain is not None:
        config["nlbDrainSeconds"] = drain
    demo = emulator.seed_service("nlbweb", layout="nlb", config_overrides=config)
    blue_group, green_group = demo.target_groups
    seen = watch_rollback(emulator, demo)

    # When the deployment rolls back
    result = emulator.run(demo.name, "v2-5xx")

    # Then production went back to blue, and the connection opened on green during the bake was on green
    assert result.error == "RolledBack", result.cause
    assert seen["connection"].group == green_group
    waited = seen["deleted"] - seen["restored"]
    if alive:
        # ... green was deleted only after the drain wait (a Wait state), so that connection lived until then,
        # while new connections went to blue at once
        assert waited >= 600
        assert result.states[-4:] == ["RollbackDraining", "RollbackDrain", "RollbackAfterDrain", "RolledBack"]
        assert seen["alive_at_delete"] is True
    else:
        # ... without the wait, green is deleted with the restore: the connection is cut then
        assert waited < 60
        assert "RollbackDrain" not in result.states
    assert seen["new_connection"].group == blue_group
    assert not emulator.front.alive(seen["connection"])  # green is gone at the end
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
    assert emulator.store.lock_holder(demo.name) is None


def test_an_alb_rollback_deletes_green_at_once(emulator):
    # Given a service behind an ALB (a listener rule change applies to every next request)
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 3600})

    # When its deployment rolls back
    result = emulator.run(demo.name, "v2-5xx")

    # Then there is no drain wait
    assert result.error == "RolledBack", result.cause
    assert result.states[-3:] == ["Rollback", "RollbackDraining", "RolledBack"]
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
