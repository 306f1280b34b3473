"""A release never passes a watch (traffic step, bake, keep-old hold) with a watched alarm in ALARM, whether or not
the alarm's EventBridge event arrived: the end of each watch reads the alarms again (bluegreen.watch_end).

The alarm rule's deliveries are lost by disabling it (the emulator honours DisableRule as EventBridge does).
"""

from __future__ import annotations

from bluegreen.aws.decisions import decide
from bluegreen.domain.gates import GateStatus
from bluegreen_emulator import patches

from .helpers import snapshot, wait_for_gate

KEEP_OLD = {"keepOld": {"enabled": True, "timeoutSeconds": 7 * 86400}}
CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}


def alarm_went_to_alarm(emulator, alarm_name: str) -> bool:
    return (alarm_name, "ALARM") in [(name, state) for _, name, state in emulator.plane.alarm_changes]


def calls(emulator, function: str, operation: str) -> int:
    return sum(1 for c in emulator.recorder.calls if c.function == function and c.operation == operation)


def alarm_events_handled(emulator) -> int:
    return sum(1 for call in emulator.recorder.calls if call.function == "AlarmEventFunction")


def test_a_disabled_rule_delivers_nothing_and_enabling_it_resumes_deliveries(emulator):
    # Given the alarm rule is disabled
    demo = emulator.seed_service()
    rules = emulator.set_alarm_events(False)
    events = emulator.client("events")
    assert rules and all(events.describe_rule(Name=rule)["State"] == "DISABLED" for rule in rules)
    cloudwatch = emulator.client("cloudwatch")

    # When the alarm goes to ALARM, nothing reaches the alarm handler
    cloudwatch.set_alarm_state(AlarmName=demo.alarm_name, StateValue="ALARM", StateReason="test: lost")
    patches.DELIVERIES.wait_idle(timeout=10)
    assert alarm_events_handled(emulator) == 0

    # When the rule is enabled again, the next change is delivered
    emulator.set_alarm_events(True)
    cloudwatch.set_alarm_state(AlarmName=demo.alarm_name, StateValue="OK", StateReason="test: ok")
    cloudwatch.set_alarm_state(AlarmName=demo.alarm_name, StateValue="ALARM", StateReason="test: delivered")
    patches.DELIVERIES.wait_idle(timeout=10)
    assert alarm_events_handled(emulator) > 0


def test_an_alarm_whose_event_is_lost_during_the_bake_rolls_back_at_the_end_of_the_bake(emulator):
    # Given v1 in production and the alarm rule's deliveries lost
    demo = emulator.seed_service()
    before = snapshot(emulator, demo.name)
    emulator.set_alarm_events(False)

    # When v2-5xx is deployed: its 5xx alarm goes to ALARM during the bake and stays there, and no event arrives
    result = emulator.run(demo.name, "v2-5xx")

    # Then the bake's end found the alarm in ALARM and rolled back: production on blue, green deleted
    assert alarm_went_to_alarm(emulator, demo.alarm_name)
    assert alarm_events_handled(emulator) == 0
    assert result.error == "RolledBack", result.cause
    assert f"Alarm {demo.alarm_name} was found in ALARM at the end of the bake" in result.cause
    assert "Threshold Crossed" in result.cause  # CloudWatch's state reason
    assert snapshot(emulator, demo.name) == before
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]
    assert emulator.store.lock_holder(demo.name) is None
    # ... through the same Rollback as an alarm event, from DeleteOld, before blue could be deleted
    assert result.states[-4:] == ["DeleteOld", "Rollback", "RollbackDraining", "RolledBack"]
    assert not any(
        c.operation == "DeleteTaskSet" and c.function == "DeleteOldFunction" for c in emulator.recorder.calls
    )
    # ... at the cost of one DescribeAlarms call there
    reads = [
        c for c in emulator.recorder.calls if c.operation == "DescribeAlarms" and c.function == "DeleteOldFunction"
    ]
    assert len(reads) == 1


