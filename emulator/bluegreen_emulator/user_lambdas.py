"""Users' Lambda functions on the emulator: created with ``CreateFunction`` (a Python zip), run on ``Invoke``.

moto's simple Lambda backend stores a function and answers every invocation with a canned payload; the
stack's own functions run in the emulator's process (:mod:`.lambdas`). A function a user creates through the
API (``aws lambda create-function --zip-file fileb://hook.zip`` against ``bluegreen local serve``, or boto3 in a
test) runs here instead, the way Lambda runs it:

* in **its own process** per invocation (:mod:`.lambda_bootstrap`), started from the function's zip extracted
  to its own directory: no module of one function is seen by another, nor by the emulator;
* with **its own environment**: the function's ``Environment.Variables`` and Lambda's reserved variables
  (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ...), nothing of the emulator's environment;
* with **its own /tmp**, a directory of that function kept between its invocations (as a warm environment
  keeps it), never shared with another function;
* within **its configured timeout** (real seconds: the code really runs): past it the process is killed and the
  invocation answers ``FunctionError: Unhandled`` with ``Sandbox.Timedout`` / ``Task timed out after N.NN
  seconds``, as Lambda does (Lambda developer guide, "Troubleshoot invocation issues", timeouts:
  https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html; the payload as observed from AWS
  in floci-io/floci#3314).

The function's configuration (handler, environment, timeout, memory, code) is read from moto at each
invocation, so ``UpdateFunctionConfiguration`` and ``UpdateFunctionCode`` apply to the next one. Only Python
zips run: ``CreateFunction`` with another runtime, an image, or a zip that is not one is refused with
``InvalidParameterValueException``, saying which runtimes the emulator runs.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, ValidationException
from moto.awslambda.models import LambdaBackend, LambdaFunction, _zipfile_content
from moto.awslambda_simple.models import lambda_simple_backends

from .patches import Patcher, check_moto_version

RUNTIMES = ("python3.11", "python3.12", "python3.13")
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
MAX_TIMEOUT = 900  # seconds (Lambda quotas)
MEMORY_RANGE = (128, 10_240)  # MB (Lambda quotas)
LOG_TAIL_BYTES = 4096  # Invoke's LogResult holds the last 4 KB of the invocation's log

# Lambda refuses these in a function's Environment.Variables: it sets them itself (Lambda developer guide,
# "Defined runtime environment variables": https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_caller = threading.local()


def invoked_by_state_machine() -> bool:
    """True while moto's Step Functions interpreter invokes a function on this thread (a Task state)."""
    return bool(getattr(_caller, "states", False))


def refusal(spec: dict[str, Any]) -> str | None:
    """Why ``CreateFunction`` with ``spec`` cannot run on the emulator (``None``: it can). Pure."""
    runtime = spec.get("Runtime")
    if spec.get("PackageType", "Zip") != "Zip" or "ImageUri" in (spec.get("Code") or {}):
        return (
            "The emulator runs .zip packages only, not container images: package the function as a .zip "
            f"for one of {', '.join(RUNTIMES)}."
        )
    if runtime not in RUNTIMES:
        return (
            f"The emulator runs Python functions only: runtime {runtime!r} is not one of {', '.join(RUNTIMES)}. "
            "Write the function for one of those runtimes, or test it on AWS."
        )
    reserved = sorted(set((spec.get("Environment") or {}).get("Variables") or {}) & RESERVED_VARIABLES)
    if reserved:
        return (
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
            f"in this request: {','.join(reserved)}"
        )
    return None


def zip_refusal(code_bytes: bytes) -> str | None:
    """Why ``code_bytes`` is not a deployable .zip (``None``: it is)."""
    if not zipfile.is_zipfile(io.BytesIO(code_bytes)):
        return "Could not unzip uploaded file. Please check your file, then try to upload again."
    return None


@dataclass(frozen=True)
class Invocation:
    """What one invocation answered: the payload, Lambda's FunctionError (or None), the function's log."""

    payload: bytes
    function_error: str | None
    log: str


