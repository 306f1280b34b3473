"""The Python runtime of a user's Lambda function on the emulator: one invocation, in its own process.

Run by :mod:`.user_lambdas` as ``python -I -B lambda_bootstrap.py CODE_DIR HANDLER RESULT_FILE FUNCTION_TMP
EMULATOR_ROOT``, with the event on stdin and the function's environment as the process environment. It imports
only the standard library (nothing of the emulator), puts the function's extracted zip first on ``sys.path``,
maps ``/tmp`` to the function's own temporary directory, calls the handler and writes what Lambda would answer
to RESULT_FILE: ``{"ok": true, "payload": <the result>}`` or ``{"ok": false, "payload": <error object>}``.

The error objects are the Python runtime's (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``), with
its ``Runtime.*`` types for a bad handler, a module that does not import and a result that is not JSON
(AWS Lambda developer guide, "AWS Lambda function errors in Python":
https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html). The function's prints and logs go to
this process's stdout/stderr, which the emulator keeps as the invocation's log.
"""

from __future__ import annotations

import builtins
import importlib
import io
import json
import os
import sys
import time
import traceback
from typing import Any

_PATH_FUNCTIONS = (
    "stat", "lstat", "listdir", "scandir", "mkdir", "remove", "unlink", "rmdir", "access", "chmod", "utime",
    "open", "truncate", "readlink",
)  # fmt: skip
_TWO_PATH_FUNCTIONS = ("rename", "replace", "link", "symlink")


def _own_tmp(function_tmp: str, emulator_root: str) -> None:
    """``/tmp/...`` means the function's own directory: a function never sees another function's /tmp.

    Lambda gives each execution environment its own ``/tmp``; without a mount namespace, this process remaps the
    paths its Python code opens. The emulator's own directory for the functions (which may lie under /tmp) is
    left as it is, so the code and the result file stay reachable, and so is the runtime's own installation (its
    interpreter and packages, which may lie under /tmp too, e.g. a checkout in /tmp): Lambda's runtime lives
    outside the function's /tmp.
    """
    runtime = {sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if p)}
    runtime |= {os.path.realpath(p) for p in runtime}
    kept = tuple(sorted({emulator_root, *(p for p in runtime if p.rstrip("/") not in ("", "/tmp"))}))

    def remap(path: Any) -> Any:
        if isinstance(path, int):
            return path
        try:
            text = os.fspath(path)
        except TypeError:
            return path
        as_str = os.fsdecode(text)
        if as_str.startswith(kept):
            return path
        if as_str == "/tmp" or as_str.startswith("/tmp/"):
            mapped = function_tmp + as_str[len("/tmp") :]
            return os.fsencode(mapped) if isinstance(text, bytes) else mapped
        return path

    def one(original: Any) -> Any:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            return original(remap(path), *args, **kwargs)

        return wrapper

    def two(original: Any) -> Any:
        def wrapper(source: Any, destination: Any, *args: Any, **kwargs: Any) -> Any:
            return original(remap(source), remap(destination), *args, **kwargs)

        return wrapper

    for name in _PATH_FUNCTIONS:
        if hasattr(os, name):
            setattr(os, name, one(getattr(os, name)))
    for name in _TWO_PATH_FUNCTIONS:
        if hasattr(os, name):
            setattr(os, name, two(getattr(os, name)))
    opened = one(io.open)
    builtins.open = opened
    io.open = opened


class LambdaContext:
    """The context object of the Python runtime."""

    def __init__(self, deadline: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("BLUEGREEN_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = os.environ.get("BLUEGREEN_REQUEST_ID", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(message: str, kind: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": kind, "requestId": request_id, "stackTrace": stack or []}


def _handler_frames(error: BaseException) -> list[str]:
    """The stack trace lines from the handler's frame on (the bootstrap's own frame left out)."""
    frames = traceback.extract_tb(error.__traceback__)[1:]
    return traceback.format_list(frames)


def run(code_dir: str, handler: str, event: Any, request_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        return {
            "ok": False,
            "payload": _error(f"Bad handler '{handler}': {error}", "Runtime.MalformedHandlerName", request_id),
        }
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure is the runtime's ImportModuleError
        message = f"Unable to import module '{module_name}': {error}"
        return {"ok": False, "payload": _error(message, "Runtime.ImportModuleError", request_id)}
    function = getattr(module, function_name, None)
    if not callable(function):
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return {"ok": False, "payload": _error(message, "Runtime.HandlerNotFound", request_id)}
    try:
        result = function(event, LambdaContext(deadline))
    except Exception as error:  # noqa: BLE001 - every handler exception is a function error
        return {"ok": False, "payload": _error(str(error), type(error).__name__, request_id, _handler_frames(error))}
    try:
        json.dumps(result)
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return {"ok": False, "payload": _error(message, "Runtime.MarshalError", request_id)}
    return {"ok": True, "payload": result}


def main() -> None:
    code_dir, handler, result_file, function_tmp, emulator_root = sys.argv[1:6]
    sys.path[:] = [code_dir, *(p for p in sys.path[1:] if p)]  # the zip first; not this script's directory
    os.chdir(code_dir)  # the runtime's working directory is the task root
    _own_tmp(function_tmp, emulator_root)
    raw = sys.stdin.buffer.read()
    request_id = os.environ.get("BLUEGREEN_REQUEST_ID", "")
    timeout = float(os.environ.get("BLUEGREEN_TIMEOUT", "3"))
    try:
        event = json.loads(raw or b"{}")
    except ValueError as error:
        outcome = {
            "ok": False,
            "payload": _error(f"Could not parse request body into json: {error}", "Runtime.UnmarshalError", request_id),
        }
    else:
        outcome = run(code_dir, handler, event, request_id, timeout)
    sys.stdout.flush()
    sys.stderr.flush()
    with builtins.open(result_file, "w", encoding="utf-8") as out:
        json.dump(outcome, out)


if __name__ == "__main__":
    main()
