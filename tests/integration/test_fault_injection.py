"""Every AWS call site of a full deployment, failed once and failed for good: production is never stranded."""

import pytest

from bluegreen_emulator import faults


@pytest.mark.matrix
def test_no_fault_strands_production(record_property):
    report = faults.run_suite()

    record_property("summary", report.summary())  # printed at the end of the run (tests/conftest.py)
    for violation in report.violations:
        record_property("violation", violation)
    assert len(report.points) >= 25  # every handler of the happy path, each of its AWS operations
    assert report.injected >= 2 * len(report.points)
    transient = [run for run in report.runs if not run["persistent"]]
    assert all(run["outcome"] == "deployed" for run in transient)
    uncaught = report.uncaught
    assert uncaught is not None
    stops = set(uncaught.problems)
    assert [violation for violation in report.violations if violation not in stops] == []
    # Pushes during a deployment were deployed or superseded; racing clicks were all told the truth.
    assert uncaught.pushes == 3 and uncaught.pushes_lost == 0
    assert uncaught.clicks > 0 and uncaught.false_outcomes == 0
    # Executions stopped after every call site (and one timed out) leave nothing behind.
    assert uncaught.ended >= len(report.points) // 2
    # (a stop while CreateGreen runs, or before ECS lists the new task set, included: green is recorded first)
    assert uncaught.cleaned == uncaught.ended, sorted(stops)[:3]


@pytest.mark.matrix
@pytest.mark.parametrize("layout", ["several-rules", "listener-ports", "nlb"])
def test_no_fault_at_a_route_call_site_strands_production(layout, record_property):
    # Every ELBv2 call site (DescribeRules/DescribeListeners/ModifyRule/ModifyListener/target health)
    # of each route kind, failed once and for good, with the same invariants over every production route
    report = faults.run_suite(layout=layout, only="elbv2:", uncaught=False)

    record_property("summary", f"{layout}: {report.summary()}")
    operations = {point[1] for point in report.points}
    expected = "ModifyListener" if layout in ("listener-ports", "nlb") else "ModifyRule"
    assert f"elbv2:{expected}" in operations
    assert report.injected >= 2 * len(report.points)
    assert all(run["outcome"] == "deployed" for run in report.runs if not run["persistent"])
    assert report.violations == []
