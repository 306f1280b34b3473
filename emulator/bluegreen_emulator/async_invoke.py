"""Asynchronous invocations and EventBridge deliveries as AWS runs them, and the ways AWS loses them.

Lambda runs an asynchronous invocation (an EventBridge target, ``InvocationType=Event``, a schedule)
from its own queue: a function error is retried twice by default (``MaximumRetryAttempts``), then
the invocation is dropped, unless the function's ``EventInvokeConfig`` names an on-failure
destination, which gets an *invocation record*::

    {"version": "1.0", "timestamp": ..., "requestContext": {"requestId", "functionArn",
     "condition": "RetriesExhausted", "approximateInvokeCount"}, "requestPayload": <the event>,
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
     "responsePayload": {"errorType", "errorMessage", ...}}

(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html and
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). An event
EventBridge itself cannot hand to the target (a missing permission, a deleted function) goes to the
rule target's dead-letter queue as the bare event, with the message attributes ``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE`` (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html);
a function error is not a delivery failure, so only the function's destination catches it
(https://repost.aws/questions/QU5UNfw7h9SgSTl8S9AUu3TQ).

The retries run at once here (AWS waits 1 and 2 minutes between them): the chaos suite's subject is
what is lost, not when. :data:`FAULTS` lets it drop, duplicate, delay or fail deliveries.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_RETRIES = 2  # Lambda's default MaximumRetryAttempts for asynchronous invocations

# What a fault hook answers for one delivery (``None``: deliver normally):
# "drop" (lost without a trace, as a best-effort event may be), "duplicate" (delivered twice),
# "delay" (held back and delivered before the next delivery, out of order), "fail" (every attempt
# of the asynchronous invocation fails: the on-failure destination gets it), "undeliverable"
# (EventBridge cannot invoke the target: the rule's dead-letter queue gets it).
Fault = str
FaultHook = Callable[[str, dict[str, Any]], "Fault | None"]  # (function logical id, event) -> fault


@dataclass
class Delivery:
    function: str  # logical id
    function_arn: str
    body: str
    rule_arn: str | None = None  # an EventBridge delivery (None: an InvocationType=Event call)


@dataclass
class AsyncLambda:
    """The Lambda service's asynchronous side of the emulator (one per emulator)."""

    invoke: Callable[[str, str | bytes | None, dict[str, str]], bytes]  # the dispatcher's invoke
    send_to_queue: Callable[[str, str, dict[str, Any] | None], None]  # (queue ARN, body, attributes)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # function name -> EventInvokeConfig
    dead_letters: dict[str, str] = field(default_factory=dict)  # rule ARN -> dead-letter queue ARN
    logical_ids: dict[str, str] = field(default_factory=dict)  # function name -> logical id
    faults: list[FaultHook] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)  # records sent to a destination or DLQ
    lost: list[Delivery] = field(default_factory=list)  # dropped (no destination, or a "drop" fault)
    _held: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _fault(self, delivery: Delivery) -> Fault | None:
        event = json.loads(delivery.body or "{}")
        for hook in list(self.faults):
            answer = hook(delivery.function, event)
            if answer:
                return answer
        return None

    def deliver(self, function_arn: str, body: str, rule_arn: str | None = None) -> None:
        """An asynchronous invocation of ``function_arn`` (from EventBridge when ``rule_arn`` is given)."""
        name = function_arn.split(":function:")[-1].split(":")[0]
        delivery = Delivery(self.logical_ids.get(name, name), function_arn, body, rule_arn)
        with self._lock:
            held, self._held = self._held, []
        for earlier in held:  # a delayed delivery arrives now, after the ones that overtook it
            self._run(earlier)
        fault = self._fault(delivery)
        if fault == "drop":
            self.lost.append(delivery)
            return
        if fault == "delay":
            with self._lock:
                self._held.append(delivery)
            return
        if fault == "undeliverable" and rule_arn:
            self._dead_letter(delivery, "ResourceNotFoundException", "The target function could not be invoked")
            return
        self._run(delivery, failing=fault == "fail")
        if fault == "duplicate":
            self._run(delivery)

    def flush(self) -> int:
        """Deliver what is held back (end of a run); returns how many."""
        with self._lock:
            held, self._held = self._held, []
        for delivery in held:
            self._run(delivery)
        return len(held)

    def _run(self, delivery: Delivery, failing: bool = False) -> None:
        name = delivery.function_arn.split(":function:")[-1].split(":")[0]
        config = self.configs.get(name, {})
        attempts = 1 + int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        payload: dict[str, Any] = {}
        for _ in range(attempts):
            headers: dict[str, str] = {}
            if failing:
                payload = {"errorType": "InjectedFailure", "errorMessage": "chaos: the invocation failed"}
                headers["x-amz-function-error"] = "Unhandled"
            else:
                raw = self.invoke(delivery.function_arn, delivery.body, headers)
                payload = json.loads(raw or b"null") if raw else {}
            if not headers.get("x-amz-function-error"):
                return
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if not destination:
            self.lost.append(delivery)  # Lambda drops it: no trace
            return
        record = invocation_record(delivery, attempts, payload)
        self.kept.append(record)
        self.send_to_queue(str(destination), json.dumps(record), None)

    def _dead_letter(self, delivery: Delivery, code: str, message: str) -> None:
        queue = self.dead_letters.get(delivery.rule_arn or "")
        if not queue:
            self.lost.append(delivery)
            return
        attributes = {
            "RULE_ARN": delivery.rule_arn,
            "TARGET_ARN": delivery.function_arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
            "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        }
        self.kept.append({"deadLetter": json.loads(delivery.body), "attributes": attributes})
        self.send_to_queue(queue, delivery.body, attributes)


def invocation_record(delivery: Delivery, attempts: int, response: dict[str, Any]) -> dict[str, Any]:
    """The record Lambda sends an on-failure destination after the retries."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{delivery.function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": json.loads(delivery.body or "{}"),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": response,
    }
