"""Hooks never outlive the RunHooks function: a stage longer than one invocation goes on in the next.

RunHooks runs under a 900 s Lambda timeout, and a stage holds up to five hooks of up to 840 s each. The emulator
ends an invocation at its function's template Timeout (simulated time) and Step Functions sees ``Lambda.Unknown``,
as in AWS; RunHooks runs one hook per invocation and hands any wait longer than the time it has left to a Wait
state, so a long stage passes, with each hook invoked exactly as often as it asked.
"""

from __future__ import annotations

from bluegreen.steps import run_hooks


def long_hook(emulator, name, rounds=10):
    details = {"behaviour": "long", "rounds": rounds}
    return {"functionArn": emulator.hook_arn(), "name": name, "timeoutSeconds": 840, "hookDetails": details}


def test_a_stage_of_hooks_longer_than_one_invocation_passes_without_a_timeout_or_a_re_run(emulator):
    # Given three hooks of ten minutes each before approval (half an hour, twice RunHooks' 900 s timeout)
    hooks = [long_hook(emulator, f"suite-{n}") for n in range(3)]
    demo = emulator.seed_service(config_overrides={"hooks": {"afterGreenHealthy": hooks}})

    # When the deployment runs
    result = emulator.run(demo.name, "v2")

    # Then it succeeds, no RunHooks invocation ran into its timeout, and no hook was invoked again from the start:
    # each answered IN_PROGRESS ten times, then SUCCEEDED (11 calls each)
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.dispatcher.timeouts["RunHooksFunction"] == 0
    assert emulator.dispatcher.invocations["bluegreen-hook-demo"] == 3 * 11
    history = emulator.store.deployments(demo.name)[0]["hooks_afterGreenHealthy"]
    assert [line.split(" passed in ")[0] for line in history.splitlines()] == [
        f"afterGreenHealthy hook suite-{n}" for n in range(3)
    ]
    # ... the state machine went on with the next hook after a Wait (one loop per further hook)
    assert result.states.count("GreenHooksWait") == 2
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]


def test_a_hook_wait_longer_than_the_invocation_has_left_is_handed_to_the_wait_state(emulator, monkeypatch):
    # Given a hook of about 13 minutes, and RunHooks keeping more time in hand than it has after ten minutes
    monkeypatch.setattr(run_hooks, "RESERVE_SECONDS", 300.0)
    hook = long_hook(emulator, "soak", rounds=13)
    demo = emulator.seed_service(config_overrides={"hooks": {"afterCutover": [hook]}})

    # When the deployment runs
    result = emulator.run(demo.name, "v2")

    # Then the hook's polls went on in a second invocation after a Wait, and it passed once
    assert result.status == "SUCCEEDED", result.cause
    assert result.states.count("CutoverHooksWait") == 1
    assert result.states.count("CutoverHooks") == 2
    assert emulator.dispatcher.timeouts["RunHooksFunction"] == 0
    assert emulator.dispatcher.invocations["bluegreen-hook-demo"] == 14
    assert "afterCutover hook soak passed" in emulator.store.deployments(demo.name)[0]["hooks_afterCutover"]


def test_an_invocation_past_its_timeout_is_lambda_unknown_to_the_state_machine(emulator, monkeypatch):
    # Given a RunHooks that would never hand a wait back (as the old RunHooks, which polled every hook of a stage in
    # one invocation) and a stage of three ten-minute hooks in one invocation
    monkeypatch.setattr(run_hooks, "RESERVE_SECONDS", -10_000.0)
    original = run_hooks.run

    def all_in_one(event, deps):  # noqa: ANN001, ANN202 - the step's signature
        report = original(event, deps)
        while report.pending is not None:
            event = event.model_copy(update={"hooks": report})
            report = original(event, deps)
        return report

    monkeypatch.setattr(run_hooks, "run", all_in_one)
    hooks = [long_hook(emulator, f"suite-{n}") for n in range(3)]
    demo = emulator.seed_service(config_overrides={"hooks": {"afterGreenHealthy": hooks}})

    # When the deployment runs
    result = emulator.run(demo.name, "v2")

    # Then the emulator ended each invocation at the function's 900 s Timeout, Step Functions saw Lambda.Unknown
    # (retried, then caught), and the deployment was cleaned up
    assert result.outcome == "cleaned_up", result.cause
    assert result.error == "Lambda.Unknown"
    assert "Task timed out after 900.00 seconds" in result.cause
    assert emulator.dispatcher.timeouts["RunHooksFunction"] == 7  # the first attempt and six retries
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
