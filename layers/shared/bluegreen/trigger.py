"""ECR pushes start deployments: the logic of the ``ecr_trigger`` function.

EventBridge delivers an ``ECR Image Action`` event for every push. A successful
``PUSH`` of ``repository:tag`` starts one execution of the deployment state
machine for every service whose configuration names that ``repository`` and whose
``tagPattern`` (a regular expression, matched with ``re.fullmatch``) matches the
tag. Services without a ``tagPattern`` are never deployed automatically.

The execution name is derived from the service and the image digest, so a
duplicate delivery of the event, or another push of the same image (a second tag
on the same digest), never starts a second deployment: Step Functions keeps
execution names unique per state machine for 90 days.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.aws.config import config_prefix, read_parameters
from bluegreen.aws.store import Store
from bluegreen.domain.models import ExecutionInput, ServiceConfig

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

logger = Logger(child=True)

REQUESTED_BY = "ecr-push"
EXECUTION_NAME_MAX = 80
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SERVICE_PART_MAX = 40


class EcrImageActionDetail(BaseModel):
    """``detail`` of an ``ECR Image Action`` event (tag and digest are absent in some actions)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    result: str
    repositoryName: str = Field(alias="repository-name")
    actionType: str = Field(alias="action-type")
    imageDigest: str | None = Field(default=None, alias="image-digest")
    imageTag: str | None = Field(default=None, alias="image-tag")


class EcrImageActionEvent(EventBridgeModel):
    """EventBridge ``ECR Image Action`` (source ``aws.ecr``)."""

    detail: EcrImageActionDetail


@dataclass
class TriggerSummary:
    """What one event did: executions started, duplicates recognised, services or events ignored."""

    repository: str | None = None
    imageTag: str | None = None
    imageDigest: str | None = None
    started: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    queued: list[dict[str, str]] = field(default_factory=list)  # Waits for the running deployment
    ignored: list[dict[str, str]] = field(default_factory=list)

    def ignore(self, reason: str, service: str | None = None) -> None:
        entry = {"reason": reason}
        if service:
            entry["service"] = service
        self.ignored.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "imageTag": self.imageTag,
            "imageDigest": self.imageDigest,
            "started": self.started,
            "duplicates": self.duplicates,
            "queued": self.queued,
            "ignored": self.ignored,
        }


# --- names ---------------------------------------------------------------------------------
def execution_name(service: str, digest: str) -> str:
    """``{service}-push-{first 32 hex digits of the digest}``: at most 80 characters of ``[A-Za-z0-9_-]``.

    A service name that is too long or contains other characters (``.``) is shortened and
    suffixed with a hash of the full name, so two services never share a name.
    """
    part = _NAME_UNSAFE.sub("-", service)
    if part != service or len(part) > _SERVICE_PART_MAX:
        part = f"{part[: _SERVICE_PART_MAX - 9]}-{hashlib.sha256(service.encode()).hexdigest()[:8]}"
    hex_digits = _NAME_UNSAFE.sub("", digest.split(":", 1)[-1])[:32]
    return f"{part}-push-{hex_digits}"[:EXECUTION_NAME_MAX]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of a standard state machine."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise ValueError(f"Not a state machine ARN: {state_machine_arn}")
    return ":".join([*parts[:5], "execution", parts[6], name])


# --- configurations ------------------------------------------------------------------------
def load_all_configs(provider: SSMProvider, max_age: int | None = None) -> dict[str, ServiceConfig]:
    """Every valid service configuration under the prefix, by service (parameter) name.

    Invalid documents are skipped with a warning: one broken service must not stop the others.
    """
    prefix = config_prefix()
    raw = read_parameters(provider, prefix, max_age)  # the same cache lifetime as the others
    configs: dict[str, ServiceConfig] = {}
    for name, document in sorted(raw.items()):
        if document is None:
            logger.warning("Service configuration is not JSON; skipped", extra={"parameter": f"{prefix}/{name}"})
            continue
        try:
            configs[name] = ServiceConfig.model_validate(document)
        except ValidationError as error:
            logger.warning(
                "Service configuration is invalid; skipped",
                extra={"parameter": f"{prefix}/{name}", "error": str(error)},
            )
    return configs


