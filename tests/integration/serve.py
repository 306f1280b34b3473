"""`bluegreen local serve` in another process, and the commands the tests run against it.

Shared by the tests that drive the endpoint from outside (the AWS CLI, the GitHub Action's script,
a hostile user): one way to start it, read what it prints and stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(**extra: str) -> dict[str, str]:
    """This environment without AWS, bluegreen or Slack settings, with dummy credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BLUEGREEN_", "SLACK_"))}
    env.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"})
    env.update(extra)
    return env


def start_serve(port: int) -> tuple[subprocess.Popen, list[str]]:
    """Start `bluegreen local serve` on ``port``; returns it once it says ``Ready.``, with what it printed."""
    process = subprocess.Popen(
        [str(BIN / "bluegreen"), "local", "serve", "--port", str(port)],
        env=serve_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("Ready.") or not line:
            break
    assert lines[-1].startswith("Ready."), "".join(lines)
    return process, lines


def printed(lines: list[str], label: str) -> str:
    """The value `local serve` printed after ``label`` (``state machine``, ``table``...)."""
    return next(line.split()[-1] for line in lines if line.strip().startswith(label))


@contextlib.contextmanager
def serving() -> Iterator[dict[str, Any]]:
    """A running `local serve`: its url, port, state machine, table, process and output lines.

    Once stopped, ``"stopped"`` holds its exit code and what it printed after ``Ready.``.
    """
    port = free_port()
    process, lines = start_serve(port)
    served: dict[str, Any] = {
        "url": f"http://127.0.0.1:{port}",
        "port": port,
        "arn": printed(lines, "state machine"),
        "table": printed(lines, "table"),
        "process": process,
        "lines": lines,
    }
    # Its output is read as it comes: a pipe nobody reads fills up (64 KiB) and blocks the server's logging,
    # hence every request (werkzeug logs each one).
    after_ready: list[str] = []
    reader = threading.Thread(target=lambda: after_ready.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=30)
        served["stopped"] = (process.returncode, "".join(after_ready))


def aws(endpoint: dict[str, Any], *args: str) -> dict:
    """The AWS CLI against the endpoint; its JSON answer."""
    result = subprocess.run(
        [str(BIN / "aws"), "--endpoint-url", endpoint["url"], "--output", "json", *args],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "{}")


def approve(endpoint: dict[str, Any], service: str = "demo-web") -> None:
    """`bluegreen approve` against the endpoint, once the approval is pending."""
    env = serve_env(
        AWS_ENDPOINT_URL=endpoint["url"], BLUEGREEN_STATE_MACHINE_ARN=endpoint["arn"], BLUEGREEN_TABLE=endpoint["table"]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = subprocess.run(
            [str(BIN / "bluegreen"), "approve", service, "--reason", "e2e"], env=env, capture_output=True, text=True
        )
        if result.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"could not approve: {result.stdout} {result.stderr}")


def wait_done(endpoint: dict[str, Any], execution_arn: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        description = aws(endpoint, "stepfunctions", "describe-execution", "--execution-arn", execution_arn)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.5)
    raise AssertionError("execution still running")
