"""``bluegreen stats``: delivery metrics from the deployments' history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bluegreen.domain import clock

from ..common import (
    UsageError,
)
from .base import _seconds_text, _table, duration

if TYPE_CHECKING:
    pass


class StatsCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    def release_marks(self, items: list[dict[str, Any]]) -> dict[str, str]:
        """``executionArn -> mark`` for the history: live, what --to-previous restores, rollbacks."""
        from bluegreen.domain.history import live_release, previous_release, releases

        history = releases(items)
        marks: dict[str, str] = {}
        for release in history:
            if release.rollbackOf:
                skipped = ", approval skipped" if release.approvalSkipped else ""
                marks[release.executionArn] = f"rollback of {release.rollbackOf.rsplit(':', 1)[-1]}{skipped}"
        live, previous = live_release(history), previous_release(history)
        if previous:
            marks[previous.executionArn] = "previous (rollback --to-previous)"
        if live:
            marks[live.executionArn] = "LIVE" + (f", {marks[live.executionArn]}" if live.executionArn in marks else "")
        return marks

    def stats(self, service: str | None, since_text: str = "30d", as_json: bool = False) -> int:
        from bluegreen.domain.history import delivery_stats, parse_since

        now = clock.now()
        try:
            since = parse_since(since_text, now)
        except ValueError as error:
            raise UsageError(f"invalid --since '{since_text}'", "use 30d, 12h, 2w or a date (2026-01-31)") from error
        names = self._services(service)
        # Rollbacks after the window may undo a release of it: read from the window's start on.
        items = [item for name in names for item in self.store.deployments_since(name, since)]
        per_service = {name: delivery_stats(items, since, now, service=name) for name in names}
        overall = delivery_stats(items, since, now)
        if as_json:
            document = {
                "since": since.isoformat(),
                "until": now.isoformat(),
                "stack": overall.model_dump(mode="json"),
                "services": {name: s.model_dump(mode="json") for name, s in per_service.items()},
            }
            self.print(json.dumps(document))
            return 0
        table = _table()
        for column in (
            "Service",
            "Deploys",
            "Per day",
            "Change failure rate",
            "Time to restore (median)",
            "Lead time (median)",
            "Approval wait (median)",
        ):
            table.add_column(column)
        rows = list(per_service.items()) + ([("(all)", overall)] if len(per_service) != 1 else [])
        for name, s in rows:
            rate = "-"
            if s.changeFailureRate is not None:
                rate = f"{s.changeFailureRate:.0%} ({s.changeFailures}/{s.reachedProduction})"
            table.add_row(
                name,
                str(s.succeeded),
                f"{s.deploymentsPerDay:g}",
                rate,
                _seconds_text(s.timeToRestoreSeconds.median),
                _seconds_text(s.leadTimeSeconds.median),
                _seconds_text(s.approvalWaitSeconds.median),
            )
        self.print(f"Delivery metrics since {since:%Y-%m-%d %H:%M} UTC ({duration((now - since).total_seconds())})")
        self.out.print(table)
        return 0
