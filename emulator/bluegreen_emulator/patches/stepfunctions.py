"""AWS Step Functions: task failures' causes, simulated time, executions that end (stop, time limit,
status-change events) and redrive, as in AWS."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import events_backends
from moto.stepfunctions.exceptions import (
    AWSError,
)
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from .core import Patcher
from .dynamodb import _DYNAMODB_LOCK, _DYNAMODB_METHODS


def pass_task_failure_cause(patcher: Patcher) -> None:
    # moto gap: moto's SendTaskFailure drops ``cause``; AWS passes it on to the execution.
    def send_task_failure(self):  # noqa: ANN001 - moto's signature
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    patcher.replace(StepFunctionResponse, "send_task_failure", send_task_failure)


def simulate_time(
    patcher: Patcher,
    advance: Callable[[float], None],
    callback_wait: Callable[[Any, float | None], None],
    sleep_module: Any,
    threading_module: Any,
) -> None:
    """Waits, retries, callback tasks and task timeouts of moto's interpreter run on the simulated clock.

    ``callback_wait(notify_event, timeout)`` waits for a task token's answer in simulated time;
    ``sleep_module`` and ``threading_module`` stand in for ``time`` and ``threading``.
    """

    # moto gap: a ``Wait`` state really sleeps; it moves the simulated clock instead.
    def wait_interval(self, env, wait_seconds):  # noqa: ANN001 - moto's signature
        if wait_seconds > 0 and env.is_running():
            advance(wait_seconds)

    patcher.replace(wait_function.WaitFunction, "_wait_interval", wait_interval)
    # moto gap: ``Retry`` intervals really sleep (time.sleep in the retrier); they move the clock instead.
    patcher.replace(retrier_decl, "time", sleep_module)

    # moto gap: a ``waitForTaskToken`` task waits in real time and its timeout counts real seconds;
    # simulated time passes while it waits (alarms fire, the timeout arrives in simulated time).
    def wait(self, timeout=None):  # noqa: ANN001 - moto's signature
        callback_wait(self._notify_event, timeout)
        return self._outcome

    patcher.replace(CallbackEndpoint, "wait", wait)
    # moto gap: a task's ``TimeoutSeconds`` is a threading.Event wait in real seconds; count simulated ones.
    patcher.replace(execute_state, "threading", threading_module)


SFN_ERROR_MAX = 256  # SendTaskFailure error


SFN_CAUSE_MAX = 32_768  # SendTaskFailure cause


SFN_OUTPUT_MAX = 262_144  # SendTaskSuccess output (256 KiB)


# AWS ends a Standard execution that runs for one year (TIMED_OUT, no Catch).
ONE_YEAR_SECONDS = 365 * 24 * 3600


STATUS_CHANGE = "Step Functions Execution Status Change"


class Deliveries:
    """Status-change events being delivered to their targets (the emulator waits for them)."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        with self._cond:
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


