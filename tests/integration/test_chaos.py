"""Data-plane chaos: every data-plane event at every phase of a deployment; no spurious rollback, no debris."""

import pytest

from bluegreen_emulator import chaos


@pytest.mark.matrix
def test_no_data_plane_event_rolls_back_a_healthy_release_or_strands_anything(record_property):
    # Given every data-plane event (crash+replace, blue replaced, slow drain, scale-out/in, a flap,
    # eventual consistency) injected at every phase of the happy and canary deployments
    # When each deployment runs
    report = chaos.run_suite()

    # Then every healthy release is deployed, and nothing is ever stranded or left behind
    record_property("summary", report.summary())  # printed at the end of the run (tests/conftest.py)
    for line in report.spurious_rollbacks + report.violations + report.debris:
        record_property("violation", line)
    assert report.runs == sum(len(phases) for _, phases in chaos.SCENARIOS.values()) * len(chaos.EVENTS)
    assert report.not_injected == []  # every event found something to act on
    assert report.events == report.runs
    assert report.spurious_rollbacks == []
    assert report.violations == []
    assert report.debris == []
