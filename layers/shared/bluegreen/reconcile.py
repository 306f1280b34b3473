"""The reconciler: what a lost event left behind, repaired on a schedule (every 5 minutes).

EventBridge delivers ``Step Functions Execution Status Change`` on a best-effort basis, and an
asynchronous invocation that keeps failing is dropped after its retries: a deployment whose end
never reached ExecutionEnded keeps its lock, its open gate, its green task set and the pending
release behind it. For each configured service the reconciler looks at every execution the table
still names (the lock's holder, deployments recorded RUNNING, the open gate's execution):

* still RUNNING (or ended less than :data:`GRACE_SECONDS` ago, its event may be on its way): left alone;
* ended: the execution-ended path (:func:`bluegreen.steps.execution_ended.run`) runs for it, as the
  lost event would have, then any lock or gate it still holds is released or closed;
* gone (``ExecutionDoesNotExist``): its gate is closed and its lock released.

A pending release nobody waits for any more is started. It also reports (once, by Slack, an
EventBridge event and ``bluegreen status``) an image pushed to a service's repository with a tag
that service auto-deploys, pushed more than :data:`UNSEEN_AFTER_SECONDS` ago, that no deployment,
pending release or execution knows: ECR push events are best effort too.

Every repair is logged, published as a ``Leftover Repaired`` event (source ``bluegreen.deployments``,
schema ``events/reconciler-event.schema.json``) and recorded on the service for ``bluegreen status``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from bluegreen import trigger
from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.aws.events import SOURCE
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.models import Model
from bluegreen.domain.settings import get_settings

logger = Logger(child=True)

GRACE_SECONDS = 120  # an end younger than this may still have its status-change event on the way
UNSEEN_AFTER_SECONDS = 300  # a push the ECR trigger has not acted on after this long was not seen
UNSEEN_LOOKBACK = timedelta(days=1)  # older pushes are not reported (a new stack does not report history)
RECENT_DEPLOYMENTS = 5  # deployments of a service looked at (newest first)
RECORD_DAYS = 30  # how long a repair stays in the table (and in ``bluegreen status``)
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
Kind = Literal["lock", "gate", "green", "rules", "pending", "deployment", "unseen-push"]


class ReconcilerEvent(StrEnum):
    REPAIRED = "Leftover Repaired"
    UNSEEN_PUSH = "Image Push Unseen"


class Repair(BaseModel):
    """The ``detail`` of the reconciler's events: one leftover repaired (or an unseen push reported)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Reconciler event detail")

    service: str = Field(description="the service the leftover belongs to")
    kind: Kind = Field(description="what was left: lock, gate, green, rules, pending, deployment or unseen-push")
    action: str = Field(description="what the reconciler did about it, in words")
    executionArn: str | None = Field(default=None, description="the execution that left it (none for a push)")
    executionStatus: str | None = Field(default=None, description="that execution's status, or GONE")
    imageTag: str | None = Field(default=None, description="unseen-push: the tag pushed")
    imageDigest: str | None = Field(default=None, description="unseen-push: the digest pushed")
    at: str = Field(description="when the reconciler acted (ISO 8601, UTC)")


class ReconcileReport(Model):
    repairs: list[Repair] = []
    leftAlone: list[str] = []  # executions still running (or just ended): never touched
    services: int = 0


