"""HTTP probe hooks × stages, and the beforeDeleteOld stage, on the emulator.

The probe function sends real HTTP requests to the emulator's load balancers on 127.0.0.1 (local/http_front.py),
routed by the live listener rules to the task sets' targets. Every test asserts the final AWS state: the task
sets, both rules, the lock and the gates.
"""

from __future__ import annotations

import json

import pytest

from .helpers import production_modify_calls, snapshot
from .test_hooks import CANARY, assert_untouched, hook

STAGES = ["afterGreenHealthy", "eachTrafficStep", "afterCutover", "beforeDeleteOld"]
BEFORE_SWAP = {"afterGreenHealthy"}


def probe(**settings):
    return {"type": "http", "name": "checkout", "path": "/checkout", "requests": 5, **settings}


def seed(emulator, stage, *hooks, **extra):
    config = {"hooks": {stage: list(hooks)}, **extra}
    if stage == "eachTrafficStep":
        config["trafficShift"] = CANARY
    return emulator.seed_service(config_overrides=config)


def probes_sent(emulator):
    """(path and Host header, status) of every request the load balancers answered."""
    return [(line.split(" ", 1)[1].split("amazonaws.com", 1)[1], status) for _, line, status in emulator.front.requests]


def assert_deployed(emulator, demo, tag="v2"):
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == [tag]
    assert emulator.production_weights(demo.name) == {demo.target_groups[1]: 100, demo.target_groups[0]: 0}
    assert emulator.store.lock_holder(demo.name) is None
    assert emulator.store.open_gate_of(demo.name) is None


# --- pass: each stage, through its own route ---------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_a_passing_probe_lets_the_deployment_through(emulator, stage):
    # Given a probe of GET /checkout whose body must name the new image
    demo = seed(emulator, stage, probe(bodyPattern=r"demo-web v2\b", maxLatencyMs=500))

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then it is deployed, and the probe went through the test route before the cutover, production's after it
    assert result.status == "SUCCEEDED", result.cause
    assert_deployed(emulator, demo)
    host = "test.demo-web.example.com" if stage in ("afterGreenHealthy", "eachTrafficStep") else "demo-web.example.com"
    assert probes_sent(emulator) == [(f"/checkout Host {host}", 200)] * 5
    assert [(h["stage"], h["kind"], h["passed"], h["invocations"]) for h in result.output["hooks"]] == [
        (stage, "http", True, 5)
    ]
    recorded = emulator.store.deployments(demo.name)[0][f"hooks_{stage}"]
    assert f"{stage} hook checkout passed" in recorded and "5/5 passed" in recorded


def test_a_probe_given_as_the_test_url_people_know(emulator):
    demo = seed(emulator, "afterGreenHealthy", {"type": "http", "url": "http://test.demo-web.example.com/checkout?x=1"})

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert probes_sent(emulator) == [("/checkout?x=1 Host test.demo-web.example.com", 200)] * 10
    assert_deployed(emulator, demo)


# --- fail before the swap: cleaned up, nobody asked ------------------------------------------------------------
@pytest.mark.parametrize(
    ("tag", "settings", "says"),
    [
        ("v2-5xx", {}, "0/5 passed (need 100%), median 0 ms, max 0 ms; 5 x status 500"),
        ("v2", {"bodyPattern": "demo-web v3"}, "5 x body did not match"),
        ("v2", {"expectedStatus": "201-204"}, "5 x status 200"),
        ("v2-slow", {"maxLatencyMs": 1000}, "max 1500 ms; 5 x slower than 1000 ms"),
        ("v2-slow", {"maxLatencyMs": 1000, "successRatio": 0.2}, "0/5 passed (need 20%)"),
        ("v2-slow", {"requestTimeoutSeconds": 1}, "5 x timed out"),
    ],
)
def test_a_failing_probe_before_approval_cleans_up_without_asking_anyone(emulator, tag, settings, says):
    demo = seed(emulator, "afterGreenHealthy", probe(**settings))
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, tag)

    assert result.outcome == "cleaned_up", result.cause
    assert result.error == "HookFailed" and says in result.cause
    assert "AwaitApproval" not in result.states and emulator.approvals == []
    assert production_modify_calls(emulator, demo.name) == 0
    assert_untouched(emulator, demo, before)


def test_an_unreachable_load_balancer_fails_the_probe():
    # Given the probe function's proxy (the emulator's way to the load balancers) refuses connections
    import socket

    from bluegreen_emulator.emulator import Emulator

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with Emulator(parameters={"ProbeProxyUrl": f"http://127.0.0.1:{port}"}) as emu:
        demo = seed(emu, "afterGreenHealthy", probe())
        before = snapshot(emu, demo.name)

        result = emu.run(demo.name, "v2")

        # Then every request failed to connect: cleaned up, production untouched
        assert result.outcome == "cleaned_up", result.cause
        assert "5 x proxy unreachable" in result.cause
        assert emu.front.requests == []
        assert_untouched(emu, demo, before)


