"""Entry point of the GitHub Action (``action.yml``): start a deployment, wait as asked, report.

The composite action runs ``python -m bluegreen_cli.action`` with its inputs as ``INPUT_*``
environment variables (the names GitHub gives JavaScript and Docker actions' inputs: upper case,
``-`` kept as ``_`` here); each can also be passed as an option (``--service web``), which wins.

1. ``bluegreen deploy`` starts the deployment (every ``deploy`` option can be passed through with
   ``deploy-args``); its one-line errors end the step (exit 1).
2. ``wait-for``: ``started`` returns at once; ``approval`` returns as soon as the release waits for
   a person (or, when it needs no approval, when it ends); ``completion`` waits for the end.
3. The job summary (``$GITHUB_STEP_SUMMARY``) gets the execution and its console link, the pending
   approval (gate, how to answer, the test URL) and the outcome; ``$GITHUB_OUTPUT`` gets
   ``execution-arn``, ``outcome``, ``console-url`` and ``gate-id``.

Exit status 0 unless the deployment could not start, or (``completion``) did not end deployed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WAIT_FOR = ("started", "approval", "completion")
ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
EXECUTION_LINE = re.compile(r"^Execution: (arn:\S+:execution:\S+)$", re.MULTILINE)


@dataclass
class Inputs:
    service: str
    image_tag: str = ""
    images: str = ""  # multiline NAME=TAG
    task_definition: str = ""
    region: str = ""
    stack_name: str = ""
    wait_for: str = "approval"
    deploy_args: str = ""
    poll_seconds: float = 15.0
    timeout_minutes: float = 0.0  # 0: as long as the job may run


class ActionError(Exception):
    """A one-line reason the step fails."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bluegreen_cli.action", description=__doc__.split("\n\n")[0])
    for name in Inputs.__dataclass_fields__:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None)
    return parser


def read_inputs(argv: list[str] | None, env: dict[str, str]) -> Inputs:
    """Options first, then ``INPUT_*`` variables (``INPUT_IMAGE-TAG`` or ``INPUT_IMAGE_TAG``)."""
    given = vars(_parser().parse_args(argv))
    values: dict[str, Any] = {}
    for name in Inputs.__dataclass_fields__:
        value = given.get(name)
        if value is None:
            upper = name.upper()
            value = env.get(f"INPUT_{upper}", env.get(f"INPUT_{upper.replace('_', '-')}"))
        if value is None or value == "":  # GitHub passes an input left out as ""
            continue
        values[name] = value.strip() if isinstance(value, str) else value
    if not values.get("service"):
        raise ActionError("input 'service' is required")
    inputs = Inputs(**values)
    inputs.poll_seconds = float(inputs.poll_seconds)
    inputs.timeout_minutes = float(inputs.timeout_minutes)
    if inputs.wait_for not in WAIT_FOR:
        raise ActionError(f"input 'wait-for' must be one of {', '.join(WAIT_FOR)}, not '{inputs.wait_for}'")
    if not (inputs.image_tag or inputs.images or inputs.task_definition):
        raise ActionError("give 'image-tag', 'images' or 'task-definition': what to deploy")
    return inputs


def deploy_argv(inputs: Inputs) -> list[str]:
    """The ``bluegreen deploy`` command line for the inputs."""
    argv = ["deploy", inputs.service]
    if inputs.image_tag:
        argv.append(inputs.image_tag)
    for line in inputs.images.splitlines():
        if line.strip():
            argv += ["--image", line.strip()]
    if inputs.task_definition:
        argv += ["--task-definition", inputs.task_definition]
    argv += shlex.split(inputs.deploy_args)
    if inputs.region:
        argv += ["--region", inputs.region]
    if inputs.stack_name:
        argv += ["--stack", inputs.stack_name]
    return argv


