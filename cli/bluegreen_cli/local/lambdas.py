"""Run the stack's Lambda handlers in this process when moto's Step Functions invokes them.

moto's simple Lambda backend (``use_docker: False``) answers every invocation
with a canned payload. The emulator replaces its ``invoke`` with a dispatcher
that loads the function's ``app.py`` from the template's ``CodeUri`` and calls
its handler, so the real state machine drives the real handlers. An exception
becomes a Lambda function error with ``errorType`` set to the exception's class
name, as in AWS, so the state machine's Retry and Catch route on it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from botocore.client import BaseClient
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import EmptyResult
from moto.ecr.models import ECRBackend
from moto.events.models import Rule as EventsRule
from moto.events.models import events_backends
from moto.stepfunctions.responses import StepFunctionResponse

from .template import FunctionSpec

_state = threading.local()


class _LogSink:
    """Where handler logs go: Powertools binds its stream when a handler module is imported."""

    def __init__(self) -> None:
        self.target: Any = None

    def write(self, text: str) -> int:
        return self.target.write(text) if self.target else len(text)

    def flush(self) -> None:
        if self.target:
            self.target.flush()


LOG_SINK = _LogSink()


def _route_logs(module: ModuleType) -> None:
    """Send the handler's Powertools log lines (bound to stdout) to ``LOG_SINK``."""
    for value in vars(module).values():
        if isinstance(value, Logger):
            for handler in value.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
                    handler.setStream(LOG_SINK)


@dataclass
class ApiCall:
    function: str
    service: str
    operation: str
    params: dict[str, Any]
    at: float = 0.0  # simulated seconds since the emulator started


@dataclass
class CallRecorder:
    """Every AWS API call a handler makes, in order."""

    calls: list[ApiCall] = field(default_factory=list)
    clock: Any = None  # SimClock, to stamp each call
    # Hooks run before each call (fault injection) and after it (invariant checks).
    before: list[Callable[[ApiCall], None]] = field(default_factory=list)
    after: list[Callable[[ApiCall], None]] = field(default_factory=list)

    def counts(self, first: int = 0) -> dict[str, int]:
        """Calls per ``service:Operation`` (from call number ``first`` on)."""
        return dict(sorted(Counter(f"{c.service}:{c.operation}" for c in self.calls[first:]).items()))


