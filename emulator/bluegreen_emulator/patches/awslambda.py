"""AWS Lambda: invocations of the stack's functions run the real handlers; EventBridge targets invoke them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.events.models import Rule as EventsRule

from .core import Patcher
from .stepfunctions import DELIVERIES

Invoke = Callable[[str, "str | bytes | None", dict[str, str]], bytes]


_STATES_CREDENTIAL = "Credential=ak/"  # moto's Step Functions interpreter signs its Lambda calls with key "ak"


DeliverAsync = Callable[[str, str, "str | None"], None]  # (function ARN, event JSON, EventBridge rule ARN)


def run_lambda_handlers(
    patcher: Patcher,
    invoke: Invoke,
    invoke_from_states: Invoke | None = None,
    deliver_async: DeliverAsync | None = None,
) -> None:
    """Lambda invocations run the stack's handlers: from EventBridge via ``invoke``, from Step Functions via
    ``invoke_from_states`` (which checks the state machine role's ``lambda:InvokeFunction``; default ``invoke``).
    ``deliver_async`` (:class:`.async_invoke.AsyncLambda`) runs the asynchronous ones with Lambda's retries and
    on-failure destination, and the EventBridge targets' dead-letter queue."""
    from_states = invoke_from_states or invoke

    def run_async(function_name: str, body: str | bytes | None, rule_arn: str | None = None) -> None:
        text = body.decode() if isinstance(body, bytes) else body or "{}"
        if deliver_async is not None:
            deliver_async(function_name, text, rule_arn)
        else:
            invoke(function_name, text, {})

    # moto gap: the simple Lambda backend (use_docker: False) answers every Invoke with a canned
    # payload; the emulator runs the function's real handler in this process instead.
    # Nor does moto's Step Functions check the state machine role before it invokes a function.
    def lambda_invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001 - moto's
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            # As in AWS, an asynchronous invocation (a function invoking another) returns at once and runs on its own.
            delivery = DELIVERIES.delivering()
            delivery.__enter__()  # counted before the thread starts: a waiter never misses it

            def run() -> None:
                try:
                    run_async(function_name, body)
                finally:
                    delivery.__exit__(None, None, None)

            threading.Thread(target=run, name=f"async-{function_name}", daemon=True).start()
            return b""
        if _STATES_CREDENTIAL not in str((headers or {}).get("Authorization", _STATES_CREDENTIAL)):
            # Not Step Functions (whose client signs with moto's "ak"): an operator's synchronous Invoke
            # (bluegreen events replay); their own IAM is not the emulator's to check.
            return invoke(function_name, body, response_headers)
        return from_states(function_name, body, response_headers)

    patcher.replace(LambdaSimpleBackend, "invoke", lambda_invoke)

    # moto gap: moto's EventBridge does not deliver events to Lambda targets, and it sends to a DISABLED rule's
    # targets too; deliver them as EventBridge does: nothing through a disabled rule; otherwise an asynchronous
    # invocation (Lambda's retries, then the function's on-failure destination; the target's dead-letter queue
    # when the target cannot be invoked), and leave the other targets to moto.
    original_send = EventsRule.send_to_targets

    def send_to_targets(rule, original_event, transform_input=True):  # noqa: ANN001 - moto's signature
        # moto's PutEvents sends to every matching rule, a disabled one too. AWS: "A disabled rule won't match
        # any events" (EventBridge API reference, DisableRule:
        # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html); EnableRule resumes
        # deliveries. A test loses a rule's events by disabling it (Emulator.set_alarm_events).
        if rule.state == "DISABLED":
            return
        if not rule.event_pattern.matches_event(original_event):
            return
        functions = [t for t in rule.targets if ":lambda:" in t["Arn"]]
        for target in functions:
            run_async(target["Arn"], json.dumps(original_event, default=str), rule.arn)
        others = [t for t in rule.targets if t not in functions]
        if others:
            saved, rule.targets = rule.targets, others
            try:
                original_send(rule, original_event, transform_input)
            finally:
                rule.targets = saved

    patcher.replace(EventsRule, "send_to_targets", send_to_targets)