def start(inputs: Inputs, main: Callable[[list[str]], int]) -> str:
    """Run ``bluegreen deploy`` in this process; its output is echoed, its ARN returned."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(deploy_argv(inputs))
    sys.stdout.write(out.getvalue())
    if code != 0:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        raise ActionError(
            (lines[-1] if lines else f"bluegreen deploy failed (exit status {code})").removeprefix("error: ")
        )
    match = EXECUTION_LINE.search(out.getvalue())
    if not match:
        raise ActionError("bluegreen deploy printed no execution ARN")
    return match.group(1)


# --- waiting -----------------------------------------------------------------------------------------
@dataclass
class Report:
    execution_arn: str
    status: str  # the execution's
    outcome: str  # started | awaiting-approval | deployed | rolled_back | cleaned_up | failed | ... | running
    gate: Any = None  # the pending approval Gate
    error: str | None = None
    cause: str | None = None


def outcome_of(operator: Any, service: str, execution_arn: str, status: str) -> str:
    """The deployment's recorded outcome (deployments table), else one from the execution's status."""
    for item in operator.store.deployments(service, limit=20):
        if item["executionArn"] == execution_arn and item["status"] != "RUNNING":
            return str(item["status"])
    return {"SUCCEEDED": "deployed", "ABORTED": "aborted", "TIMED_OUT": "timed_out"}.get(status, "failed")


def wait(
    operator: Any,
    inputs: Inputs,
    execution_arn: str,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Report:
    if inputs.wait_for == "started":
        return Report(execution_arn, "RUNNING", "started")
    deadline = monotonic() + inputs.timeout_minutes * 60 if inputs.timeout_minutes > 0 else None
    sfn = operator.clients.sfn
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        status = description["status"]
        if status in ENDED:
            outcome = outcome_of(operator, inputs.service, execution_arn, status)
            return Report(execution_arn, status, outcome, None, description.get("error"), description.get("cause"))
        if inputs.wait_for == "approval":
            gate = operator.store.open_gate_of(inputs.service)
            if gate and gate.kind == "approval" and gate.executionArn == execution_arn:
                return Report(execution_arn, status, "awaiting-approval", gate)
        if deadline is not None and monotonic() >= deadline:
            return Report(execution_arn, status, "running")
        sleep(inputs.poll_seconds)


# --- reporting ---------------------------------------------------------------------------------------
def write_outputs(path: str | None, outputs: dict[str, str]) -> None:
    """``$GITHUB_OUTPUT``: ``name=value`` lines; a multiline value in a ``name<<DELIMITER`` block."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as file:
        for name, value in outputs.items():
            if "\n" in value:
                delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
                file.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                file.write(f"{name}={value}\n")


def summary_markdown(inputs: Inputs, report: Report, console: str) -> str:
    name = report.execution_arn.rsplit(":", 1)[-1]
    what = inputs.image_tag or ", ".join(line.strip() for line in inputs.images.splitlines() if line.strip())
    lines = [
        f"### Blue/green deployment of `{inputs.service}` ({what or inputs.task_definition})",
        "",
        "| | |",
        "|---|---|",
        f"| Execution | [{name}]({console}) |",
        f"| Outcome | **{report.outcome}** |",
    ]
    if report.gate:
        gate = report.gate
        lines.append(f"| Approval | [{gate.gateId} waits for a person]({console}) until {gate.expiresAt} |")
        lines.append(
            f"| Answer | `bluegreen approve {inputs.service}` or `bluegreen reject {inputs.service} --reason ...` |"
        )
        if gate.channel:
            lines.append(f"| Slack | channel `{gate.channel}`, message `{gate.ts or 'not posted yet'}` |")
        if gate.testUrl:
            lines.append(f"| Test green at | {gate.testUrl} |")
    if report.error:
        cause = " ".join(str(report.cause or "").split())[:500].replace("|", "\\|")
        lines.append(f"| Error | `{report.error}`: {cause} |")
    if report.outcome in ("started", "awaiting-approval", "running"):
        lines += ["", f"Follow it with `bluegreen follow {report.execution_arn}`."]
    return "\n".join(lines) + "\n"


def report(inputs: Inputs, result: Report, env: dict[str, str]) -> None:
    from .operator import console_url

    console = console_url(result.execution_arn)
    write_outputs(
        env.get("GITHUB_OUTPUT"),
        {
            "execution-arn": result.execution_arn,
            "outcome": result.outcome,
            "console-url": console,
            "gate-id": result.gate.gateId if result.gate else "",
        },
    )
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as file:
            file.write(summary_markdown(inputs, result, console))
    sys.stdout.write(f"Outcome: {result.outcome} ({result.status}); {console}\n")


def _credentials_missing(inputs: Inputs) -> bool:
    import boto3

    return boto3.session.Session(region_name=inputs.region or None).get_credentials() is None


def _operator(inputs: Inputs) -> Any:
    import boto3

    from .common import DEFAULT_STACK, STACK_ENV
    from .operator import Clients, Operator

    session = boto3.session.Session(region_name=inputs.region or None)
    stack = inputs.stack_name or os.environ.get(STACK_ENV) or DEFAULT_STACK
    return Operator(Clients(session), stack=stack)


def run(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    try:
        inputs = read_inputs(argv, env)
        if _credentials_missing(inputs):
            raise ActionError(
                "no AWS credentials: add aws-actions/configure-aws-credentials (OIDC role) before this step"
            )
        from .main import main

        execution_arn = start(inputs, main)
        result = wait(_operator(inputs), inputs, execution_arn)
    except ActionError as error:
        return _fail(str(error))
    except Exception as error:  # noqa: BLE001 - an AWS failure is one line in the step's log, never a traceback
        from .main import describe_failure

        return _fail(describe_failure(error)[1].removeprefix("error: "))
    report(inputs, result, env)
    if inputs.wait_for == "completion" and result.outcome not in ("deployed", "running"):
        sys.stderr.write(f"error: the deployment ended {result.outcome}: {result.error or result.status}\n")
        return 1
    return 0


def _fail(message: str) -> int:
    """One line in the log (and an annotation on the run), exit status 1: the step fails."""
    message = " ".join(message.split())
    sys.stdout.write(f"::error title=bluegreen deploy::{message}\n")
    sys.stderr.write(f"error: {message}\n")
    return 1


if __name__ == "__main__":
    sys.exit(run())