class UserFunctions:
    """The functions users created through the Lambda API, each run in its own process on ``Invoke``."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.root = Path(tempfile.mkdtemp(prefix="bluegreen-functions-"))
        self.invocations: Counter[str] = Counter()
        self.logs: dict[str, str] = {}  # function name -> the log of its latest invocation (tail)
        # Where the function's boto3 calls go (AWS_ENDPOINT_URL): ``bluegreen local serve`` sets its own URL.
        self.endpoint_url: str | None = None
        self._patcher: Patcher | None = None
        self._lock = threading.Lock()

    # --- the Lambda API ------------------------------------------------------------------------
    def install(self) -> None:
        """Refuse at CreateFunction what cannot run here; note Step Functions' invocations (IAM's caller)."""
        check_moto_version()
        patcher = Patcher()
        original_create = LambdaBackend.create_function
        original_update_code = LambdaBackend.update_function_code

        # moto gap (moto 5.2.5): CreateFunction stores any runtime and any bytes as the code; the emulator runs
        # Python zips only, and says so at create time rather than at the first invocation.
        def create_function(backend: Any, spec: dict[str, Any]) -> LambdaFunction:
            problem = refusal(spec)
            if problem:
                raise InvalidParameterValueException(problem)
            _check_limits(spec)
            zipped = (spec.get("Code") or {}).get("ZipFile")
            if zipped is not None:
                problem = zip_refusal(_zipfile_content(zipped)[0])
                if problem:
                    raise InvalidParameterValueException(problem)
            return original_create(backend, spec)

        # moto gap (moto 5.2.5): UpdateFunctionCode stores any bytes; Lambda refuses what is not a .zip.
        def update_function_code(backend: Any, function_name: str, qualifier: Any, body: dict[str, Any]) -> Any:
            if body.get("ZipFile") is not None:
                problem = zip_refusal(_zipfile_content(body["ZipFile"])[0])
                if problem:
                    raise InvalidParameterValueException(problem)
            return original_update_code(backend, function_name, qualifier, body)

        patcher.replace(LambdaBackend, "create_function", create_function)
        patcher.replace(LambdaBackend, "update_function_code", update_function_code)

        # moto gap (moto 5.2.5): moto's Step Functions invokes a Task's function as any caller would; the emulator
        # marks the thread so the invocation is authorized against the state machine's role, not the account's.
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        original_integration = lambda_eval_utils.execute_lambda_function_integration

        def execute_lambda_function_integration(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(_caller, "states", False)
            _caller.states = True
            try:
                return original_integration(*args, **kwargs)
            finally:
                _caller.states = outer

        patcher.replace(lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration)
        self._patcher = patcher

    def close(self) -> None:
        if self._patcher:
            self._patcher.restore()
            self._patcher = None
        shutil.rmtree(self.root, ignore_errors=True)

    # --- invocations ---------------------------------------------------------------------------
    def _function(self, name: str) -> LambdaFunction:
        """moto's function (raises its ResourceNotFoundException when there is none)."""
        return lambda_simple_backends[self.account][self.region].get_function(name, None)

    def _code_dir(self, function: LambdaFunction) -> Path:
        """The function's zip, extracted once per code version to the function's own directory."""
        digest = str(getattr(function, "code_digest", "") or "nocode")[:16]
        target = self.root / function.function_name / f"code-{digest}"
        with self._lock:
            if not target.exists():
                partial = target.with_name(target.name + ".partial")
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir(parents=True)
                code = getattr(function, "code_bytes", b"")
                if zip_refusal(code) is None:
                    with zipfile.ZipFile(io.BytesIO(code)) as archive:
                        archive.extractall(partial)
                partial.rename(target)
        return target

    def _tmp_dir(self, name: str) -> Path:
        path = self.root / name / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def environment(self, function: LambdaFunction, code_dir: Path, request_id: str) -> dict[str, str]:
        """The process environment of one invocation: Lambda's variables and the function's own, nothing else."""
        name = function.function_name
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": str(function.handler or ""),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"emulator/[$LATEST]{request_id.replace('-', '')}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The function's role's temporary credentials, as Lambda provides them (the emulator takes any).
            "AWS_ACCESS_KEY_ID": "ASIAEMULATORFUNCTION",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "AWS_SESSION_TOKEN": "emulator",
            "TMPDIR": str(self._tmp_dir(name)),
            "BLUEGREEN_FUNCTION_ARN": function.function_arn,
            "BLUEGREEN_REQUEST_ID": request_id,
            "BLUEGREEN_TIMEOUT": str(function.timeout),
        }
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        return env

    def run(self, name: str, body: str | bytes | None) -> Invocation:
        """Invoke the function ``name`` (a name or ARN) synchronously with the event ``body``."""
        name = name.split(":function:")[-1].split(":")[0]
        function = self._function(name)
        self.invocations[function.function_name] += 1
        request_id = str(uuid.uuid4())
        code_dir = self._code_dir(function)
        timeout = float(function.timeout)
        event = body.encode() if isinstance(body, str) else (body or b"{}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.root / function.function_name) as scratch:
            result_file = Path(scratch) / "result.json"
            command = [
                sys.executable, "-I", "-B", str(BOOTSTRAP),
                str(code_dir), str(function.handler or ""), str(result_file),
                str(self._tmp_dir(function.function_name)), str(self.root),
            ]  # fmt: skip
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.environment(function, code_dir, request_id),
                cwd=code_dir,
                start_new_session=True,  # its own process group: a timeout kills what it started too
            )
            try:
                output, _ = process.communicate(event, timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
                message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
                return self._answer(function, request_id, started, error, True, output)
            if not result_file.exists():  # the process ended without an answer (sys.exit, a crash, os._exit)
                status = f"exit status {process.returncode}" if process.returncode >= 0 else "signal: killed"
                message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
                error = {"errorType": "Runtime.ExitError", "errorMessage": message}
                return self._answer(function, request_id, started, error, True, output)
            outcome = json.loads(result_file.read_text(encoding="utf-8"))
        return self._answer(function, request_id, started, outcome["payload"], not outcome["ok"], output)

    def _answer(
        self, function: LambdaFunction, request_id: str, started: float, payload: Any, failed: bool, output: bytes
    ) -> Invocation:
        """The invocation's answer, and its log as Lambda writes it (START, the function's output, END, REPORT)."""
        duration = (time.monotonic() - started) * 1000
        log = (
            f"START RequestId: {request_id} Version: $LATEST\n{output.decode(errors='replace')}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {math.ceil(duration)} ms"
            f"\tMemory Size: {function.memory_size} MB\n"
        )
        self.logs[function.function_name] = log
        return Invocation(json.dumps(payload).encode(), "Unhandled" if failed else None, log)

    def invoke(self, function_name: str, body: str | bytes | None, response_headers: dict[str, str]) -> bytes:
        """The emulator's Lambda ``Invoke`` of a user function: the payload, FunctionError in the headers."""
        answer = self.run(function_name, body)
        if answer.function_error:
            response_headers["x-amz-function-error"] = answer.function_error
        # LogResult: the last 4 KB of the log, base64 (moto drops the header unless the caller asked LogType Tail).
        tail = answer.log.encode()[-LOG_TAIL_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        return answer.payload


def _check_limits(spec: dict[str, Any]) -> None:
    """Lambda's quotas on Timeout (1-900 s) and MemorySize (128-10,240 MB); moto stores any value."""
    for key, field_name, (low, high) in (
        ("Timeout", "timeout", (1, MAX_TIMEOUT)),
        ("MemorySize", "memorySize", MEMORY_RANGE),
    ):
        value = spec.get(key)
        if value is None or low <= int(value) <= high:
            continue
        bound = f"greater than or equal to {low}" if int(value) < low else f"less than or equal to {high}"
        raise ValidationException(str(value), field_name, f"Member must have value {bound}")


__all__ = ["RUNTIMES", "Invocation", "UserFunctions", "invoked_by_state_machine", "refusal"]
