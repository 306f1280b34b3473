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
import functools
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
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from bluegreen.deps import Deps

from .patches import (
    Patcher,
    codedeploy_alarm_configuration,
    pass_task_failure_cause,
    publish_ecr_pushes,
    route_rules,
    run_lambda_handlers,
    wrap_api_calls,
)
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


@contextlib.contextmanager
def outside_handlers() -> Iterator[None]:
    """Calls made by an AWS service itself (Lambda sending an invocation record), not by a handler:
    neither recorded nor checked against the handler's policy."""
    outer = getattr(_state, "function", None)
    _state.function = None
    try:
        yield
    finally:
        _state.function = outer


def current_function() -> str | None:
    """Logical id of the function whose handler runs on this thread (None outside handlers)."""
    return getattr(_state, "function", None)


class _ContainerParameters:
    """Powertools ``parameters`` with one cache per function: each Lambda function runs in its own container.

    One shared cache would let a function read a secret another function fetched, so a missing
    ``secretsmanager:GetSecretValue`` permission would go unnoticed.
    """

    def __init__(self) -> None:
        self._providers: dict[str | None, SecretsProvider] = {}
        self._lock = threading.Lock()

    def get_secret(self, name: str, **kwargs: Any) -> Any:
        with self._lock:
            provider = self._providers.setdefault(current_function(), SecretsProvider())
        return provider.get(name, **kwargs)

    def clear_caches(self) -> None:
        with self._lock:
            self._providers.clear()
        parameters.clear_caches()

    def __getattr__(self, name: str) -> Any:
        return getattr(parameters, name)


CONTAINER_PARAMETERS = _ContainerParameters()


def _own_container(module: ModuleType) -> None:
    """Give a handler module its own process-wide caches, as its own Lambda container would have."""
    for name, value in list(vars(module).items()):
        wrapped = getattr(value, "__wrapped__", None)
        if callable(value) and hasattr(value, "cache_clear") and wrapped is not None:
            setattr(module, name, functools.cache(wrapped))  # e.g. get_notifier: one Slack client per function
        elif type(value) is Deps:
            setattr(module, name, _ContainerDeps())  # the handler's deps: its own Slack client too


class _ContainerDeps(Deps):
    """A handler's :class:`Deps` whose Slack notifier belongs to that function alone (its own container)."""

    def __init__(self) -> None:
        super().__init__()
        self._own_notifier: Any = None

    @property
    def notifier(self) -> Any:
        if self._own_notifier is None:
            from bluegreen.slack.notify import get_notifier

            self._own_notifier = get_notifier.__wrapped__()
        return self._own_notifier


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


class FunctionTimedOut(BaseException):  # noqa: N818 - a BaseException: a handler's ``except Exception`` misses it
    """The function's simulated time ran past its ``Timeout``: Lambda ends the invocation there."""


class FakeLambdaContext:
    def __init__(self, name: str, arn: str, remaining: Callable[[], float] | None = None) -> None:
        self._remaining = remaining or (lambda: 60.0)
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "emulator"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._remaining() * 1000))


@dataclass
class _Budget:
    """A running invocation's time: its function's Timeout and the simulated seconds it has waited so far.

    Only the handler's own waits count (``bluegreen.domain.clock.sleep``): other executions move the shared simulated
    clock while a handler runs, faster than real time, and that is no time the handler spent.
    """

    timeout: float
    waited: float = 0.0

    @property
    def left(self) -> float:
        return self.timeout - self.waited


def _budget() -> _Budget | None:
    """The time budget of the stack function running on this thread (``None``: none runs)."""
    return getattr(_state, "budget", None)


def timeout_payload(timeout: float) -> dict[str, Any]:
    """What Lambda answers for an invocation that ran out of time (a function error)."""
    return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}