def test_an_alarm_whose_event_is_lost_during_a_canary_step_rolls_back_instead_of_shifting(emulator):
    # Given a canary (10% for 5 minutes), v2-5xx failing from 10%, and the alarm rule's deliveries lost
    demo = emulator.seed_service(config_overrides=CANARY)
    before = snapshot(emulator, demo.name)
    emulator.plane.alarm_min_weight = 10
    emulator.set_alarm_events(False)

    # When it is deployed
    result = emulator.run(demo.name, "v2-5xx")

    # Then the step's end found the alarm in ALARM and restored 100% blue; production never went past 10%
    assert alarm_went_to_alarm(emulator, demo.alarm_name)
    assert result.error == "RolledBack", result.cause
    assert f"Alarm {demo.alarm_name} was found in ALARM at the end of traffic step 1 (10% on green)" in result.cause
    assert [weight for _, weight in emulator.weight_steps(demo.name)] == [10, 0]
    assert snapshot(emulator, demo.name) == before
    assert "Bake" not in result.states
    assert result.states[-4:] == ["ShiftTraffic", "Rollback", "RollbackDraining", "RolledBack"]


def test_keep_old_does_not_start_when_the_bake_ends_with_an_alarm_in_alarm(emulator):
    # Given the service keeps the old task set after the bake, and the alarm rule's deliveries are lost
    demo = emulator.seed_service(config_overrides=KEEP_OLD)
    before = snapshot(emulator, demo.name)
    emulator.set_alarm_events(False)

    # When v2-5xx fires its alarm during the bake
    result = emulator.run(demo.name, "v2-5xx")

    # Then the hold never opened: rolled back at the bake's end, blue serving, green deleted
    assert result.error == "RolledBack", result.cause
    assert f"Alarm {demo.alarm_name} was found in ALARM at the end of the bake" in result.cause
    assert result.states[-4:] == ["HoldOld", "Rollback", "RollbackDraining", "RolledBack"]
    assert snapshot(emulator, demo.name) == before


def test_an_alarm_in_alarm_when_keep_old_is_finished_rolls_back_instead_of_deleting_blue(emulator):
    # Given a healthy v2 held in keep-old (blue still behind the test rule), the alarm rule's deliveries lost
    demo = emulator.seed_service(config_overrides=KEEP_OLD)
    before = snapshot(emulator, demo.name)
    emulator.set_alarm_events(False)
    arn = emulator.start(demo.name, "v2")
    gate = wait_for_gate(emulator, demo.name, "keep-old")

    # When the alarm goes to ALARM during the hold (nobody is told) and someone clicks Finish
    emulator.client("cloudwatch").set_alarm_state(
        AlarmName=demo.alarm_name, StateValue="ALARM", StateReason="operator: checkout errors"
    )
    decide(emulator.store, gate.gateId, "finish", "slack:U7")
    result = emulator.wait(arn)

    # Then DeleteOld did not delete blue: it rolled back, production on blue again, green deleted
    assert result.error == "RolledBack", result.cause
    assert (
        f"Alarm {demo.alarm_name} was found in ALARM at the end of the keep-old hold: operator: checkout errors"
        in result.cause
    )
    assert result.states[-4:] == ["DeleteOld", "Rollback", "RollbackDraining", "RolledBack"]
    assert snapshot(emulator, demo.name) == before
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v1"]


def test_the_bake_gate_is_closed_as_rolled_back_by_the_alarm(emulator):
    # Given a lost alarm event during the bake
    demo = emulator.seed_service(config_overrides={"bakeSeconds": 600})
    emulator.set_alarm_events(False)
    arn = emulator.start(demo.name, "v2-5xx")
    gate = wait_for_gate(emulator, demo.name, "bake")

    # When the release ends
    emulator.wait(arn)

    # Then the bake's gate (Slack message, bluegreen status) says the alarm rolled it back, and why
    closed = emulator.store.get_gate(gate.gateId)
    assert closed is not None and closed.status == GateStatus.ALARM
    assert closed.decidedBy == f"alarm:{demo.alarm_name}"
    assert "found in ALARM at the end of the bake" in (closed.reason or "")
