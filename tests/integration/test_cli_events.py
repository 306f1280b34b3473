"""``bluegreen events replay`` and the reconciler's lines in ``bluegreen status``, as a user types them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_cli.main import main
from bluegreen_emulator.dataplane import Timing
from bluegreen_emulator.emulator import Emulator
from tests.integration.helpers import snapshot, wait_for_gate, wait_until

FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    with Emulator(auto_approve=False, timing=FAST) as emulator:
        monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emulator.state_machine_arn)
        monkeypatch.setenv("BLUEGREEN_TABLE", emulator.store.table.name)
        monkeypatch.setenv("BLUEGREEN_FAILED_EVENTS_QUEUE", emulator.failed_events_queue)
        yield emulator


def _fail_ends(function: str, event: dict) -> str | None:
    if function == "ExecutionEndedFunction" and event.get("detail", {}).get("status") != "RUNNING":
        return "fail"
    return None


def test_events_replay_lists_then_redelivers_a_kept_failure_once(emu, capsys):
    # Given a stopped deployment whose end event failed past its retries (kept in the queue)
    demo = emu.seed_service()
    before = snapshot(emu, demo.name)
    emu.async_lambda.faults.append(_fail_ends)
    arn = emu.start(demo.name, "v2")
    gate = wait_for_gate(emu, demo.name, "approval")
    wait_until(lambda: emu.store.get_gate(gate.gateId).ts)
    emu.client("stepfunctions").stop_execution(executionArn=arn)
    emu.wait(arn)
    emu.async_lambda.faults.remove(_fail_ends)
    assert emu.store.lock_holder(demo.name) == arn

    # When the user lists the kept failures
    assert main(["events", "replay", "--dry-run"]) == 0
    out = capsys.readouterr().out
    # Then the end event is listed, to its function, with why it failed; nothing changed
    ended = emu.function_name("ExecutionEndedFunction")
    assert f"would replay: Step Functions Execution Status Change to {ended}" in out
    assert "RetriesExhausted after 3 attempts" in out
    assert emu.store.lock_holder(demo.name) == arn

    # When they replay
    assert main(["events", "replay"]) == 0
    out = capsys.readouterr().out
    # Then it was handled (green deleted, lock released) and removed from the queue
    assert "1 replayed and removed, 0 failed again" in out
    assert snapshot(emu, demo.name) == before
    assert emu.store.lock_holder(demo.name) is None

    # And a second replay has nothing to do
    assert main(["events", "replay"]) == 0
    assert "nothing to replay" in capsys.readouterr().out


def test_status_shows_what_the_reconciler_repaired(emu, capsys):
    # Given a stopped deployment whose end event was lost, repaired by the reconciler
    demo = emu.seed_service()
    emu.async_lambda.faults.append(lambda f, e: "drop" if _fail_ends(f, e) else None)
    arn = emu.start(demo.name, "v2")
    wait_for_gate(emu, demo.name, "approval")
    emu.client("stepfunctions").stop_execution(executionArn=arn)
    emu.wait(arn)
    emu.clock.advance(600)
    emu.reconcile()

    # When the user asks for the service's status
    assert main(["status", demo.name]) == 0

    # Then the repairs are listed
    out = capsys.readouterr().out
    assert f"{demo.name}: reconciler" in out
    assert "released the lock" in out or "deleted task set" in out