def repair_schema() -> dict[str, Any]:
    """JSON Schema of the detail (``events/reconciler-event.schema.json`` is this, pretty-printed)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/ecs-bluegreen/ecs-bluegreen/events/reconciler-event.schema.json",
        **Repair.model_json_schema(),
        "description": (
            f"The 'detail' of the EventBridge events with source '{SOURCE}' the reconciler publishes; detail-type "
            "is one of " + ", ".join(f"'{t.value}'" for t in ReconcilerEvent) + ". Generated from "
            "bluegreen.reconcile.Repair (python -m bluegreen.reconcile)."
        ),
        "x-detail-types": [t.value for t in ReconcilerEvent],
    }


# --- pure decisions ---------------------------------------------------------------------------
Verdict = Literal["leave", "end", "gone"]


def verdict(status: str | None, stopped_at: datetime | None, now: datetime, grace: float = GRACE_SECONDS) -> Verdict:
    """What to do about an execution the table still names (pure).

    ``status`` ``None``: the execution does not exist. A running execution, or one that ended less than
    ``grace`` seconds ago (ExecutionEnded may be handling its event right now), is left alone.
    """
    if status is None:
        return "gone"
    if status not in ENDED:
        return "leave"
    if stopped_at is not None and (now - stopped_at).total_seconds() < grace:
        return "leave"
    return "end"


def unseen(
    pushed: list[dict[str, Any]],
    known_digests: set[str],
    now: datetime,
    since: datetime | None = None,
    after: float = UNSEEN_AFTER_SECONDS,
) -> list[dict[str, Any]]:
    """The pushes (``imageDigest``, ``imageTag``, ``imagePushedAt``) nobody knows (pure).

    A push counts once it is ``after`` seconds old (the trigger has had its time), if it is newer than
    ``since`` (the service's newest deployment: an older push was superseded by what was deployed since)
    and than :data:`UNSEEN_LOOKBACK`.
    """
    oldest = max(now - UNSEEN_LOOKBACK, since) if since else now - UNSEEN_LOOKBACK
    result = []
    for image in pushed:
        at = image["imagePushedAt"]
        if image["imageDigest"] in known_digests or (now - at).total_seconds() < after or at <= oldest:
            continue
        result.append(image)
    return result


# --- the run ---------------------------------------------------------------------------------
class _Run:
    def __init__(self, deps: Deps, state_machine_arn: str, now: datetime) -> None:
        self.deps, self.state_machine_arn, self.now = deps, state_machine_arn, now
        self.report = ReconcileReport()
        self._described: dict[str, dict[str, Any] | None] = {}

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        if execution_arn not in self._described:
            try:
                with transient_errors():
                    described = self.deps.clients.sfn.describe_execution(executionArn=execution_arn)
                self._described[execution_arn] = dict(described)
            except ClientError as error:
                if error_code(error) != "ExecutionDoesNotExist":
                    raise
                self._described[execution_arn] = None
        return self._described[execution_arn]

    def repaired(self, service: str, kind: Kind, action: str, execution_arn: str | None, status: str | None) -> None:
        repair = Repair(
            service=service,
            kind=kind,
            action=action,
            executionArn=execution_arn,
            executionStatus=status,
            at=self.now.isoformat(),
        )
        self.report.repairs.append(repair)
        logger.warning("Reconciler repaired a leftover", extra=repair.model_dump(exclude_none=True))
        record(self.deps, repair)
        publish(self.deps, ReconcilerEvent.REPAIRED, repair)

    def service(self, service: str) -> None:
        store = self.deps.store
        candidates: list[str] = []
        holder = store.lock_holder(service)
        gate = store.open_gate_of(service)
        for arn in (
            holder,
            *(
                d.get("executionArn")
                for d in store.deployments(service, limit=RECENT_DEPLOYMENTS)
                if d.get("status") == "RUNNING"
            ),
            gate.executionArn if gate else None,
        ):
            if arn and arn not in candidates:
                candidates.append(str(arn))
        running = [arn for arn in candidates if verdict(*self._status(arn), self.now, grace=0) == "leave"]
        for arn in candidates:
            self.execution(service, arn, running_other=next((r for r in running if r != arn), None))
        started = trigger.start_pending(store, self.deps.clients.sfn, self.state_machine_arn, service)
        if started:
            self.repaired(service, "pending", "started the pending release", started, "RUNNING")

    def _status(self, execution_arn: str) -> tuple[str | None, datetime | None]:
        description = self.describe(execution_arn)
        if description is None:
            return None, None
        stopped = _parse_time(description["stopDate"]) if description.get("stopDate") else None
        return str(description["status"]), stopped

    def execution(self, service: str, execution_arn: str, running_other: str | None = None) -> None:
        """Repair what ``execution_arn`` left; ``running_other``: another execution deploys the service now."""
        description = self.describe(execution_arn)
        status, stopped = self._status(execution_arn)
        if verdict(status, stopped, self.now) == "leave":
            self.report.leftAlone.append(execution_arn)
            return
        store = self.deps.store
        shown = status or "GONE"
        if running_other is not None:
            # Another deployment of the service runs: the routes and task sets are its own now, so the old
            # execution's saved context must not be restored. Only its own records are closed.
            deployment = store.deployment_of(service, execution_arn)
            if deployment and deployment.get("status") == "RUNNING":
                why = f"Ended ({shown}) while its end event was lost; superseded by {running_other}"
                store.record_end(service, execution_arn, (status or "aborted").lower(), "EndEventLost", why)
                self.repaired(service, "deployment", "recorded its end (another deployment runs)", execution_arn, shown)
            self._close_gate(service, execution_arn, shown)
            if store.release_lock(service, execution_arn):
                self.repaired(service, "lock", "released the lock", execution_arn, shown)
            return
        if description is None:
            # The execution is gone (its history expired, or it never started): nothing runs it any more. A
            # deployment still recorded RUNNING is cleaned up from its saved context, as a stop would be.
            deployment = store.deployment_of(service, execution_arn)
            if deployment and deployment.get("status") == "RUNNING":
                description = {
                    "status": "ABORTED",
                    "input": json.dumps({"service": service}),
                    "stateMachineArn": self.state_machine_arn,
                    "name": execution_arn.rsplit(":", 1)[-1],
                    "cause": "The execution no longer exists",
                }
        if description is not None:
            self._ended(service, execution_arn, description)
        self._close_gate(service, execution_arn, shown)
        if store.release_lock(service, execution_arn):
            self.repaired(service, "lock", "released the lock", execution_arn, shown)
        if description is None:
            deployment = store.deployment_of(service, execution_arn)
            if deployment and deployment.get("status") == "RUNNING":
                store.record_end(service, execution_arn, "failed", "ExecutionGone", "The execution no longer exists")
                self.repaired(service, "deployment", "recorded the deployment's end", execution_arn, shown)

    def _close_gate(self, service: str, execution_arn: str, shown: str) -> None:
        """Close the service's open gate if this (ended) execution opened it; its Slack message says so."""
        gate = self.deps.store.open_gate_of(service)
        if gate and gate.executionArn == execution_arn:
            closed = self.deps.store.close_open_gate(service, execution_arn, "EXPIRED", f"execution {shown.lower()}")
            if closed:
                self.deps.notifier.update_gate(closed)
                self.repaired(service, "gate", f"closed gate {closed.gateId} (EXPIRED)", execution_arn, shown)

    def _ended(self, service: str, execution_arn: str, description: dict[str, Any]) -> None:
        """Run the execution-ended path for an end whose event never arrived (or failed for good)."""
        from bluegreen.steps import execution_ended

        event = execution_ended.ExecutionStatusChangeEvent.model_validate(
            {
                "version": "0",
                "id": f"reconciler-{execution_arn.rsplit(':', 1)[-1]}",
                "detail-type": "Step Functions Execution Status Change",
                "source": "aws.states",
                "account": execution_arn.split(":")[4],
                "time": self.now.isoformat(),
                "region": execution_arn.split(":")[3],
                "resources": [execution_arn],
                "detail": {
                    "executionArn": execution_arn,
                    "stateMachineArn": description.get("stateMachineArn") or self.state_machine_arn,
                    "name": description.get("name"),
                    "status": description["status"],
                    "input": description.get("input"),
                    "error": description.get("error"),
                    "cause": description.get("cause"),
                    "redriveCount": int(description.get("redriveCount") or 0),
                },
            }
        )
        had_lock = self.deps.store.lock_holder(service) == execution_arn
        gate = self.deps.store.open_gate_of(service)
        had_gate = gate is not None and gate.executionArn == execution_arn
        ended = execution_ended.run(event, self.deps)
        status = description["status"]
        if ended.action != "nothing":
            self.repaired(
                service, "deployment", f"ran the execution-ended path ({ended.action})", execution_arn, status
            )
        if ended.deletedTaskSets:
            text = "deleted task set(s) " + ", ".join(ended.deletedTaskSets)
            self.repaired(service, "green", text, execution_arn, status)
        if ended.restoredRules:
            self.repaired(service, "rules", f"restored {len(ended.restoredRules)} route(s)", execution_arn, status)
        if had_lock and self.deps.store.lock_holder(service) != execution_arn:
            self.repaired(service, "lock", "released the lock", execution_arn, status)
        gate = self.deps.store.open_gate_of(service)
        if had_gate and (gate is None or gate.executionArn != execution_arn):
            self.repaired(service, "gate", "closed the gate", execution_arn, status)
        if ended.pendingStarted:
            self.repaired(service, "pending", "started the pending release", ended.pendingStarted, "RUNNING")

    def pushes(self, service: str, config: Any) -> None:
        """Report (once) pushes of a tag the service auto-deploys that nobody acted on."""
        if not config.repository or config.tagPattern is None:
            return
        images: list[Any] = []
        try:
            paginator = self.deps.clients.ecr.get_paginator("describe_images")
            with transient_errors():
                for page in paginator.paginate(repositoryName=config.repository, filter={"tagStatus": "TAGGED"}):
                    images.extend(page.get("imageDetails", []))
        except ClientError as error:
            logger.warning("Cannot list the repository's images", extra={"service": service, "error": str(error)})
            return
        pushed: list[dict[str, Any]] = []
        for image in images:
            tags = [t for t in image.get("imageTags", []) if trigger._skip_reason(config, config.repository, t) is None]
            pushed_at = _parse_time(image.get("imagePushedAt"))
            if tags and pushed_at is not None:
                pushed.append({"imageDigest": image["imageDigest"], "imageTag": tags[0], "imagePushedAt": pushed_at})
        store = self.deps.store
        deployments = store.deployments(service, limit=50)
        known = {str(d.get("imageDigest")) for d in deployments if d.get("imageDigest")}
        starts = [_parse_time(d.get("startedAt")) for d in deployments]
        since = max((t for t in starts if t is not None), default=None)
        pending = store.pending_of(service)
        if pending and pending.get("imageDigest"):
            known.add(str(pending["imageDigest"]))
        for found in unseen(pushed, known, self.now, since):
            name = trigger.execution_name(service, found["imageDigest"])
            if self.describe(trigger.execution_arn(self.state_machine_arn, name)) is not None:
                continue  # the trigger started it (the deployment item may not be written yet)
            if not store.note_unseen_push(service, found["imageDigest"], found["imageTag"]):
                continue  # reported before
            repair = Repair(
                service=service,
                kind="unseen-push",
                action=(
                    f"push of {found['imageTag']} was not deployed: no ECR event reached the trigger; "
                    f"deploy it with: bluegreen deploy {service} {found['imageTag']}"
                ),
                imageTag=found["imageTag"],
                imageDigest=found["imageDigest"],
                at=self.now.isoformat(),
            )
            self.report.repairs.append(repair)
            logger.warning("Image push no deployment knows", extra=repair.model_dump(exclude_none=True))
            record(self.deps, repair)
            publish(self.deps, ReconcilerEvent.UNSEEN_PUSH, repair)
            if config.slackChannel:
                try:
                    self.deps.notifier.note(config.slackChannel, None, f"{service}: {repair.action}")
                except Exception:  # noqa: BLE001 - Slack is best effort; the event and the record say it too
                    logger.exception("Slack note about an unseen push failed", extra={"service": service})


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run(deps: Deps, now: datetime | None = None) -> ReconcileReport:
    """One pass over every configured service (the scheduled invocation)."""
    state_machine_arn = get_settings().require("STATE_MACHINE_ARN").stateMachineArn
    reconciler = _Run(deps, state_machine_arn, now or clock.now())
    configs = trigger.load_all_configs(deps.ssm, max_age=0)
    for service, config in configs.items():
        reconciler.report.services += 1
        try:
            reconciler.service(service)
            reconciler.pushes(service, config)
        except Exception:  # one service's trouble must not stop the others; the next run tries again
            logger.exception("Reconciling a service failed", extra={"service": service})
    return reconciler.report


def record(deps: Deps, repair: Repair) -> None:
    """Keep the repair on the service (``bluegreen status`` shows the recent ones)."""
    try:
        deps.store.record_repair(repair.service, repair.model_dump(mode="json", exclude_none=True), RECORD_DAYS)
    except Exception:  # noqa: BLE001 - the repair is done; the log and the event say it
        logger.exception("Recording a repair failed", extra={"service": repair.service})


def publish(deps: Deps, detail_type: ReconcilerEvent, repair: Repair) -> bool:
    """Put the event on the stack's bus (best effort, as every deployment event)."""
    bus = get_settings().eventBusName
    client = getattr(deps.events, "client", None)  # a BusPublisher's EventBridge client; none: no bus
    if not bus or client is None:
        return False
    entry = {
        "Source": SOURCE,
        "DetailType": detail_type.value,
        "Detail": json.dumps(repair.model_dump(mode="json", exclude_none=True)),
        "Resources": [repair.executionArn] if repair.executionArn else [],
        "EventBusName": bus,
    }
    try:
        response = client.put_events(Entries=[entry])
    except Exception:  # noqa: BLE001 - an event never stops a repair
        logger.exception("Reconciler event not published", extra={"service": repair.service})
        return False
    return not response.get("FailedEntryCount")


if __name__ == "__main__":  # python -m bluegreen.reconcile > events/reconciler-event.schema.json
    import sys

    sys.stdout.write(json.dumps(repair_schema(), indent=2) + "\n")
