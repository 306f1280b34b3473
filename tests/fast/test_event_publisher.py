"""The deployment event publisher: what it sends, and that a failure never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bluegreen.aws import events
from bluegreen.aws.events import PUBLISH_FAILURES, SOURCE, BusPublisher, DeploymentEventDetail, DetailType, EventLinks

ARN = "arn:aws:states:eu-west-1:123456789012:execution:bluegreen-deployment:web-v2"


def detail(**fields: object) -> DeploymentEventDetail:
    return DeploymentEventDetail(
        service="web",
        executionArn=ARN,
        executionName="web-v2",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        imageTag="v2",
        imageDigest="sha256:" + "a" * 64,
        images={"app": "repo@sha256:" + "a" * 64},
        requestedBy="ci",
        links=EventLinks(execution=events.console_url(ARN)),
        **fields,
    )


class FakeEvents:
    def __init__(self, response: dict | None = None, error: Exception | None = None) -> None:
        self.entries: list[dict] = []
        self.response = response or {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}
        self.error = error

    def put_events(self, Entries: list[dict]) -> dict:  # noqa: N803 - boto3's name
        self.entries.extend(Entries)
        if self.error:
            raise self.error
        return self.response


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    counted: list[str] = []
    monkeypatch.setattr(events.metrics, "add_metric", lambda name, unit, value: counted.append(name))
    return counted


def test_one_entry_on_the_configured_bus(failures):
    client = FakeEvents()
    assert BusPublisher(client, "deployments").publish(DetailType.TRAFFIC_SHIFTED, detail(greenWeight=10))
    (entry,) = client.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (SOURCE, "Traffic Shifted", "deployments")
    assert entry["Resources"] == [ARN]
    body = json.loads(entry["Detail"])
    assert body["greenWeight"] == 10 and "who" not in body  # unset fields are left out
    assert failures == []


@pytest.mark.parametrize(
    "client",
    [
        FakeEvents(error=ConnectionError("endpoint unreachable")),
        FakeEvents({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}),
    ],
    ids=["call raised", "entry failed"],
)
def test_a_failure_is_counted_never_raised(client, failures):
    assert BusPublisher(client, "missing").publish(DetailType.STARTED, detail()) is False
    assert failures == [PUBLISH_FAILURES]


def test_no_bus_configured_publishes_nothing(monkeypatch):
    monkeypatch.delenv(events.BUS_ENV, raising=False)
    events.get_publisher.cache_clear()
    try:
        assert isinstance(events.get_publisher(), events.NullPublisher)
    finally:
        events.get_publisher.cache_clear()


def test_the_detail_names_every_container_image_of_a_multi_container_release():
    """A release may change several containers; the event lists green's images, not just one."""
    # Given a context whose green task definition has two containers (the sidecar's image changed too)
    web, router = "repo/web@sha256:" + "b" * 64, "repo/log-router@sha256:" + "c" * 64
    context = SimpleNamespace(
        greenDefinition={
            "containerDefinitions": [{"name": "web", "image": web}, {"name": "log-router", "image": router}]
        },
        config=SimpleNamespace(containerName="web"),
        image=web,
    )
    # When the detail's images are computed, Then both containers are named with their pinned images
    assert events.images_of(context) == {"web": web, "log-router": router}
    # And a context without a green definition (an older execution) still names the main container
    assert events.images_of(SimpleNamespace(greenDefinition=None, config=context.config, image=web)) == {"web": web}
