"""Approval, event-driven bake, keep-old hold, manual rollback and the per-service lock, on the emulator."""

from __future__ import annotations

import pytest

from bluegreen.aws.decisions import decide
from bluegreen.domain.errors import AlreadyDecided
from bluegreen_emulator.emulator import Emulator

from .helpers import fail_call, production_modify_calls, snapshot, wait_for_gate, wait_until

DAY = 86400


@pytest.fixture
def manual():
    """An emulator where nobody approves automatically."""
    with Emulator(auto_approve=False) as emu:
        yield emu


# --- approval ------------------------------------------------------------------------------
def test_approval_holds_green_until_approved(manual):
    demo = manual.seed_service()
    arn = manual.start(demo.name, "v2")

    gate = wait_for_gate(manual, demo.name, "approval")
    # While waiting: green runs behind the test rule, production is untouched
    assert gate.imageDigest == demo.digests["v2"]
    assert gate.testUrl == "https://test.demo-web.example.com/"
    assert gate.taskToken and gate.taskToken not in gate.gateId
    assert len(manual.task_sets(demo.name)) == 2
    assert manual.production_weights(demo.name) == {demo.target_groups[0]: 1}

    decide(manual.store, gate.gateId, "approve", "iam:alice", "QA signed off")
    result = manual.wait(arn)

    assert result.status == "SUCCEEDED", result.cause
    assert manual.store.get_gate(gate.gateId).status == "APPROVED"
    assert manual.store.get_gate(gate.gateId).decidedBy == "iam:alice"
    assert manual.store.lock_holder(demo.name) is None


def test_reject_deletes_green_and_leaves_production_untouched(manual):
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    arn = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")

    decide(manual.store, gate.gateId, "reject", "slack:U123", "checkout page broken")
    result = manual.wait(arn)

    assert (result.status, result.error) == ("FAILED", "Rejected")
    assert "slack:U123" in result.cause and "checkout page broken" in result.cause
    assert snapshot(manual, demo.name) == before
    assert manual.store.lock_holder(demo.name) is None
    # A second answer changes nothing and calls Step Functions no more
    with pytest.raises(AlreadyDecided, match="rejected by slack:U123"):
        decide(manual.store, gate.gateId, "approve", "slack:U999")


def test_approval_timeout_counts_as_rejection(manual):
    demo = manual.seed_service(config_overrides={"approval": {"timeoutSeconds": 30 * DAY}})
    before = snapshot(manual, demo.name)

    result = manual.run(demo.name, "v2")

    assert (result.status, result.error) == ("FAILED", "ApprovalTimedOut")
    assert str(30 * DAY) in result.cause
    assert snapshot(manual, demo.name) == before
    assert manual.store.open_gate_of(demo.name) is None
    assert manual.clock.elapsed >= 30 * DAY


def test_a_held_approval_costs_one_transition_however_long(manual):
    # The longest approval a deployment may have: every wait together stays under Step Functions' one year.
    demo = manual.seed_service(config_overrides={"approval": {"timeoutSeconds": 360 * DAY}})

    def deploy(hold_seconds: float, tag: str) -> int:
        arn = manual.start(demo.name, tag)
        gate = wait_for_gate(manual, demo.name, "approval")
        start = manual.clock.elapsed
        wait_until(lambda: manual.clock.elapsed - start >= hold_seconds)
        decide(manual.store, gate.gateId, "approve", "iam:ops")
        result = manual.wait(arn)
        assert result.status == "SUCCEEDED", result.cause
        return result.state_transitions

    short = deploy(0, "v2")
    long = deploy(60 * DAY, "v3")
    assert long == short


def test_approval_can_be_skipped_per_service():
    with Emulator(auto_approve=False) as emu:
        demo = emu.seed_service(config_overrides={"approval": {"required": False}})
        result = emu.run(demo.name, "v2")
    assert result.status == "SUCCEEDED"
    assert "AwaitApproval" not in result.states


# --- bake: alarms and manual rollback ----------------------------------------------------
def test_alarm_event_rolls_back_within_seconds(emulator):
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 3600})
    before = snapshot(emulator, demo.name)

    result = emulator.run(demo.name, "v2-5xx")

    assert result.error == "RolledBack"
    assert f"Alarm {demo.alarm_name} went to ALARM" in result.cause
    assert snapshot(emulator, demo.name) == before
    # Restored by the Rollback in one call, seconds after the alarm (no polling).
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1
    assert emulator.rollback_reaction(demo.name) < 5
    # A one-hour bake was not polled: the bake is one task whatever its length.
    # + GreenHooks and CutoverHooks; then + CutoverHooksDone and RollbackDraining (two Choice states)
    assert result.state_transitions <= 19
    assert emulator.store.lock_holder(demo.name) is None