DELIVERIES = Deliveries()


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The EventBridge entry AWS publishes for a status change of a Standard execution."""
    status = execution.exec_status.value
    state_machine_arn = execution.state_machine_arn
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": None if status == "RUNNING" else _millis(execution.stop_date),
        "input": execution.execution_input or "{}",
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": getattr(execution, "error", None),
        "cause": getattr(execution, "cause", None),
    }
    # No redriveCount / redriveDate: they are not among the event's documented fields (Step Functions developer
    # guide, "Automating Step Functions event delivery with EventBridge"), so the emulator publishes only those;
    # a redrive shows in DescribeExecution's documented redriveCount (patched in above).
    if status == "SUCCEEDED":
        detail["output"] = json.dumps(execution.output)
        detail["outputDetails"] = {"included": True}
    return {
        "Source": "aws.states",
        "DetailType": STATUS_CHANGE,
        "Detail": json.dumps(detail, default=str),
        "Resources": [execution.exec_arn],
    }


def _publish(execution: Any) -> None:
    with DELIVERIES.delivering():
        events_backends[execution.account_id][execution.region_name].put_events([status_change_event(execution)])


@contextlib.contextmanager
def execution_lifecycle(execution_timeout: Callable[[], float | None] | None = None) -> Iterator[None]:
    """Executions end as in AWS (stopped, timed out, named), their status changes are published,
    and DynamoDB item writes are atomic; ``execution_timeout`` answers the limit in (simulated) seconds."""
    patcher = Patcher()

    # moto gap: moto's DynamoDB conditional writes are not atomic across the server's threads (two racing
    # conditional updates can both succeed), and its responses are built from the live items after the backend
    # call returned (a read racing a write fails with "dictionary changed size during iteration"). DynamoDB's
    # item operations are atomic and isolated: one lock serialises every request, the backend call and the
    # response built from its items (nothing here calls moto's DynamoDB backend other than through a request).
    for method in _DYNAMODB_METHODS:
        handler = getattr(DynamoHandler, method, None)
        if handler is None:
            continue

        def serialised(*args: Any, __handler: Any = handler, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return __handler(*args, **kwargs)

        patcher.replace(DynamoHandler, method, functools.wraps(handler)(serialised))

    # moto gap: StartExecution without a name uses the name "None" (a second unnamed start is refused as a
    # duplicate); AWS generates a unique name (a UUID).
    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):  # noqa: ANN001
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    patcher.replace(StepFunctionsParserBackend, "start_execution", start_execution)

    # moto gap: StopExecution of an execution waiting for a task token ends it FAILED (the interrupted wait
    # is reported as an error that overwrites the stopped state) and the wait may go on; the same for a
    # timeout. AWS ends it ABORTED (TIMED_OUT) at once and runs no further state: the end wins over any
    # later error, and the waits end.
    original_set_error = Environment.set_error
    original_set_timed_out = Environment.set_timed_out
    original_set_stop = Environment.set_stop

    def set_error(self, error):  # noqa: ANN001 - moto's signature
        if isinstance(self._program_state, ProgramStopped | ProgramTimedOut):
            return  # the execution already ended; the interrupted wait's error is not an end
        original_set_error(self, error)

    def set_timed_out(self):  # noqa: ANN001 - moto's signature
        if isinstance(self._program_state, ProgramStopped):
            return
        _end_history(self)
        original_set_timed_out(self)
        _interrupt_waits(self)

    def set_stop(self, stop_date, cause, error):  # noqa: ANN001 - moto's signature
        _end_history(self)
        original_set_stop(self, stop_date, cause, error)
        _interrupt_waits(self)

    patcher.replace(Environment, "set_error", set_error)
    # moto gap: a timeout does not end the execution's waits (see above).
    patcher.replace(Environment, "set_timed_out", set_timed_out)
    # moto gap: StopExecution does not end the execution's waits (see above).
    patcher.replace(Environment, "set_stop", set_stop)

    # moto gap: after StopExecution (or the time limit) moto's interpreter goes on recording the events of the
    # state it was in: a waitForTaskToken task stopped before its wait began no longer evaluates its
    # TimeoutSeconds, pops the state's input as the timeout and records a TaskFailed ("States.Runtime",
    # "unsupported operand type(s) for +: 'float' and 'dict'") before ExecutionAborted. AWS records nothing
    # of the interrupted state after the stop: the history ends with ExecutionAborted (ExecutionTimedOut).
    original_add_event = EventManager.add_event

    def add_event(self, context, event_type, *args, **kwargs):  # noqa: ANN001 - moto's signature
        if getattr(self, "ended", False) and event_type not in (
            HistoryEventType.ExecutionAborted,
            HistoryEventType.ExecutionTimedOut,
        ):
            return context.last_published_event_id
        return original_add_event(self, context, event_type, *args, **kwargs)

    patcher.replace(EventManager, "add_event", add_event)

    # moto gap: an execution runs for ever when the definition has no TimeoutSeconds; AWS ends a Standard
    # execution TIMED_OUT after one year. The limit is counted in the emulator's simulated time.
    original_eval = program_module.Program.eval

    def program_eval(self, env):  # noqa: ANN001 - moto's signature
        limit = execution_timeout() if execution_timeout else None
        if self.timeout_seconds or limit is None or env.is_frame():
            original_eval(self, env)
        else:
            _eval_with_limit(self, env, limit)
        _record_early_stop(env)

    patcher.replace(program_module.Program, "eval", program_eval)

    # moto gap: moto publishes no execution status changes to EventBridge; AWS publishes
    # "Step Functions Execution Status Change" (source aws.states) for RUNNING and every end.
    original_start_exec = Execution.start
    original_terminated = BaseExecutionWorkerCommunication.terminated

    def start(self):  # noqa: ANN001 - moto's signature
        original_start_exec(self)
        if type(self) is Execution:  # Standard executions only (express/sync ones publish nothing)
            _publish(self)

    def terminated(self):  # noqa: ANN001 - moto's signature
        original_terminated(self)
        if type(self.execution) is Execution:
            _publish(self.execution)

    patcher.replace(Execution, "start", start)
    # moto gap: nor is the end of an execution published (see above).
    patcher.replace(BaseExecutionWorkerCommunication, "terminated", terminated)

    # moto gap: moto has no RedriveExecution. AWS resumes a FAILED, ABORTED or TIMED_OUT Standard execution
    # (ended in the last 14 days) from the state that did not finish, with that state's input, under the
    # same ARN; the history goes on with ExecutionRedriven, redriveCount grows, and the RUNNING status
    # change is published with it. Any other execution is refused with ExecutionNotRedrivable.
    patcher.replace(StepFunctionsParserBackend, "redrive_execution", redrive_execution, missing=True)
    # moto gap: nor does its API answer RedriveExecution (see above).
    patcher.replace(StepFunctionResponse, "redrive_execution", _redrive_response, missing=True)
    # moto gap: moto's StopExecution drops the error and cause it is given; AWS records them in the
    # ExecutionAborted event (what the console shows as why the execution was stopped).
    patcher.replace(StepFunctionResponse, "stop_execution", _stop_response)
    # moto gap: DescribeExecution answers no redriveCount / redriveDate / redriveStatus, which AWS documents
    # (DescribeExecution, Step Functions API reference) and ExecutionEnded reads to recognise a redrive.
    original_describe_execution = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> Any:
        result = original_describe_execution(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        response = dict(result.result)
        response["redriveCount"] = int(getattr(execution, "redrive_count", 0) or 0)
        if getattr(execution, "redrive_date", None):
            response["redriveDate"] = execution.redrive_date
        if execution.status == "RUNNING":
            response["redriveStatus"] = "NOT_REDRIVABLE"
        return ActionResult(response)

    patcher.replace(StepFunctionResponse, "describe_execution", describe_execution)
    try:
        yield
    finally:
        patcher.restore()


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


REDRIVE_WINDOW = timedelta(days=14)


def unfinished_state(events: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """The state an execution was in when it ended (entered, never exited), and its input."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in events:
        if event["type"].endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            open_states[details["name"]] = json.loads(details.get("input") or "{}")
            order.append(details["name"])
        elif event["type"].endswith("StateExited"):
            open_states.pop(event["stateExitedEventDetails"]["name"], None)
    last = next((name for name in reversed(order) if name in open_states), None)
    return (last, open_states[last]) if last is not None else None


