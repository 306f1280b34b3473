"""Releases and delivery metrics from the deployments table; pure functions, no AWS.

A deployment item (:meth:`bluegreen.aws.store.Store.record_start` / ``record_end``) becomes a
:class:`Release`. From a service's releases:

* :func:`live_release`: the release production runs now (the newest ``deployed`` one);
* :func:`previous_release`: what ``bluegreen rollback SERVICE --to-previous`` restores: the newest
  earlier ``deployed`` release with another digest that no rollback has undone;
* :func:`delivery_stats`: deployment frequency, change failure rate, time to restore, lead time
  and approval wait over a window.

Definitions (README, "Delivery metrics"):

* a release *reached production* when production first forwarded to it (``firstShiftAt``);
* a *change failure* is a release that reached production and was then rolled back (by an alarm,
  a person, a failure after the swap) or undone later by ``--to-previous``;
* *time to restore* runs from the failed release reaching production to production restored: the
  end of its rollback, or the moment the ``--to-previous`` deployment put the earlier release back;
* *lead time* runs from the image push (ECR ``imagePushedAt``) to production entirely on the release.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEPLOYED = "deployed"
ROLLED_BACK = "rolled_back"


class Release(BaseModel):
    """One deployment of a service as the deployments table remembers it."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    service: str
    executionArn: str
    status: str
    startedAt: datetime
    endedAt: datetime | None = None
    imageTag: str = "?"
    imageDigest: str | None = None
    image: str | None = None
    taskDefinition: str | None = None
    requestedBy: str = "unknown"
    imagePushedAt: datetime | None = None
    firstShiftAt: datetime | None = None  # production first forwarded to this release
    productionAt: datetime | None = None  # production entirely on this release
    restoredAt: datetime | None = None  # its rollback put production back
    approvalWaitSeconds: float | None = None
    rollbackOf: str | None = None  # the execution whose release this deployment undid
    approvalSkipped: bool | None = None
    replacedTaskDefinition: str | None = None  # what production ran before this release
    replacedImage: str | None = None

    @field_validator(
        "startedAt", "endedAt", "imagePushedAt", "firstShiftAt", "productionAt", "restoredAt", mode="before"
    )
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @property
    def name(self) -> str:
        return self.executionArn.rsplit(":", 1)[-1]

    @property
    def reached_production(self) -> bool:
        return self.firstShiftAt is not None or (self.status == DEPLOYED and self.productionAt is not None)


def releases(items: Iterable[dict[str, Any]]) -> list[Release]:
    """Deployment items as releases, newest first."""
    parsed = [Release.model_validate(item) for item in items if item.get("executionArn") and item.get("startedAt")]
    return sorted(parsed, key=lambda r: (r.startedAt, r.executionArn), reverse=True)


def live_release(history: list[Release]) -> Release | None:
    """The release production runs now: the newest one that ended ``deployed``."""
    return next((r for r in history if r.status == DEPLOYED), None)


def undone(history: list[Release]) -> set[str]:
    """Executions whose release a successful ``--to-previous`` deployment replaced."""
    return {r.rollbackOf for r in history if r.rollbackOf and r.status == DEPLOYED}


def previous_release(history: list[Release]) -> Release | None:
    """What ``--to-previous`` restores.

    The release the live one replaced: the recorded release whose task definition production ran
    before it (recorded when it went live), else the recorded release with the digest it replaced,
    else that task definition itself (production ran it before the first recorded release); for a
    live rollback, the newest earlier deployed release with another digest that no rollback has undone.
    """
    live = live_release(history)
    if live is None:
        return None
    gone = undone(history)
    older = [r for r in history if r.startedAt < live.startedAt or (r is not live and r.startedAt == live.startedAt)]
    recorded = next(
        (
            r
            for r in older
            if r.status == DEPLOYED
            and r.executionArn not in gone
            and r.imageDigest
            and r.imageDigest != live.imageDigest
        ),
        None,
    )
    if not live.rollbackOf and live.replacedTaskDefinition:
        # The release whose task definition production ran just before: exact, even when only its
        # configuration differed (same image, other environment, secrets or sizes).
        ran_before = next(
            (r for r in older if r.status == DEPLOYED and r.taskDefinition == live.replacedTaskDefinition), None
        )
        if ran_before is not None:
            return ran_before
    replaced = _digest_of(live.replacedImage)
    same_image = replaced == live.imageDigest and not live.replacedTaskDefinition
    if live.rollbackOf or not replaced or same_image:
        return recorded
    if recorded and recorded.imageDigest == replaced:
        return recorded
    # Production ran an image before the first recorded release (or one deployed by other means).
    return Release(
        service=live.service,
        executionArn="",
        status=DEPLOYED,
        startedAt=live.startedAt,
        imageDigest=replaced,
        image=live.replacedImage,
        taskDefinition=live.replacedTaskDefinition,
    )