def test_alarm_already_firing_when_the_bake_starts(emulator):
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)
    emulator.plane.forced_alarms.add(demo.alarm_name)

    result = emulator.run(demo.name, "v2")

    assert result.error == "RolledBack"
    assert "already in ALARM when the bake started" in result.cause
    assert snapshot(emulator, demo.name) == before


def test_alarm_of_another_service_is_ignored(emulator):
    web = emulator.seed_service()
    emulator.seed_service("api")
    arn = emulator.start(web.name, "v2")
    wait_for_gate(emulator, web.name, "bake")
    emulator.plane.forced_alarms.add("api-5xx")  # fires an EventBridge event nobody watches

    result = emulator.wait(arn)

    assert result.status == "SUCCEEDED", result.cause


def test_manual_rollback_during_the_bake(emulator):
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 7200})
    before = snapshot(emulator, demo.name)
    arn = emulator.start(demo.name, "v2")
    gate = wait_for_gate(emulator, demo.name, "bake")

    decide(emulator.store, gate.gateId, "rollback", "slack:U42", "latency looks off")
    result = emulator.wait(arn)

    assert result.error == "RolledBack"
    assert "ManualRollback" in result.cause and "slack:U42" in result.cause and "latency looks off" in result.cause
    assert snapshot(emulator, demo.name) == before


def test_rollback_completes_when_retried_after_a_partial_failure(emulator):
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)
    # The first Rollback attempt restores the rules, then fails on the primary task set call.
    fail_call(emulator, "UpdateServicePrimaryTaskSet", "ThrottlingException", times=1, function="RollbackFunction")

    result = emulator.run(demo.name, "v2-5xx")

    assert result.error == "RolledBack"
    assert snapshot(emulator, demo.name) == before
    # The retry found the rules already restored: production was switched back exactly once.
    assert production_modify_calls(emulator, demo.name, "RollbackFunction") == 1


# --- keep the old task set ---------------------------------------------------------------
KEEP_OLD = {"keepOld": {"enabled": True, "timeoutSeconds": 7 * DAY}}


def test_keep_old_holds_blue_until_finish(emulator):
    demo = emulator.seed_service(config_overrides=KEEP_OLD)
    arn = emulator.start(demo.name, "v2")
    gate = wait_for_gate(emulator, demo.name, "keep-old")

    # Production is on green; blue still runs behind the test rule
    assert emulator.production_weights(demo.name) == {demo.target_groups[1]: 100, demo.target_groups[0]: 0}
    assert {ts["imageTag"] for ts in emulator.task_sets(demo.name)} == {"v1", "v2"}

    decide(emulator.store, gate.gateId, "finish", "iam:ops")
    result = emulator.wait(arn)

    assert result.status == "SUCCEEDED"
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]


def test_keep_old_rollback(emulator):
    demo = emulator.seed_service(config_overrides=KEEP_OLD)
    before = snapshot(emulator, demo.name)
    arn = emulator.start(demo.name, "v2")
    gate = wait_for_gate(emulator, demo.name, "keep-old")

    decide(emulator.store, gate.gateId, "rollback", "slack:U7", "customer complaint")
    result = emulator.wait(arn)

    assert result.error == "RolledBack"
    assert snapshot(emulator, demo.name) == before


@pytest.mark.parametrize(("on_timeout", "outcome"), [("finish", "deployed"), ("rollback", "rolled_back")])
def test_keep_old_timeout(emulator, on_timeout, outcome):
    demo = emulator.seed_service(
        config_overrides={"keepOld": {"enabled": True, "timeoutSeconds": 3600, "onTimeout": on_timeout}}
    )
    result = emulator.run(demo.name, "v2")
    assert result.outcome == outcome
    assert len(emulator.task_sets(demo.name)) == 1


# --- one deployment per service ----------------------------------------------------------
def test_second_deployment_of_a_service_fails_fast(manual):
    demo = manual.seed_service()
    first = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")

    second = manual.wait(manual.start(demo.name, "v3"))

    assert (second.status, second.error) == ("FAILED", "DeploymentInProgress")
    assert first in second.cause
    assert second.states == ["Validate", "ValidationFailed", "Failed"]
    # The first deployment is unaffected and still holds the lock
    assert manual.store.lock_holder(demo.name) == first
    decide(manual.store, gate.gateId, "approve", "iam:ops")
    assert manual.wait(first).status == "SUCCEEDED"
    assert manual.store.lock_holder(demo.name) is None