class _RedriveWorker(ExecutionWorker):
    """Runs an execution again from ``state`` with ``state_input``; its history goes on from ``previous``."""

    def __init__(self, base: ExecutionWorker, state: str, state_input: Any, previous: list[Any], count: int):
        super().__init__(
            evaluation_details=base._evaluation_details,
            exec_comm=base._execution_communication,
            cloud_watch_logging_session=base._cloud_watch_logging_session,
            activity_store=base._activity_store,
        )
        self._state, self._state_input, self._previous, self._count = state, state_input, previous, count

    def _get_evaluation_entrypoint(self) -> Any:
        definition = json.loads(self._evaluation_details.state_machine_details.definition)
        definition["StartAt"] = self._state
        return AmazonStateLanguageParser.parse(json.dumps(definition))[0]

    def prepare(self) -> None:
        """Build the environment before the thread starts: a StopExecution right after the redrive finds it."""
        self._program = self._get_evaluation_entrypoint()
        self.env = env = self._get_evaluation_environment()
        env.states.reset(input_value=self._state_input)  # $$.Execution.Input stays the original input
        manager = env.event_manager
        manager._history_event_list.extend(self._previous)
        manager._event_id_gen._next_id = len(self._previous) + 1
        env.event_history_context.source_event_id = len(self._previous)
        manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails={"redriveCount": self._count}),
            update_source_event_id=False,
        )

    def _execution_logic(self) -> None:
        assert self.env is not None
        self._program.eval(self.env)
        self._execution_communication.terminated()