def _skip_reason(config: ServiceConfig, repository: str, tag: str) -> str | None:
    """Why this push does not deploy the service (``None``: it does)."""
    if config.repository != repository:
        return "other repository"
    if config.tagPattern is None:
        return "no tagPattern (automatic deployments off)"
    try:
        if re.fullmatch(config.tagPattern, tag) is None:
            return f"tag does not match tagPattern {config.tagPattern!r}"
    except re.error as error:
        return f"tagPattern {config.tagPattern!r} is not a valid regular expression ({error})"
    if not config.allowMutableTags and tag.lower() in {t.lower() for t in config.mutableTags}:
        # Validate would refuse it, and the failed execution would take the digest's execution name.
        return "moving tag refused (allowMutableTags is false)"
    return None


# --- starting executions ----------------------------------------------------------------------
def start_deployment(sfn: Any, state_machine_arn: str, request: ExecutionInput) -> tuple[bool, str, str]:
    """Start the deployment once per service and digest: ``(started, execution name, execution ARN)``.

    ``started`` is ``False`` when an execution with the derived name exists already (any status).
    The look-up first matters in AWS: for a *running* execution with the same name and input,
    StartExecution succeeds idempotently instead of raising ``ExecutionAlreadyExists``.
    """
    name = execution_name(request.service, request.imageDigest or "")
    arn = execution_arn(state_machine_arn, name)
    try:
        with transient_errors():
            sfn.describe_execution(executionArn=arn)
        return False, name, arn
    except ClientError as error:
        if error_code(error) != "ExecutionDoesNotExist":
            raise
    payload = json.dumps(request.model_dump(mode="json", exclude_none=True))
    try:
        with transient_errors():
            arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)["executionArn"]
    except ClientError as error:
        if error_code(error) == "ExecutionAlreadyExists":
            return False, name, arn
        raise
    return True, name, arn


def on_image_action(
    event: EcrImageActionEvent,
    provider: SSMProvider,
    sfn: Any,
    state_machine_arn: str,
    max_age: int | None = None,
    store: Store | None = None,
    notifier: Any = None,
) -> TriggerSummary:
    detail = event.detail
    summary = TriggerSummary(repository=detail.repositoryName, imageTag=detail.imageTag, imageDigest=detail.imageDigest)
    about = {"repository": detail.repositoryName, "imageTag": detail.imageTag, "imageDigest": detail.imageDigest}
    if event.source != "aws.ecr" or event.detail_type != "ECR Image Action":
        summary.ignore(f"not an ECR image action ({event.source} / {event.detail_type})")
    elif detail.actionType != "PUSH" or detail.result != "SUCCESS":
        summary.ignore(f"{detail.actionType} {detail.result}")
    elif not detail.imageTag or not detail.imageDigest:
        summary.ignore("push without a tag or a digest")
    if summary.ignored:
        logger.info("ECR event ignored", extra={**about, "reason": summary.ignored[0]["reason"]})
        return summary

    tag, digest = detail.imageTag or "", detail.imageDigest or ""
    for service, config in load_all_configs(provider, max_age).items():
        reason = _skip_reason(config, detail.repositoryName, tag)
        if reason == "other repository":
            continue
        if reason:
            summary.ignore(reason, service)
            if reason.startswith("tagPattern"):  # a broken configuration: tell the operators
                level = logger.warning
            elif reason.startswith("moving"):
                level = logger.info
            else:  # an ordinary push of a tag this service does not auto-deploy
                level = logger.debug
            level("Push does not deploy this service", extra={**about, "service": service, "reason": reason})
            continue
        try:
            request = ExecutionInput(service=service, imageTag=tag, imageDigest=digest, requestedBy=REQUESTED_BY)
        except ValidationError as error:
            summary.ignore(f"not a valid deployment request: {error.errors()[0]['msg']}", service)
            logger.warning("Push cannot be deployed", extra={**about, "service": service, "error": str(error)})
            continue
        if store is not None and not _exists(sfn, state_machine_arn, request):
            running = service_busy(store, service)
            if running:
                queue_release(store, notifier, config, request, running)
                summary.queued.append({"service": service, "runningExecutionArn": running})
                continue
        started, name, arn = start_deployment(sfn, state_machine_arn, request)
        entry = {"service": service, "executionName": name, "executionArn": arn}
        if started:
            summary.started.append(entry)
            logger.info("Deployment started by an ECR push", extra={**about, **entry})
        else:
            summary.duplicates.append(entry)
            logger.info("Duplicate push: this image was already deployed or is deploying", extra={**about, **entry})
    if not summary.started and not summary.duplicates and not summary.queued:
        logger.debug("Push matches no service", extra=about)
    return summary


