"""The reconciler's pure decisions, its event schema, and the replay's reading of kept failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bluegreen import reconcile
from bluegreen_cli.replay import parse

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "events" / "reconciler-event.schema.json"


@pytest.mark.parametrize(
    ("status", "ended_seconds_ago", "expected"),
    [
        ("RUNNING", None, "leave"),  # a running deployment is never touched
        ("SUCCEEDED", 30, "leave"),  # its end event may still be on its way to ExecutionEnded
        ("ABORTED", 30, "leave"),
        ("ABORTED", 600, "end"),
        ("TIMED_OUT", 600, "end"),
        ("FAILED", 600, "end"),
        ("SUCCEEDED", 600, "end"),
        (None, None, "gone"),  # no such execution any more
    ],
)
def test_verdict_leaves_running_and_just_ended_executions_alone(status, ended_seconds_ago, expected):
    # Given an execution's status and when it ended
    stopped = NOW - timedelta(seconds=ended_seconds_ago) if ended_seconds_ago is not None else None

    # Then the reconciler acts only on an end older than the grace period, or an execution that is gone
    assert reconcile.verdict(status, stopped, NOW) == expected


def _push(digest: str, minutes_ago: float) -> dict:
    return {"imageDigest": digest, "imageTag": f"v-{digest}", "imagePushedAt": NOW - timedelta(minutes=minutes_ago)}


def test_an_unseen_push_is_old_enough_newer_than_the_last_deployment_and_known_to_nobody():
    # Given pushes of various ages, one known to a deployment, and the newest deployment an hour ago
    pushes = [_push("fresh", 1), _push("unseen", 10), _push("known", 10), _push("before", 90), _push("ancient", 3000)]

    # When the reconciler filters them
    found = reconcile.unseen(pushes, {"known"}, NOW, since=NOW - timedelta(hours=1))

    # Then only the one the trigger had time for, after the last deployment, that nobody knows is reported
    assert [p["imageDigest"] for p in found] == ["unseen"]
    # And without any deployment, only the last day counts
    assert [p["imageDigest"] for p in reconcile.unseen(pushes, set(), NOW)] == ["unseen", "known", "before"]


def test_the_event_schema_file_is_generated_from_the_model():
    # Given the schema in events/ and the one the model gives
    # Then they are the same (regenerate with python -m bluegreen.reconcile > events/reconciler-event.schema.json)
    assert json.loads(SCHEMA.read_text()) == reconcile.repair_schema()
    assert reconcile.repair_schema()["x-detail-types"] == ["Leftover Repaired", "Image Push Unseen"]


def test_replay_reads_a_lambda_invocation_record():
    # Given the record Lambda sends an on-failure destination
    record = {
        "version": "1.0",
        "timestamp": "2026-06-01T12:00:00.000Z",
        "requestContext": {
            "requestId": "r",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:stack-AlarmEventFunction-X:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"detail-type": "CloudWatch Alarm State Change", "detail": {}},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "TransientAwsError", "errorMessage": "throttled"},
    }

    # When it is read from the queue
    failure = parse({"MessageId": "m", "ReceiptHandle": "h", "Body": json.dumps(record)})

    # Then the original event goes back to the function, without its version qualifier
    assert failure is not None
    assert failure.function == "arn:aws:lambda:us-east-1:123456789012:function:stack-AlarmEventFunction-X"
    assert failure.event == record["requestPayload"]
    assert failure.kind == "invocation record"
    assert failure.error == "RetriesExhausted after 3 attempts, TransientAwsError: throttled"
    assert failure.what == "CloudWatch Alarm State Change"


def test_replay_reads_an_eventbridge_dead_letter_and_refuses_anything_else():
    # Given a dead letter (the event, and where it was going in the message attributes)
    event = {"detail-type": "ECR Image Action", "source": "aws.ecr", "detail": {}}
    attributes = {
        "TARGET_ARN": {"StringValue": "arn:aws:lambda:us-east-1:123456789012:function:stack-EcrTriggerFunction-X"},
        "ERROR_CODE": {"StringValue": "AccessDenied"},
        "ERROR_MESSAGE": {"StringValue": "no permission"},
    }
    message = {"MessageId": "m", "ReceiptHandle": "h", "Body": json.dumps(event), "MessageAttributes": attributes}

    # Then it is replayed to its target
    failure = parse(message)
    assert failure is not None and failure.kind == "dead letter"
    assert failure.function_name == "stack-EcrTriggerFunction-X"
    assert failure.event == event
    # And a message of neither shape is not replayed anywhere
    assert parse({"MessageId": "m", "ReceiptHandle": "h", "Body": json.dumps({"hello": 1})}) is None
    assert parse({"MessageId": "m", "ReceiptHandle": "h", "Body": "not json"}) is None
