"""Gates: kinds, statuses and their labels in one place, and the rule that supersedes a pending gate (no AWS)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bluegreen.aws.decisions import ACTIONS, Supersede, supersede
from bluegreen.domain.gates import Gate, GateKind, GateStatus, kind_label, status_past, status_title

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:web-v2"


def pending(execution: str = EXECUTION, token: str = "token-1") -> Gate:
    return Gate(
        gateId="bk-k3m9xq2z",
        kind=GateKind.BAKE,
        service="web",
        executionArn=execution,
        taskToken=token,
        createdAt="2026-01-01T00:00:00+00:00",
        expiresAt="2026-01-01T00:05:00+00:00",
    )


@pytest.mark.parametrize(
    ("existing", "token", "expected"),
    [
        (None, "token-2", Supersede.NOTHING),  # no pending gate
        (pending(execution=EXECUTION + "-other"), "token-2", Supersede.NOTHING),  # another execution's gate
        (pending(token="token-2"), "token-2", Supersede.REUSE),  # the same task retried
        (pending(token="token-1"), "token-2", Supersede.PASS),  # the deployment moved on
    ],
)
def test_opening_a_gate_supersedes_only_the_same_executions_earlier_gate(existing, token, expected):
    assert supersede(existing, EXECUTION, token) is expected


@pytest.mark.parametrize(
    ("kind", "prefix", "label", "noun", "title"),
    [
        ("approval", "ap", "approval", "Approval", "Approval needed"),
        ("bake", "bk", "bake", "Bake", "Baking"),
        ("keep-old", "ko", "keep-old hold", "Keep-old hold", "Old version kept"),
    ],
)
def test_each_kind_has_its_labels(kind, prefix, label, noun, title):
    gate_kind = GateKind(kind)
    assert (gate_kind.prefix, gate_kind.label, gate_kind.noun, gate_kind.slack_title) == (prefix, label, noun, title)


def test_every_status_a_decision_sets_has_labels_and_every_kind_an_action():
    decided = {status for _, status, _ in ACTIONS.values()}
    assert decided | {GateStatus.PENDING, GateStatus.EXPIRED, GateStatus.PASSED} == set(GateStatus)
    assert {kind for kinds, _, _ in ACTIONS.values() for kind in kinds} == set(GateKind)
    for status in GateStatus:
        assert status.slack_title and status.past


@pytest.mark.parametrize(
    ("status", "title", "past"),
    [
        ("ALARM", "Rolled back by an alarm", "rolled back by an alarm"),
        ("EXPIRED", "Expired", "closed"),
        ("PASSED", "Bake passed", "passed"),
        ("SOMETHING_NEW", "Something new", "something_new"),
    ],
)
def test_status_labels_also_for_a_status_this_version_does_not_know(status, title, past):
    assert (status_title(status), status_past(status)) == (title, past)
    assert kind_label("unknown-kind") == "unknown-kind"


def test_a_stored_gate_reads_as_a_typed_model():
    # Given a gate item as DynamoDB returns it (numbers as Decimal, the table's keys beside the gate's fields)
    item = {**pending().item(), "pk": "GATE#bk-k3m9xq2z", "ttl": Decimal(1767225900), "bakeSeconds": Decimal(300)}

    # When it is read
    gate = Gate.model_validate(item)

    # Then its fields are typed, and what it does not know is kept and written back as it came
    assert gate.kind is GateKind.BAKE and gate.status is GateStatus.PENDING and gate.pending
    assert (gate.bakeSeconds, gate.ttl, gate.decidedBy) == (300, 1767225900, None)
    assert gate.item()["pk"] == "GATE#bk-k3m9xq2z" and gate.item()["gateId"] == "bk-k3m9xq2z"
