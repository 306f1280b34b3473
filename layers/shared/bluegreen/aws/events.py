"""Deployment events on EventBridge: one event per milestone, best effort.

Every event has ``source`` :data:`SOURCE`, a ``detail-type`` from :class:`DetailType` and a
:class:`DeploymentEventDetail` as ``detail`` (JSON Schema: ``events/deployment-event.schema.json``,
generated from the model by :func:`detail_schema`). Publishing never fails a deployment: an
error is logged and counted as the ``EventPublishFailures`` metric.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from bluegreen.domain import clock
from bluegreen.domain.analysis import AnalysisVerdict
from bluegreen.domain.settings import get_settings

if TYPE_CHECKING:
    from bluegreen.domain.models import DeploymentContext

logger = Logger(child=True)
metrics = Metrics()  # shares the handler's metric set: flushed by its @log_metrics

SOURCE = "bluegreen.deployments"
BUS_ENV = "EVENT_BUS_NAME"
PUBLISH_FAILURES = "EventPublishFailures"


class DetailType(StrEnum):
    STARTED = "Deployment Started"
    GREEN_HEALTHY = "Green Healthy"
    AWAITING_APPROVAL = "Awaiting Approval"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    TRAFFIC_SHIFTED = "Traffic Shifted"
    SUCCEEDED = "Deployment Succeeded"
    ROLLBACK_STARTED = "Rollback Started"
    ROLLED_BACK = "Rolled Back"
    FAILED = "Deployment Failed"


class EventLinks(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    execution: str = Field(description="AWS console page of the Step Functions execution")
    testUrl: str | None = Field(default=None, description="where testers reach green (the test rule)")


class DeploymentEventDetail(BaseModel):
    """The ``detail`` of every deployment event."""

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Deployment event detail")

    service: str = Field(description="the service's configuration name")
    executionArn: str
    executionName: str
    at: datetime = Field(description="when the milestone happened (ISO 8601, UTC)")
    imageTag: str
    imageDigest: str | None = Field(default=None, description="absent only when validation failed before resolving it")
    images: dict[str, str] = Field(
        default_factory=dict,
        description="container name -> green's image; those the release changed are pinned (repository@sha256:...)",
    )
    requestedBy: str = Field(description="who started the deployment (IAM identity, ecr-push, ...)")
    who: str | None = Field(default=None, description="who made this milestone happen (approver, rollback actor)")
    why: str | None = Field(default=None, description="the reason given, or the error that ended the deployment")
    error: str | None = Field(default=None, description="the Step Functions error name, for failures")
    links: EventLinks
    weights: dict[str, int] | None = Field(default=None, description="production weights per target group ARN")
    greenWeight: int | None = Field(default=None, ge=0, le=100, description="green's share of production")
    greenTaskSet: str | None = None
    rollbackOf: str | None = Field(default=None, description="the execution whose release this one rolls back")
    gateId: str | None = Field(default=None, description="the approval gate to answer (bluegreen approve SERVICE)")
    outcome: str | None = Field(default=None, description="how the deployment ended, on its last event")
    # On 'Deployment Succeeded' of a service with the built-in analysis: was green judged at all?
    analysis: AnalysisVerdict | None = Field(
        default=None,
        description="the built-in analysis's verdict ('Deployment Succeeded'): judged, or not judged for lack of "
        "traffic (summary: 'analysis: not judged — N requests < minimum M')",
    )


def console_url(execution_arn: str) -> str:
    """The AWS console page of a Step Functions execution."""
    region = execution_arn.split(":")[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def images_of(context: DeploymentContext) -> dict[str, str]:
    """Every container's image in green (a release may change several), else the main container's."""
    definition = getattr(context, "greenDefinition", None) or {}
    images = {c["name"]: c["image"] for c in definition.get("containerDefinitions") or [] if c.get("image")}
    return images or {context.config.containerName: context.image}


def detail_of(context: DeploymentContext, **fields: Any) -> DeploymentEventDetail:
    """The event detail for ``context`` plus the milestone's ``fields`` (who, why, weights, ...)."""
    return DeploymentEventDetail(
        service=context.service,
        executionArn=context.executionArn,
        executionName=context.executionName,
        at=clock.now(),
        imageTag=context.imageTag,
        imageDigest=context.imageDigest,
        images=images_of(context),
        requestedBy=context.requestedBy,
        links=EventLinks(execution=console_url(context.executionArn), testUrl=context.testUrl),
        rollbackOf=getattr(context, "rollbackOf", None),
        **fields,
    )