def redrive_execution(self: Any, execution_arn: str, client_token: str | None = None) -> Any:
    execution = self.describe_execution(execution_arn)
    status = execution.exec_status.value if execution.exec_status else "RUNNING"
    if type(execution) is not Execution or status not in ("FAILED", "ABORTED", "TIMED_OUT"):
        raise ExecutionNotRedrivable(f"Execution {execution_arn} is {status}: it cannot be redriven.")
    if execution.stop_date and datetime.now(UTC) - execution.stop_date > REDRIVE_WINDOW:
        raise ExecutionNotRedrivable(f"Execution {execution_arn} ended more than 14 days ago.")
    previous = execution.exec_worker.env.event_manager.get_event_history()
    unfinished = unfinished_state(previous)
    if unfinished is None:
        raise ExecutionNotRedrivable(f"Execution {execution_arn} has no unfinished state to redrive.")
    execution.redrive_count = getattr(execution, "redrive_count", 0) + 1
    execution.redrive_date = datetime.now(UTC)
    worker = _RedriveWorker(execution._get_start_execution_worker(), *unfinished, previous, execution.redrive_count)
    worker.prepare()
    execution.exec_worker = worker
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None
    worker.start()
    _publish(execution)
    return execution


def _redrive_response(self: Any) -> Any:
    execution = self.stepfunction_backend.redrive_execution(
        self._get_param("executionArn"), self._get_param("clientToken")
    )
    return ActionResult({"redriveDate": execution.redrive_date})


def _stop_response(self: Any) -> Any:
    arn = self._get_param("executionArn")
    backend = self.stepfunction_backend
    execution = backend.describe_execution(arn)
    if execution.status == "RUNNING":
        error, cause = self._get_param("error") or "", self._get_param("cause") or ""
        execution.stop(stop_date=datetime.now(UTC), error=error[:256], cause=cause[:32768])
    return ActionResult({"stopDate": execution.stop_date or datetime.now(UTC)})


def _record_early_stop(env: Any) -> None:
    """moto gap: a StopExecution that lands before the program evaluates its first state (a stop right
    after StartExecution or RedriveExecution) ends the execution ABORTED without an ExecutionAborted event,
    so its error and cause are lost. AWS always ends the history with ExecutionAborted."""
    state = env.program_state()
    if env.is_frame() or not isinstance(state, ProgramStopped):
        return
    history = env.event_manager.get_event_history()
    if history and history[-1]["type"] == HistoryEventType.ExecutionAborted:
        return
    env.event_history_context.source_event_id = 0
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionAborted,
        event_details=EventDetails(executionAbortedEventDetails={"error": state.error, "cause": state.cause}),
    )


def _end_history(env: Any) -> None:
    """The execution ended (StopExecution, its time limit): its history takes only the terminal event now.

    The execution's own environment only: a frame (a Parallel branch stopped because a sibling failed, a Map
    iteration) shares the execution's event manager, and its stop ends nothing but itself."""
    if not env.is_frame():
        env.event_manager.ended = True


def _interrupt_waits(env: Any) -> None:
    pool = getattr(env.callback_pool_manager, "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def _eval_with_limit(program: Any, env: Any, limit: float) -> None:
    """``Program.eval`` with the execution's time limit counted on the simulated clock."""
    from bluegreen.domain import clock  # the emulator points the workflow clock at its SimClock

    env.next_state_name = program.start_at.start_at_name
    started = clock.now()
    worker = threading.Thread(target=super(program_module.Program, program).eval, args=(env,), daemon=True)
    program_module.TMP_THREADS.append(worker)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.005)
        if worker.is_alive() and (clock.now() - started).total_seconds() >= limit:
            env.set_timed_out()
            worker.join(timeout=5)
            return