def _digest_of(image: str | None) -> str | None:
    """``repo@sha256:...`` -> ``sha256:...`` (None for an image named by tag only)."""
    if not image or "@sha256:" not in image:
        return None
    return image.rsplit("@", 1)[1]


# --- delivery metrics ------------------------------------------------------------------------
class Summary(BaseModel):
    """Count, mean and median of some durations (seconds); ``None`` when there are none."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    count: int = 0
    mean: float | None = None
    median: float | None = None

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        if not values:
            return cls()
        return cls(count=len(values), mean=round(statistics.fmean(values), 1), median=statistics.median(values))


class DeliveryStats(BaseModel):
    """Delivery metrics of one service (or of the stack) over ``[since, until]``."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    service: str | None = Field(default=None, description="None: every service of the stack")
    since: datetime
    until: datetime
    days: float
    deployments: int  # started in the window
    succeeded: int  # ended deployed
    deploymentsPerDay: float
    reachedProduction: int
    changeFailures: int
    changeFailureRate: float | None  # changeFailures / reachedProduction
    timeToRestoreSeconds: Summary
    leadTimeSeconds: Summary
    approvalWaitSeconds: Summary
    rollbacksToPrevious: int


def _failed_in_production(release: Release, gone: set[str]) -> bool:
    if not release.reached_production:
        return False
    ended_badly = release.status not in (DEPLOYED, "RUNNING")  # rolled back, or failed after the swap
    return ended_badly or release.executionArn in gone


def _restore_seconds(release: Release, by_rollback: dict[str, Release]) -> float | None:
    """From the release reaching production to production restored (its rollback, or a --to-previous)."""
    start = release.firstShiftAt or release.productionAt
    if start is None:
        return None
    if release.status == ROLLED_BACK:
        end = release.restoredAt or release.endedAt
    elif release.executionArn in by_rollback:
        fix = by_rollback[release.executionArn]
        end = fix.productionAt or fix.endedAt
    else:
        return None
    return (end - start).total_seconds() if end else None


def delivery_stats(
    items: Iterable[dict[str, Any]], since: datetime, until: datetime, service: str | None = None
) -> DeliveryStats:
    """The delivery metrics of the deployment ``items`` started in ``[since, until]``."""
    history = releases(items)
    if service:
        history = [r for r in history if r.service == service]
    # A --to-previous deployment after the window may still undo a release of the window: look at all.
    fixes = {r.rollbackOf: r for r in history if r.rollbackOf and r.status == DEPLOYED}
    gone = set(fixes)
    window = [r for r in history if since <= r.startedAt <= until]
    succeeded = [r for r in window if r.status == DEPLOYED]
    production = [r for r in window if r.reached_production]
    failures = [r for r in production if _failed_in_production(r, gone)]
    restores = [s for r in failures if (s := _restore_seconds(r, fixes)) is not None]
    leads = [
        (r.productionAt - r.imagePushedAt).total_seconds()
        for r in succeeded
        if r.productionAt and r.imagePushedAt and not r.rollbackOf  # a rollback redeploys an old image
    ]
    waits = [float(r.approvalWaitSeconds) for r in window if r.approvalWaitSeconds is not None]
    days = max((until - since).total_seconds() / 86400, 1 / 24)
    return DeliveryStats(
        service=service,
        since=since,
        until=until,
        days=round(days, 2),
        deployments=len(window),
        succeeded=len(succeeded),
        deploymentsPerDay=round(len(succeeded) / days, 2),
        reachedProduction=len(production),
        changeFailures=len(failures),
        changeFailureRate=round(len(failures) / len(production), 3) if production else None,
        timeToRestoreSeconds=Summary.of(restores),
        leadTimeSeconds=Summary.of([max(0.0, lead) for lead in leads]),
        approvalWaitSeconds=Summary.of(waits),
        rollbacksToPrevious=sum(1 for r in window if r.rollbackOf),
    )


def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``90m``, ``2w`` before ``now``, or an ISO date."""
    text = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