# --- pushes during a deployment wait for it -----------------------------------------
QUEUED_NAME_ATTEMPTS = 9


def _exists(sfn: Any, state_machine_arn: str, request: ExecutionInput) -> bool:
    arn = execution_arn(state_machine_arn, execution_name(request.service, request.imageDigest or ""))
    try:
        with transient_errors():
            sfn.describe_execution(executionArn=arn)
        return True
    except ClientError as error:
        if error_code(error) != "ExecutionDoesNotExist":
            raise
        return False


def service_busy(store: Store, service: str) -> str | None:
    """The running execution deploying ``service`` (lock holder, or the latest deployment still running)."""
    holder = store.lock_holder(service)
    if holder and store.is_running(holder):
        return holder
    latest = store.deployments(service, limit=1)
    arn = latest[0].get("executionArn") if latest else None
    if arn and store.is_running(arn):  # e.g. DeleteOld released the lock and is deleting the old task set
        return str(arn)
    return None


def queue_release(
    store: Store, notifier: Any, config: ServiceConfig | None, request: ExecutionInput, running: str
) -> None:
    """Keep the push as the service's pending release; a newer push supersedes an older one (said so)."""
    release = {
        "imageTag": request.imageTag,
        "imageDigest": request.imageDigest or "",
        "requestedBy": request.requestedBy or REQUESTED_BY,
        "waitingFor": running,
    }
    superseded = store.put_pending(request.service, release)
    running_name = running.rsplit(":", 1)[-1]
    text = f"{request.service}: push of {request.imageTag} waits for the running deployment ({running_name})."
    if superseded:
        text += f" It supersedes {superseded.get('imageTag')}, which was waiting and will not be deployed."
        logger.warning(
            "Pending release superseded by a newer push",
            extra={"service": request.service, "superseded": superseded.get("imageTag"), "by": request.imageTag},
        )
    logger.info("Push queued behind a running deployment", extra={"service": request.service, **release})
    if notifier is not None and config is not None and config.slackChannel:
        try:
            notifier.note(config.slackChannel, None, text)
        except Exception:  # noqa: BLE001 - Slack is best effort; the release is queued anyway
            logger.exception("Slack message about a queued push failed", extra={"service": request.service})


def start_pending(store: Store, sfn: Any, state_machine_arn: str, service: str) -> str | None:
    """Start the service's pending release once nothing deploys it; returns the execution ARN started."""
    pending = store.pending_of(service)
    if not pending or service_busy(store, service):
        return None
    digest = str(pending.get("imageDigest") or "")
    if not store.take_pending(service, digest):
        return None  # another end event took it
    request = ExecutionInput(
        service=service,
        imageTag=str(pending["imageTag"]),
        imageDigest=digest or None,
        requestedBy=str(pending.get("requestedBy") or REQUESTED_BY),
    )
    base = execution_name(service, digest)
    payload = json.dumps(request.model_dump(mode="json", exclude_none=True))
    try:
        for attempt in range(QUEUED_NAME_ATTEMPTS + 1):
            # A start that lost a race to the lock failed and used up the digest's name: use the next one.
            name = base if attempt == 0 else f"{base[: EXECUTION_NAME_MAX - 3]}-q{attempt}"
            arn = execution_arn(state_machine_arn, name)
            try:
                with transient_errors():
                    status = sfn.describe_execution(executionArn=arn)["status"]
                if status == "RUNNING":
                    return arn
                continue
            except ClientError as error:
                if error_code(error) != "ExecutionDoesNotExist":
                    raise
            with transient_errors():
                arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)["executionArn"]
            logger.info(
                "Pending release started", extra={"service": service, "executionArn": arn, "imageTag": request.imageTag}
            )
            return arn
    except Exception:
        store.put_pending(service, {k: v for k, v in pending.items() if k not in ("pk", "sk", "service")})
        raise
    logger.error("No free execution name for the pending release", extra={"service": service, "base": base})
    return None