class FakeLambdaContext:
    def __init__(self, name: str, arn: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "emulator"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class Dispatcher:
    def __init__(self, recorder: CallRecorder, before_invoke: Callable[[], None] | None = None) -> None:
        self.recorder = recorder
        self.before_invoke = before_invoke
        self._functions: dict[str, FunctionSpec] = {}
        self._modules: dict[str, ModuleType] = {}
        self.invocations: Counter[str] = Counter()
        self.discard_metrics = True

    def register(self, function_name: str, spec: FunctionSpec) -> None:
        self._functions[function_name] = spec

    def _module(self, spec: FunctionSpec) -> ModuleType:
        if spec.logical_id not in self._modules:
            module_name, _ = spec.handler.rsplit(".", 1)
            path = Path(spec.code_dir) / f"{module_name.replace('.', '/')}.py"
            loader_spec = importlib.util.spec_from_file_location(f"bluegreen_fn_{spec.logical_id}", path)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
            _route_logs(module)
            self._modules[spec.logical_id] = module
        return self._modules[spec.logical_id]

    def invoke(self, function_name: str, body: str | bytes | None, response_headers: dict[str, str]) -> bytes:
        name = function_name.split(":function:")[-1].split(":")[0]
        spec = self._functions[name]
        if self.before_invoke:
            self.before_invoke()
        self.invocations[spec.logical_id] += 1
        handler = getattr(self._module(spec), spec.handler.rsplit(".", 1)[1])
        event = json.loads(body or "{}")
        context = FakeLambdaContext(name, f"arn:aws:lambda:emulator:function:{name}")
        _state.function = spec.logical_id
        try:
            result = handler(event, context)
            return json.dumps(result).encode()
        except Exception as error:  # noqa: BLE001 - every handler error becomes a Lambda function error
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
            return json.dumps(payload).encode()
        finally:
            _state.function = None
            if self.discard_metrics:
                # Powertools keeps disabled metrics and prints them once 100 pile up: drop them.
                for value in vars(self._module(spec)).values():
                    if isinstance(value, Metrics):
                        value.clear_metrics()


@contextlib.contextmanager
def installed(dispatcher: Dispatcher, environment: dict[str, str], log_stream: Any) -> Iterator[Dispatcher]:
    """Route moto Lambda invocations to ``dispatcher`` and record handlers' AWS calls."""
    original_invoke = LambdaSimpleBackend.invoke
    original_call = BaseClient._make_api_call
    saved_env = {key: os.environ.get(key) for key in environment}

    def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001 - moto's signature
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            # As in AWS, an asynchronous invocation returns at once (202) and runs on its own.
            from .patches import DELIVERIES

            def run() -> None:
                with DELIVERIES.delivering():
                    dispatcher.invoke(function_name, body, {})

            threading.Thread(target=run, name=f"async-{function_name}", daemon=True).start()
            return b""
        return dispatcher.invoke(function_name, body, response_headers)

    def make_api_call(self, operation_name, api_params):  # noqa: ANN001 - botocore's signature
        function = getattr(_state, "function", None)
        if function is None:
            return original_call(self, operation_name, api_params)
        at = dispatcher.recorder.clock.elapsed if dispatcher.recorder.clock else 0.0
        call = ApiCall(function, self.meta.service_model.service_name, operation_name, dict(api_params), at)
        for hook in dispatcher.recorder.before:
            hook(call)
        dispatcher.recorder.calls.append(call)
        result = original_call(self, operation_name, api_params)
        for hook in dispatcher.recorder.after:
            hook(call)
        return result

    def send_to_targets(rule, original_event, transform_input=True):  # noqa: ANN001 - moto's signature
        """moto's EventBridge has no Lambda targets: invoke them here, like EventBridge would."""
        if not rule.event_pattern.matches_event(original_event):
            return
        functions = [t for t in rule.targets if ":lambda:" in t["Arn"]]
        for target in functions:
            dispatcher.invoke(target["Arn"], json.dumps(original_event, default=str), {})
        others = [t for t in rule.targets if t not in functions]
        if others:
            saved, rule.targets = rule.targets, others
            try:
                original_send(rule, original_event, transform_input)
            finally:
                rule.targets = saved

    def send_task_failure(self):  # noqa: ANN001 - moto's signature
        """moto's SendTaskFailure drops ``cause``; pass it on as AWS does."""
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    def put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs):  # noqa: ANN001 - moto's
        """As in AWS, a successful push is published to EventBridge (``ECR Image Action``)."""
        image = original_put_image(self, repository_name, image_manifest, image_tag, *args, **kwargs)
        detail = {
            "result": "SUCCESS",
            "repository-name": repository_name,
            "image-digest": image.get_image_digest(),
            "action-type": "PUSH",
            "image-tag": image_tag,
        }
        events_backends[self.account_id][self.region_name].put_events(
            [{"Source": "aws.ecr", "DetailType": "ECR Image Action", "Detail": json.dumps(detail), "Resources": []}]
        )
        return image

    original_put_image = ECRBackend.put_image
    ECRBackend.put_image = put_image
    original_task_failure = StepFunctionResponse.send_task_failure
    StepFunctionResponse.send_task_failure = send_task_failure
    original_send = EventsRule.send_to_targets
    LambdaSimpleBackend.invoke = invoke
    BaseClient._make_api_call = make_api_call
    EventsRule.send_to_targets = send_to_targets
    os.environ.update(environment)
    # Handlers log through Powertools to stdout; in the emulator their lines go to ``log_stream``.
    LOG_SINK.target = log_stream
    try:
        yield dispatcher
    finally:
        LambdaSimpleBackend.invoke = original_invoke
        BaseClient._make_api_call = original_call
        EventsRule.send_to_targets = original_send
        ECRBackend.put_image = original_put_image
        StepFunctionResponse.send_task_failure = original_task_failure
        LOG_SINK.target = None
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