def test_two_services_deploy_in_parallel(emulator):
    web = emulator.seed_service()
    api = emulator.seed_service("api")
    arns = [emulator.start(web.name, "v2"), emulator.start(api.name, "v3")]
    results = [emulator.wait(arn) for arn in arns]
    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert emulator.task_sets(api.name)[0]["imageTag"] == "v3"


def test_stale_lock_is_taken_over(emulator):
    demo = emulator.seed_service()
    stale = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:crashed-long-ago"
    emulator.store.table.put_item(Item={"pk": f"SERVICE#{demo.name}", "sk": "LOCK", "executionArn": stale})

    result = emulator.run(demo.name, "v2")

    assert result.status == "SUCCEEDED", result.cause
    assert "Taking over a stale deployment lock" in emulator.log_stream.getvalue()


# --- Slack --------------------------------------------------------------------------------
def _blocks_actions(blocks: list | None) -> list[dict]:
    return [element for block in blocks or [] if block.get("type") == "actions" for element in block["elements"]]


def test_slack_approval_message_buttons_and_thread(emulator):
    # The default emulator approves by clicking Approve in Slack (a signed request to the real callback).
    demo = emulator.seed_service()
    result = emulator.run(demo.name, "v2")
    assert result.status == "SUCCEEDED", result.cause
    slack = emulator.slack

    posts = slack.calls_to("chat.postMessage")
    root = posts[0]
    assert "Deploying demo-web v2" in root.args["text"] and "thread_ts" not in root.args
    gate_posts = [c for c in posts if _blocks_actions(c.args.get("blocks"))]
    approval = next(
        c for c in gate_posts if {b["action_id"] for b in _blocks_actions(c.args["blocks"])} == {"approve", "reject"}
    )
    gate_id = _blocks_actions(approval.args["blocks"])[0]["value"]
    assert gate_id.startswith("ap-")  # the button carries the short id, never the task token
    # After the click the approval message is updated in place: decided by the user, no buttons left
    update = next(c for c in slack.calls_to("chat.update") if "Approved" in c.args["text"])
    assert not _blocks_actions(update.args["blocks"])
    assert emulator.store.get_gate(gate_id).decidedBy == "slack:U0DEMO"
    # Milestones go to the deployment's thread
    thread = [c.args["text"] for c in posts if c.args.get("thread_ts")]
    assert any("approval" in text for text in thread)
    assert any(text.startswith("Deployed v2") for text in thread)


def test_click_by_someone_not_on_the_allowlist_changes_nothing(manual):
    demo = manual.seed_service()
    arn = manual.start(demo.name, "v2")
    wait_until(lambda: getattr(manual.store.open_gate_of(demo.name), "ts", None))
    gate = manual.store.open_gate_of(demo.name)

    answer = manual.click(gate, "approve", user="U0INTRUDER")

    assert answer["statusCode"] == 200
    assert manual.store.get_gate(gate.gateId).status == "PENDING"
    refusal = manual.slack.responses()[-1]
    assert "not allowed" in refusal.args["text"].lower() or "not on" in refusal.args["text"].lower()
    manual.click(gate, "approve")
    assert manual.wait(arn).status == "SUCCEEDED"


def test_slack_down_never_blocks_a_deployment(manual):
    demo = manual.seed_service()
    manual.slack.fail_next(1000)
    arn = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")  # stored before the Slack message is tried
    with manual.clock.hold():  # keep the 7-day approval from running out while Slack fails
        wait_until(lambda: manual.store.get_gate(gate.gateId).notificationError)
        decide(manual.store, gate.gateId, "approve", "iam:ops")  # what `bluegreen approve` does
    result = manual.wait(arn)

    assert result.status == "SUCCEEDED", result.cause
    approval_output = next(
        e
        for e in result.events
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "AwaitApproval"
    )
    assert "Slack message failed" in approval_output["stateExitedEventDetails"]["output"]


def test_a_year_long_timeout_still_ends_far_into_simulated_time():
    # Regression: with a large clock offset, floating-point steps towards a deadline used to stall forever.
    with Emulator(auto_approve=False) as emu:
        emu.clock.advance(400 * DAY)
        demo = emu.seed_service(config_overrides={"approval": {"timeoutSeconds": 360 * DAY}})
        result = emu.run(demo.name, "v2")
    assert (result.status, result.error) == ("FAILED", "ApprovalTimedOut")
