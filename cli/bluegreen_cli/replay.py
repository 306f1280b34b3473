"""``bluegreen events replay``: re-deliver the events the stack kept after they failed for good.

The stack's failed-events queue (output ``FailedEventsQueueUrl``) holds two kinds of messages:

* a Lambda **invocation record** (an asynchronous invocation that failed after its retries): the body is
  ``{"requestContext": {"functionArn", "condition", "approximateInvokeCount", ...}, "requestPayload": <event>,
  "responseContext": {...}, "responsePayload": {"errorType", "errorMessage"}}``;
* an EventBridge **dead letter** (the rule could not invoke its target): the body is the event itself, the
  message attributes ``TARGET_ARN``, ``RULE_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE`` say where it was going.

Each is invoked again on its function, synchronously (``RequestResponse``), so the user sees the
result; a success deletes the message, a failure leaves it (visible again) for a later replay. A second
replay finds nothing left; the handlers are idempotent for an event delivered twice anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VISIBILITY_SECONDS = 120  # a message being replayed is hidden from another replay meanwhile
MAX_MESSAGES = 1000  # one replay handles at most this many (run it again for more)


@dataclass
class KeptFailure:
    message_id: str
    receipt: str
    function: str  # the function's ARN (or name), without a version qualifier
    event: Any
    kind: str  # "invocation record" or "dead letter"
    error: str
    failed_at: str = ""

    @property
    def function_name(self) -> str:
        return self.function.split(":function:")[-1].split(":")[0]

    @property
    def what(self) -> str:
        if isinstance(self.event, dict):
            if "bluegreenSlackFollowUp" in self.event:
                return "Slack follow-up"
            return str(self.event.get("detail-type") or self.event.get("source") or "event")
        return "event"


@dataclass
class ReplayReport:
    listed: list[KeptFailure] = field(default_factory=list)
    replayed: list[KeptFailure] = field(default_factory=list)
    failed: list[tuple[KeptFailure, str]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # message ids left in the queue


def _attribute(message: dict[str, Any], name: str) -> str:
    return str(message.get("MessageAttributes", {}).get(name, {}).get("StringValue") or "")


def parse(message: dict[str, Any]) -> KeptFailure | None:
    """A queue message as a kept failure (``None``: neither shape)."""
    try:
        body = json.loads(message["Body"])
    except (KeyError, ValueError):
        return None
    common = {"message_id": message["MessageId"], "receipt": message["ReceiptHandle"]}
    if isinstance(body, dict) and isinstance(body.get("requestContext"), dict) and "requestPayload" in body:
        context = body["requestContext"]
        arn = str(context.get("functionArn") or "")
        if ":function:" in arn and arn.count(":") > 6:  # arn:aws:lambda:region:account:function:name:qualifier
            arn = arn.rsplit(":", 1)[0]
        response = body.get("responsePayload") or {}
        error = (
            f"{response.get('errorType', '?')}: {response.get('errorMessage', '')}"
            if isinstance(response, dict)
            else str(response)
        )
        text = (
            f"{context.get('condition', 'failed')} after {context.get('approximateInvokeCount', '?')} attempts, {error}"
        )
        return KeptFailure(
            function=arn,
            event=body["requestPayload"],
            kind="invocation record",
            error=text,
            failed_at=str(body.get("timestamp") or ""),
            **common,
        )
    target = _attribute(message, "TARGET_ARN")
    if target and ":lambda:" in target:
        error = f"{_attribute(message, 'ERROR_CODE')}: {_attribute(message, 'ERROR_MESSAGE')}"
        return KeptFailure(function=target, event=body, kind="dead letter", error=error, **common)
    return None


def read(sqs: Any, queue_url: str, limit: int = MAX_MESSAGES) -> tuple[list[KeptFailure], list[str]]:
    """Receive every visible message once (hidden for :data:`VISIBILITY_SECONDS` while handled)."""
    kept: list[KeptFailure] = []
    unreadable: list[str] = []
    seen: set[str] = set()
    while len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            failure = parse(message)
            if failure is None:
                unreadable.append(message["MessageId"])
                _show_again(sqs, queue_url, message["ReceiptHandle"])
            else:
                kept.append(failure)
    return kept, unreadable


def _show_again(sqs: Any, queue_url: str, receipt: str) -> None:
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)


def replay(sqs: Any, lambda_client: Any, queue_url: str, dry_run: bool = False) -> ReplayReport:
    """List (``dry_run``) or re-deliver every kept failure; see the module's docstring."""
    report = ReplayReport()
    report.listed, report.unreadable = read(sqs, queue_url)
    for failure in report.listed:
        if dry_run:
            _show_again(sqs, queue_url, failure.receipt)
            continue
        response = lambda_client.invoke(
            FunctionName=failure.function,
            InvocationType="RequestResponse",
            Payload=json.dumps(failure.event).encode(),
        )
        payload = response["Payload"].read() if hasattr(response.get("Payload"), "read") else response.get("Payload")
        if response.get("FunctionError"):
            text = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
            report.failed.append((failure, text[:500]))
            _show_again(sqs, queue_url, failure.receipt)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=failure.receipt)
        report.replayed.append(failure)
    return report