def as_states_error(payload: bytes, response_headers: dict[str, str]) -> bytes:
    """The function error as Step Functions names it: a timeout is ``Lambda.Unknown``.

    Step Functions reports unhandled Lambda errors, which "include out-of-memory errors and function timeouts", as
    Lambda.Unknown (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
    """
    if not response_headers.get("x-amz-function-error") or b'"Sandbox.Timedout"' not in payload:
        return payload
    cause = f"Lambda did not return an error type. Returned payload: {payload.decode()}"
    return json.dumps({"errorType": "Lambda.Unknown", "errorMessage": cause}).encode()


class Dispatcher:
    def __init__(self, recorder: CallRecorder, before_invoke: Callable[[], None] | None = None) -> None:
        self.recorder = recorder
        self.before_invoke = before_invoke
        self._functions: dict[str, FunctionSpec] = {}
        self._modules: dict[str, ModuleType] = {}
        self._callables: dict[str, Callable[[dict[str, Any], Any], Any]] = {}  # Demo hook functions
        self.invocations: Counter[str] = Counter()
        self.async_lambda: Any = None  # AsyncLambda: asynchronous invocations, retries, destinations
        self.timeouts: Counter[str] = Counter()  # invocations that ran past their function's Timeout
        self.discard_metrics = True
        # IAM: checks each AWS call of a function against its policy (raises the access-denied ClientError).
        self.authorize: Callable[[str, str, str, dict[str, Any]], None] | None = None
        # The state machine's role must allow lambda:InvokeFunction on each function it invokes.
        self.authorize_invoke: Callable[[str], bool] | None = None
        # Functions outside the stack, created through the Lambda API (:mod:`.user_lambdas`): each runs in its own
        # process; an invocation of a name the stack does not know goes there.
        self.user_functions: Callable[[str, str | bytes | None, dict[str, str]], bytes] | None = None

    def sleep(self, seconds: float, inner: Callable[[float], None]) -> None:
        """A handler's wait (``clock.sleep``): past its function's Timeout, the invocation ends there."""
        budget = _budget()
        if budget is not None and seconds > budget.left:
            inner(max(0.0, budget.left))
            budget.waited = budget.timeout
            raise FunctionTimedOut
        inner(seconds)
        if budget is not None:
            budget.waited += seconds

    def register(self, function_name: str, spec: FunctionSpec) -> None:
        self._functions[function_name] = spec

    def register_callable(self, function_name: str, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        """A function outside the stack (a user's hook), run in this process."""
        self._functions.pop(function_name, None)
        self._callables[function_name] = handler

    def _invoke_callable(self, name: str, body: str | bytes | None, response_headers: dict[str, str]) -> bytes:
        self.invocations[name] += 1
        try:
            return json.dumps(self._callables[name](json.loads(body or "{}"), None)).encode()
        except Exception as error:  # noqa: BLE001 - every handler error becomes a Lambda function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()

    def _module(self, spec: FunctionSpec) -> ModuleType:
        if spec.logical_id not in self._modules:
            module_name, _ = spec.handler.rsplit(".", 1)
            path = Path(spec.code_dir) / f"{module_name.replace('.', '/')}.py"
            loader_spec = importlib.util.spec_from_file_location(f"bluegreen_fn_{spec.logical_id}", path)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
            _route_logs(module)
            _own_container(module)
            self._modules[spec.logical_id] = module
        return self._modules[spec.logical_id]

    def invoke(self, function_name: str, body: str | bytes | None, response_headers: dict[str, str]) -> bytes:
        name = function_name.split(":function:")[-1].split(":")[0]
        if name in self._callables:
            return self._invoke_callable(name, body, response_headers)
        if name not in self._functions and self.user_functions:
            return self.user_functions(function_name, body, response_headers)
        spec = self._functions[name]
        if self.before_invoke:
            self.before_invoke()
        self.invocations[spec.logical_id] += 1
        handler = getattr(self._module(spec), spec.handler.rsplit(".", 1)[1])
        event = json.loads(body or "{}")
        outer = getattr(_state, "function", None)  # an EventBridge target invoked while a handler runs
        outer_budget = _budget()
        # The function's Timeout from the template, in simulated time: a handler that waits (clock.sleep) past
        # it is ended there, as Lambda ends it (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html).
        budget = _Budget(spec.timeout)
        context = FakeLambdaContext(name, f"arn:aws:lambda:emulator:function:{name}", lambda: budget.left)
        _state.function = spec.logical_id
        _state.budget = budget
        try:
            result = handler(event, context)
            return json.dumps(result).encode()
        except FunctionTimedOut:
            self.timeouts[spec.logical_id] += 1
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(timeout_payload(spec.timeout)).encode()
        except Exception as error:  # noqa: BLE001 - every handler error becomes a Lambda function error
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
            return json.dumps(payload).encode()
        finally:
            _state.function = outer
            _state.budget = outer_budget
            if self.discard_metrics:
                # Powertools keeps disabled metrics and prints them once 100 pile up: drop them.
                for value in vars(self._module(spec)).values():
                    if isinstance(value, Metrics):
                        value.clear_metrics()


@contextlib.contextmanager
def installed(dispatcher: Dispatcher, environment: dict[str, str], log_stream: Any) -> Iterator[Dispatcher]:
    """Route moto Lambda invocations to ``dispatcher`` and record handlers' AWS calls."""
    saved_env = {key: os.environ.get(key) for key in environment}

    def record(original_call, client, operation_name, api_params):  # noqa: ANN001 - botocore's signature
        function = getattr(_state, "function", None)
        if function is None:
            return original_call(client, operation_name, api_params)
        at = dispatcher.recorder.clock.elapsed if dispatcher.recorder.clock else 0.0
        call = ApiCall(function, client.meta.service_model.service_name, operation_name, dict(api_params), at)
        for hook in dispatcher.recorder.before:
            hook(call)
        dispatcher.recorder.calls.append(call)
        if dispatcher.authorize:  # the emulator checks the function's own IAM policy (moto checks none)
            dispatcher.authorize(function, call.service, operation_name, api_params)
        result = original_call(client, operation_name, api_params)
        for hook in dispatcher.recorder.after:
            hook(call)
        return result

    def invoke_from_states(function_name: str, body: str | bytes | None, response_headers: dict[str, str]) -> bytes:
        """The state machine invokes a function: its role must allow it (moto checks no role)."""
        from_handler = getattr(_state, "function", None) is not None  # RunHooks, checked by ``record``
        if not from_handler and dispatcher.authorize_invoke and not dispatcher.authorize_invoke(function_name):
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "AccessDeniedException", "errorMessage": "lambda:InvokeFunction"}).encode()
        return as_states_error(dispatcher.invoke(function_name, body, response_headers), response_headers)

    from bluegreen.domain import clock as workflow_clock

    inner_sleep = workflow_clock._sleeper  # noqa: SLF001 - the simulated clock's, set by compressed_time

    from bluegreen.slack import client as slack_module  # the handlers' Slack secrets come through Powertools

    original_parameters = slack_module.parameters
    slack_module.parameters = CONTAINER_PARAMETERS  # one secrets cache per function, as per container
    CONTAINER_PARAMETERS.clear_caches()
    patcher = Patcher()
    publish_ecr_pushes(patcher)
    pass_task_failure_cause(patcher)
    codedeploy_alarm_configuration(patcher)
    route_rules(patcher)
    deliver_async = dispatcher.async_lambda.deliver if dispatcher.async_lambda is not None else None
    run_lambda_handlers(patcher, dispatcher.invoke, invoke_from_states, deliver_async)
    wrap_api_calls(patcher, record)
    os.environ.update(environment)
    workflow_clock.set_sleeper(lambda seconds: dispatcher.sleep(seconds, inner_sleep))
    # Handlers log through Powertools to stdout; in the emulator their lines go to ``log_stream``.
    LOG_SINK.target = log_stream
    try:
        yield dispatcher
    finally:
        patcher.restore()
        workflow_clock.set_sleeper(inner_sleep)
        slack_module.parameters = original_parameters
        LOG_SINK.target = None
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
