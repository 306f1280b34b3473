"""Patches of moto internals that make the emulator as strict as AWS.

Each patch names the moto gap it fills in a comment starting ``# moto gap:``. They are
installed for the emulator's lifetime by :func:`installed` (the emulator enters it).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.events.models import events_backends
from moto.stepfunctions.parser.asl.component.program import program as program_module
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

# AWS ends a Standard execution that runs for one year (TIMED_OUT, no Catch).
ONE_YEAR_SECONDS = 365 * 24 * 3600
STATUS_CHANGE = "Step Functions Execution Status Change"

_DYNAMODB_LOCK = threading.RLock()
_DYNAMODB_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
)


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
    detail = {
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
def installed(execution_timeout: Callable[[], float | None] | None = None) -> Iterator[None]:
    """Install every patch; ``execution_timeout`` answers the limit in (simulated) seconds, set by the caller."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    # moto gap: moto's DynamoDB conditional writes are not atomic across the server's threads (two racing
    # conditional updates can both succeed, and a read during a write sees "dictionary changed size").
    # DynamoDB's are: one lock serialises every item operation.
    for method in _DYNAMODB_METHODS:
        original = getattr(DynamoDBBackend, method, None)
        if original is None:
            continue

        def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return __original(*args, **kwargs)

        patch(DynamoDBBackend, method, functools.wraps(original)(locked))

    # moto gap: StartExecution without a name uses the name "None" (a second unnamed start is refused as a
    # duplicate); AWS generates a unique name (a UUID).
    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):  # noqa: ANN001
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    patch(StepFunctionsParserBackend, "start_execution", start_execution)

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
        original_set_timed_out(self)
        _interrupt_waits(self)

    def set_stop(self, stop_date, cause, error):  # noqa: ANN001 - moto's signature
        original_set_stop(self, stop_date, cause, error)
        _interrupt_waits(self)

    patch(Environment, "set_error", set_error)
    patch(Environment, "set_timed_out", set_timed_out)
    patch(Environment, "set_stop", set_stop)

    # moto gap: an execution runs for ever when the definition has no TimeoutSeconds; AWS ends a Standard
    # execution TIMED_OUT after one year. The limit is counted in the emulator's simulated time.
    original_eval = program_module.Program.eval

    def program_eval(self, env):  # noqa: ANN001 - moto's signature
        limit = execution_timeout() if execution_timeout else None
        if self.timeout_seconds or limit is None or env.is_frame():
            return original_eval(self, env)
        return _eval_with_limit(self, env, limit)

    patch(program_module.Program, "eval", program_eval)

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

    patch(Execution, "start", start)
    patch(BaseExecutionWorkerCommunication, "terminated", terminated)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _interrupt_waits(env: Any) -> None:
    pool = getattr(env.callback_pool_manager, "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def _eval_with_limit(program: Any, env: Any, limit: float) -> None:
    """``Program.eval`` with the execution's time limit counted on the simulated clock."""
    from bluegreen import clock  # the emulator points the workflow clock at its SimClock

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
