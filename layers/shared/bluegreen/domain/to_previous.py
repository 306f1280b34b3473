"""Roll back to the previous release after a release finished.

Shared by ``bluegreen rollback SERVICE --to-previous`` and the *Roll back to previous* Slack button
on the "deployed" message: the refusal rules and the execution input are the same for both.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen.domain.history import Release, live_release, previous_release, releases
from bluegreen.domain.models import ExecutionInput

ACTION_ID = "to_previous"  # the Slack button
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
BUTTON_VALUE = re.compile(r"(?P<service>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})\|(?P<execution>[A-Za-z0-9_-]{1,80})")


@dataclass(frozen=True)
class Plan:
    live: Release
    previous: Release


@dataclass(frozen=True)
class Refusal:
    reason: str  # "running" | "no-release" | "no-previous" | "not-live"
    message: str
    holder: str | None = None


def plan(store: Any, service: str, running: Callable[[str], bool], expected_live: str | None = None) -> Plan | Refusal:
    """What ``--to-previous`` would deploy for ``service`` now, or why it is refused (nothing started)."""
    holder = store.lock_holder(service)
    if holder and running(holder):
        return Refusal("running", f"'{service}' is being deployed by {holder}", holder)
    history = releases(store.deployments(service, limit=100))
    live, previous = live_release(history), previous_release(history)
    if live is None:
        return Refusal("no-release", f"no successful release of '{service}' is recorded")
    if expected_live and live.name != expected_live:
        return Refusal("not-live", f"{expected_live} is no longer the live release of '{service}' ({live.name} is)")
    if previous is None:
        return Refusal("no-previous", f"no successful release of '{service}' before {live.imageTag} is recorded")
    return Plan(live, previous)


def execution_name(service: str, tag: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{_NAME_UNSAFE.sub('-', f'{service}-rollback-{tag}')[:56]}-{stamp}-{secrets.token_hex(2)}"


def start(
    sfn: Any,
    state_machine_arn: str,
    service: str,
    chosen: Plan,
    tag: str,
    requested_by: str,
    require_approval: bool = False,
) -> str:
    """Start the deployment of ``chosen.previous``; returns the execution ARN."""
    request = ExecutionInput(
        service=service,
        requestedBy=requested_by[:200],
        rollbackOf=chosen.live.executionArn,
        requireApproval=True if require_approval else None,
        **release_of(chosen.previous, tag),
    )
    return sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution_name(service, tag),
        input=json.dumps(request.model_dump(mode="json", exclude_none=True)),
    )["executionArn"]


def release_of(previous: Release, tag: str) -> dict[str, Any]:
    """How the execution input names the previous release.

    Its whole task definition when one is recorded (the revision green ran, its images pinned by digest:
    environment, secrets, sizes and sidecars come back too; CreateGreen registers a copy, so a revision
    deregistered since still works); only its main image, by digest, for a release recorded before
    task definitions were.
    """
    if previous.taskDefinition:
        return {"taskDefinition": previous.taskDefinition}
    return {"imageTag": tag, "imageDigest": previous.imageDigest}


def button_value(service: str, execution_name_: str) -> str:
    """The Slack button's value: which release it was shown under (it must still be live when clicked)."""
    return f"{service}|{execution_name_}"
