"""Gates: a ``waitForTaskToken`` task the deployment waits on, and everything people read about one.

A gate (approval, bake, keep-old hold) is stored in the deployments table under a short id; Slack
buttons, the CLI and the alarm handler answer it (:mod:`bluegreen.aws.decisions`). Its kinds, statuses
and their human labels live here, in one place, for Slack, the CLI and the error messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GateKind(StrEnum):
    APPROVAL = "approval"
    BAKE = "bake"
    KEEP_OLD = "keep-old"

    @property
    def prefix(self) -> str:
        """The gate id's prefix (``ap-…``)."""
        return _KIND_LABELS[self][0]

    @property
    def label(self) -> str:
        """In a sentence: ``approval``, ``bake``, ``keep-old hold``."""
        return _KIND_LABELS[self][1]

    @property
    def slack_title(self) -> str:
        """A pending gate's Slack message title."""
        return _KIND_LABELS[self][2]

    @property
    def noun(self) -> str:
        """At the start of a sentence: ``Approval``, ``Bake``, ``Keep-old hold``."""
        return self.label[0].upper() + self.label[1:]


class GateStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    FINISHED = "FINISHED"
    ROLLED_BACK = "ROLLED_BACK"
    ALARM = "ALARM"
    EXPIRED = "EXPIRED"  # the deployment stopped waiting (timeout, end of the execution)
    PASSED = "PASSED"  # the deployment moved on (the bake or the traffic step's watch ran out)

    @property
    def slack_title(self) -> str:
        """The decided Slack message's title: ``Approved``, ``Rolled back by an alarm``…"""
        return _STATUS_LABELS[self][0]

    @property
    def past(self) -> str:
        """What the CLI says happened to it: ``approved``, ``closed``, ``passed``…"""
        return _STATUS_LABELS[self][1]

    @property
    def word(self) -> str:
        """The status as plain words (``rolled back``), for error messages."""
        return self.value.lower().replace("_", " ")


# kind -> (id prefix, label, Slack title of the pending message)
_KIND_LABELS: dict[GateKind, tuple[str, str, str]] = {
    GateKind.APPROVAL: ("ap", "approval", "Approval needed"),
    GateKind.BAKE: ("bk", "bake", "Baking"),
    GateKind.KEEP_OLD: ("ko", "keep-old hold", "Old version kept"),
}
# status -> (Slack title once decided, CLI verb)
_STATUS_LABELS: dict[GateStatus, tuple[str, str]] = {
    GateStatus.PENDING: ("Pending", "pending"),
    GateStatus.APPROVED: ("Approved", "approved"),
    GateStatus.REJECTED: ("Rejected", "rejected"),
    GateStatus.FINISHED: ("Finished", "finished"),
    GateStatus.ROLLED_BACK: ("Rolled back", "rolled back"),
    GateStatus.ALARM: ("Rolled back by an alarm", "rolled back by an alarm"),
    GateStatus.EXPIRED: ("Expired", "closed"),
    GateStatus.PASSED: ("Bake passed", "passed"),
}


def status_title(status: Any) -> str:
    """Slack title of a status, also for a value this version does not know."""
    try:
        return GateStatus(str(status)).slack_title
    except ValueError:
        return str(status).replace("_", " ").capitalize()


def kind_label(kind: Any) -> str:
    """In-sentence label of a kind, also for a value this version does not know."""
    try:
        return GateKind(str(kind)).label
    except ValueError:
        return str(kind)


def status_past(status: Any) -> str:
    """What the CLI says happened to a gate, also for a status this version does not know."""
    try:
        return GateStatus(str(status)).past
    except ValueError:
        return str(status).lower()


class Gate(BaseModel):
    """One gate as stored in the deployments table (``GATE#{gateId}`` / ``GATE``)."""

    # What the table adds (pk, sk) and details a newer version stores are kept as they come.
    model_config = ConfigDict(defer_build=True, extra="allow", populate_by_name=True)

    gateId: str
    kind: GateKind
    service: str
    executionArn: str
    taskToken: str
    status: GateStatus = GateStatus.PENDING
    createdAt: str
    expiresAt: str
    alarmNames: list[str] = Field(default_factory=list)
    decidedBy: str | None = None
    decidedAt: str | None = None
    reason: str | None = None
    channel: str | None = None  # Slack channel and ts of the gate's message, once posted
    ts: str | None = None
    notificationError: str | None = None
    ttl: int | None = None  # when DynamoDB deletes the item (epoch seconds)
    # The deployment's details shown with the gate (steps/open_gate.gate_details, steps/bake).
    imageTag: str | None = None
    imageDigest: str | None = None
    image: str | None = None
    executionName: str | None = None
    requestedBy: str | None = None
    greenTaskSet: str | None = None
    testUrl: str | None = None
    planText: str | None = None  # The release's plan, on approvals
    bakeSeconds: int | None = None
    weight: int | None = None  # green's share of production while the gate is open (traffic steps)

    @property
    def pending(self) -> bool:
        return self.status == GateStatus.PENDING

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (``None`` values left out)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}
