"""Deployment events: per scenario, the milestones arrive on the bus in order and match the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bluegreen.aws.decisions import decide
from bluegreen.aws.events import SOURCE, detail_schema
from bluegreen_emulator.emulator import Emulator

from .helpers import wait_for_gate

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "events" / "deployment-event.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}


def test_schema_file_is_generated_from_the_model():
    # The published schema and the pydantic model agree (regenerate: python -m bluegreen.aws.events > events/...)
    assert detail_schema() == SCHEMA


def sequence(emulator: Emulator, execution_arn: str) -> list[str]:
    """The execution's events in delivery order, each checked against the documented schema."""
    events = emulator.deployment_events(execution_arn)
    for event in events:
        assert event["source"] == SOURCE
        assert event["detail-type"] in SCHEMA["x-detail-types"]
        assert event["resources"] == [execution_arn]
        jsonschema.validate(event["detail"], SCHEMA)
    times = [event["detail"]["at"] for event in events]
    assert times == sorted(times), "milestones are published in the order they happen"
    return [event["detail-type"] for event in events]


def test_happy_deployment_publishes_each_milestone_once_in_order(emulator):
    # Given the demo service on v1
    demo = emulator.seed_service()
    # When v2 is deployed and approved
    result = emulator.run(demo.name, "v2")
    # Then the bus saw the whole story, in order
    assert result.outcome == "deployed"
    assert sequence(emulator, result.execution_arn) == [
        "Deployment Started",
        "Green Healthy",
        "Awaiting Approval",
        "Approved",
        "Traffic Shifted",
        "Deployment Succeeded",
    ]
    events = {e["detail-type"]: e["detail"] for e in emulator.deployment_events(result.execution_arn)}
    # ... carrying the digest, who approved, production's weights and the console link
    assert events["Deployment Started"]["imageDigest"] == demo.digests["v2"]
    assert events["Deployment Started"]["images"] == {
        demo.config["containerName"]: f"{demo.repository_uri}@{demo.digests['v2']}"
    }
    assert events["Approved"]["who"].startswith("slack:")
    assert events["Awaiting Approval"]["gateId"].startswith("ap-")
    assert events["Traffic Shifted"]["greenWeight"] == 100
    assert sorted(events["Traffic Shifted"]["weights"].values()) == [0, 100]
    assert events["Deployment Succeeded"]["links"]["execution"].startswith("https://us-east-1.console.aws.amazon.com/")


def test_rejected_deployment_ends_with_rejected_and_who(emulator):
    emulator.auto_approve = False
    demo = emulator.seed_service()
    arn = emulator.start(demo.name, "v2")
    gate = wait_for_gate(emulator, demo.name, "approval")
    decide(emulator.store, gate.gateId, "reject", "slack:U123", "checkout page broken")
    result = emulator.wait(arn)

    assert result.outcome == "cleaned_up"
    assert sequence(emulator, arn) == ["Deployment Started", "Green Healthy", "Awaiting Approval", "Rejected"]
    rejected = emulator.deployment_events(arn)[-1]["detail"]
    assert (rejected["who"], rejected["why"], rejected["outcome"]) == (
        "slack:U123",
        "checkout page broken",
        "cleaned_up",
    )


def test_alarm_rollback_publishes_rollback_started_then_rolled_back(emulator):
    demo = emulator.seed_service()
    result = emulator.run(demo.name, "v2-5xx")

    assert result.outcome == "rolled_back"
    assert sequence(emulator, result.execution_arn) == [
        "Deployment Started",
        "Green Healthy",
        "Awaiting Approval",
        "Approved",
        "Traffic Shifted",
        "Rollback Started",
        "Rolled Back",
    ]
    assert emulator.deployment_events(result.execution_arn)[-1]["detail"]["error"] == "AlarmTriggered"


def test_canary_publishes_one_traffic_shift_per_step_with_its_weight(emulator):
    demo = emulator.seed_service(config_overrides=CANARY)
    result = emulator.run(demo.name, "v2")

    assert result.outcome == "deployed"
    assert sequence(emulator, result.execution_arn) == [
        "Deployment Started",
        "Green Healthy",
        "Awaiting Approval",
        "Approved",
        "Traffic Shifted",
        "Traffic Shifted",
        "Deployment Succeeded",
    ]
    shifts = [
        e["detail"] for e in emulator.deployment_events(result.execution_arn) if e["detail-type"] == "Traffic Shifted"
    ]
    assert [s["greenWeight"] for s in shifts] == [10, 100]


def test_unhealthy_green_publishes_deployment_failed(emulator):
    demo = emulator.seed_service()
    result = emulator.run(demo.name, "v2-broken")

    assert result.outcome == "cleaned_up"
    assert sequence(emulator, result.execution_arn) == ["Deployment Started", "Deployment Failed"]
    failed = emulator.deployment_events(result.execution_arn)[-1]["detail"]
    assert failed["error"] == "HealthCheckTimeout" and failed["outcome"] == "cleaned_up"


@pytest.mark.parametrize("bus", ["does-not-exist"])
def test_a_missing_bus_never_breaks_a_deployment(emulator, bus, monkeypatch):
    # Given the functions publish to a bus that does not exist
    monkeypatch.setenv("EVENT_BUS_NAME", bus)
    from bluegreen.aws.events import get_publisher

    get_publisher.cache_clear()
    demo = emulator.seed_service()
    # When v2 is deployed
    result = emulator.run(demo.name, "v2")
    get_publisher.cache_clear()
    # Then the deployment succeeds anyway and nothing reached the default bus
    assert result.outcome == "deployed"
    assert emulator.deployment_events(result.execution_arn) == []
    failures = [c for c in emulator.recorder.calls if c.operation == "PutEvents"]
    assert len(failures) == 6  # every milestone was attempted


def test_a_release_failing_validation_still_ends_with_deployment_failed(emulator):
    # Given a tag that is not in ECR
    demo = emulator.seed_service()
    result = emulator.run(demo.name, "v99")
    # Then nothing started, and the bus learns that this execution failed, and why
    assert (result.status, result.error) == ("FAILED", "ImageNotFound")
    assert sequence(emulator, result.execution_arn) == ["Deployment Failed"]
    failed = emulator.deployment_events(result.execution_arn)[0]["detail"]
    assert (failed["service"], failed["imageTag"], failed["error"]) == (demo.name, "v99", "ImageNotFound")
    assert "imageDigest" not in failed