def emit_validation_failed(
    publisher: EventPublisher, execution_arn: str, request: dict[str, Any], error: str, why: str
) -> bool:
    """``Deployment Failed`` for an execution whose input or service failed validation (no context yet)."""
    service, tag = request.get("service"), request.get("imageTag")
    if not isinstance(service, str) or not service:
        return False  # not even a service to tell anyone about
    try:
        detail = DeploymentEventDetail(
            service=service,
            executionArn=execution_arn,
            executionName=execution_arn.rsplit(":", 1)[-1],
            at=clock.now(),
            imageTag=tag if isinstance(tag, str) else "?",
            requestedBy=str(request.get("requestedBy") or "unknown"),
            links=EventLinks(execution=console_url(execution_arn)),
            error=error,
            why=why,
            outcome="failed",
        )
    except Exception:  # noqa: BLE001 - a malformed detail is a bug to log, not a failed deployment
        logger.exception("Deployment event detail invalid", extra={"detailType": DetailType.FAILED.value})
        metrics.add_metric(name=PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
        return False
    return publisher.publish(DetailType.FAILED, detail)


def detail_schema() -> dict[str, Any]:
    """JSON Schema of the detail (``events/deployment-event.schema.json`` is this, pretty-printed)."""
    schema = DeploymentEventDetail.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/ecs-bluegreen/ecs-bluegreen/events/deployment-event.schema.json",
        **schema,
        "description": (
            f"The 'detail' of the EventBridge events with source '{SOURCE}'; detail-type is one of "
            + ", ".join(f"'{t.value}'" for t in DetailType)
            + ". Generated from bluegreen.aws.events.DeploymentEventDetail (python -m bluegreen.aws.events)."
        ),
        "x-detail-types": [t.value for t in DetailType],
    }


class EventPublisher(Protocol):
    def publish(self, detail_type: DetailType, detail: DeploymentEventDetail) -> bool: ...


class NullPublisher:
    """No event bus configured (unit tests, or a stack without events)."""

    def publish(self, detail_type: DetailType, detail: DeploymentEventDetail) -> bool:
        return False


class BusPublisher:
    """``PutEvents`` on one bus; never raises."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def publish(self, detail_type: DetailType, detail: DeploymentEventDetail) -> bool:
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type.value,
            "Detail": json.dumps(detail.model_dump(mode="json", exclude_none=True)),
            "Resources": [detail.executionArn],
            "EventBusName": self.bus_name,
        }
        try:
            response = self.client.put_events(Entries=[entry])
        except Exception as error:  # noqa: BLE001 - an event never breaks a deployment
            return self._failed(detail_type, detail, f"{type(error).__name__}: {error}")
        if response.get("FailedEntryCount"):
            failed = response.get("Entries", [{}])[0]
            return self._failed(detail_type, detail, f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
        return True

    def _failed(self, detail_type: DetailType, detail: DeploymentEventDetail, reason: str) -> bool:
        logger.warning(
            "Deployment event not published",
            extra={"detailType": detail_type.value, "bus": self.bus_name, "service": detail.service, "reason": reason},
        )
        metrics.add_metric(name=PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
        return False


def emit(publisher: EventPublisher, detail_type: DetailType, context: DeploymentContext, **fields: Any) -> bool:
    """Publish one milestone of the deployment ``context``; never raises."""
    try:
        detail = detail_of(context, **fields)
    except Exception:  # noqa: BLE001 - a malformed detail is a bug to log, not a failed deployment
        logger.exception("Deployment event detail invalid", extra={"detailType": detail_type.value})
        metrics.add_metric(name=PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
        return False
    return publisher.publish(detail_type, detail)


@functools.cache
def get_publisher() -> EventPublisher:
    """The publisher on ``EVENT_BUS_NAME`` (the stack's ``EventBusName``); none when it is unset."""
    bus = get_settings().eventBusName
    if not bus:
        return NullPublisher()
    import boto3

    from bluegreen.aws.clients import BOTO_CONFIG

    return BusPublisher(boto3.client("events", config=BOTO_CONFIG), bus)


if __name__ == "__main__":  # python -m bluegreen.aws.events > events/deployment-event.schema.json
    import sys

    sys.stdout.write(json.dumps(detail_schema(), indent=2) + "\n")
