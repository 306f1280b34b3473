"""Event chaos: lost, duplicated, delayed and failing deliveries; nothing left behind once replay and reconciler ran."""

import pytest

from bluegreen_emulator import lost_events


@pytest.mark.matrix
def test_no_lost_duplicated_or_late_event_leaves_debris(record_property):
    # Given every case of lost, duplicated, delayed, undeliverable or failing deliveries of execution
    # status changes and ECR pushes
    # When each deployment runs, then the late events arrive, the kept ones are replayed and the reconciler runs
    report = lost_events.run_suite()

    # Then each deployment ended as it should and nothing was left behind
    record_property("summary", report.summary())
    for line in report.wrong_outcome + report.debris:
        record_property("violation", line)
    assert report.runs == len(lost_events.CASES)
    assert report.lost > 0  # the suite did lose events
    assert report.wrong_outcome == []
    assert report.debris == []
    assert report.unseen_reported >= 1  # a dropped push is reported by the reconciler


@pytest.mark.matrix
def test_a_lost_alarm_event_never_leaves_a_release_in_production_with_its_alarm_in_alarm(record_property):
    # Given a release that fires its alarm during the bake, whose alarm event is dropped (or fails past its retries)
    report = lost_events.run_suite(cases=lost_events.ALARM_CASES)

    # Then it is rolled back all the same, and nothing is left behind
    record_property("summary", report.summary())
    assert report.alarm_in_production == []
    assert report.wrong_outcome == []
    assert report.debris == []