# --- fail after the swap: rolled back in one call, blue restored exactly ------------------------------------------
@pytest.mark.parametrize("stage", ["eachTrafficStep", "afterCutover", "beforeDeleteOld"])
@pytest.mark.parametrize(
    ("tag", "settings", "says"),
    [
        ("v2", {"bodyPattern": "demo-web v3"}, "5 x body did not match"),
        ("v2-slow", {"maxLatencyMs": 1000}, "5 x slower than 1000 ms"),
    ],
)
def test_a_failing_probe_after_the_swap_rolls_back_in_one_call(emulator, stage, tag, settings, says):
    demo = seed(emulator, stage, probe(**settings))
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, tag)

    assert result.outcome == "rolled_back", result.cause
    assert "HookFailed" in result.cause and says in result.cause
    assert "DeleteOld" not in result.states
    assert ("Bake" in result.states) is (stage == "beforeDeleteOld")  # beforeDeleteOld runs after the bake
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    expected = [10, 0] if stage == "eachTrafficStep" else [100, 0]
    assert [weight for _, weight in emulator.weight_steps(demo.name)] == expected
    assert_untouched(emulator, demo, before)


# --- beforeDeleteOld with the other hook kinds, and after keep-old -----------------------------------------------
def test_a_failing_lambda_hook_before_delete_old_restores_blue_exactly(emulator):
    demo = seed(emulator, "beforeDeleteOld", hook(emulator, "fail"))
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.outcome == "rolled_back", result.cause
    assert result.states[-5:] == ["KeepOldEnabled", "DeleteOldHooks", "Rollback", "RollbackDraining", "RolledBack"]
    assert "production goes back to blue" in result.cause
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    assert_untouched(emulator, demo, before)
    # The Slack thread and the history say which hook failed at which stage
    line = "beforeDeleteOld hook bluegreen-hook-demo FAILED"
    assert line in emulator.store.deployments(demo.name)[0]["hooks_beforeDeleteOld"]
    assert any(line in json.dumps(c.args) for c in emulator.slack.calls_to("chat.postMessage"))


def test_a_passing_lambda_hook_before_delete_old_deploys(emulator):
    demo = seed(emulator, "beforeDeleteOld", hook(emulator, "pass"))

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert result.states[-4:] == ["DeleteOldHooks", "DeleteOldHooksDone", "DeleteOld", "Deployed"]
    assert emulator.dispatcher.invocations["bluegreen-hook-demo"] == 1
    assert [(h["stage"], h["passed"]) for h in result.output["hooks"]] == [("beforeDeleteOld", True)]
    assert_deployed(emulator, demo)


def test_before_delete_old_runs_after_the_keep_old_hold_too(emulator):
    # Given a service that keeps blue for a minute after the bake, then finishes
    keep_old = {"enabled": True, "timeoutSeconds": 60, "onTimeout": "finish"}
    demo = seed(emulator, "beforeDeleteOld", probe(bodyPattern="demo-web v3"), keepOld=keep_old)
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    # Then the probe ran after the hold and its failure rolled back: blue restored exactly
    assert result.outcome == "rolled_back", result.cause
    assert result.states.index("HoldOld") < result.states.index("DeleteOldHooks")
    assert_untouched(emulator, demo, before)


def test_no_before_delete_old_hooks_cost_one_transition(emulator):
    demo = emulator.seed_service()

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED"
    assert result.states.count("DeleteOldHooks") == 1
    assert emulator.front.requests == []


# --- bad configuration: refused by Validate, nothing created ----------------------------------------------------
@pytest.mark.parametrize(
    ("hooks", "error", "says"),
    [
        (
            {"afterGreenHealthy": [probe(host="demo-web.example.com")]},
            "ProbeOutsideRoutes",
            "matches host test.demo-web.example.com, not 'demo-web.example.com'",
        ),
        (
            {"beforeDeleteOld": [probe(host="test.demo-web.example.com")]},
            "ProbeOutsideRoutes",
            "production route",
        ),
        ({"afterCutover": [probe(requests=0)]}, "HookConfigOutOfRange", "requests"),
        ({"afterCutover": [probe(successRatio=2)]}, "HookConfigOutOfRange", "successRatio"),
        (
            {"afterCutover": [{"type": "http", "url": "http://elsewhere.example.com/"}]},
            "ProbeOutsideRoutes",
            "not 'elsewhere.example.com'",
        ),
        (
            {"afterGreenHealthy": [{"type": "http", "url": "http://test.demo-web.example.com:8080/checkout"}]},
            "ProbeOutsideRoutes",
            "listener is http on port 80",
        ),
        ({"afterCutover": [probe(url="http://demo-web.example.com/")]}, "HookConfigOutOfRange", "not both"),
    ],
)
def test_a_bad_probe_is_refused_before_anything_changes(emulator, hooks, error, says):
    demo = emulator.seed_service(config_overrides={"hooks": hooks})
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2")

    assert result.error == error, result.cause
    assert says in result.cause
    assert result.states[:2] == ["Validate", "ValidationFailed"]
    assert emulator.front.requests == []
    assert_untouched(emulator, demo, before)
