"""``bluegreen events``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..common import (
    FAILED_EVENTS_ENV,
    FAILED_EVENTS_OUTPUT,
)
from .base import shorten

if TYPE_CHECKING:
    pass


class EventsCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    # --- bluegreen events replay ------------------------------------------------------------------
    def events_replay(self, dry_run: bool = False) -> int:
        """Re-deliver the events the stack kept after their retries (``--dry-run``: list them)."""
        from ..replay import replay

        queue = self.outputs.get(FAILED_EVENTS_OUTPUT, FAILED_EVENTS_ENV)
        report = replay(self.clients.sqs, self.clients.lambda_, queue, dry_run=dry_run)
        if not report.listed and not report.unreadable:
            self.print("No failed events are kept: nothing to replay.")
            return 0
        for failure in report.listed:
            verb = "would replay" if dry_run else "replayed" if failure in report.replayed else "FAILED again"
            self.print(
                f"{verb}: {failure.what} to {failure.function_name} ({failure.kind}, {shorten(failure.error, 160)})"
            )
        for failure, error in report.failed:
            self.print(f"  {failure.function_name} answered: {shorten(error, 300)}", style="red")
        for message_id in report.unreadable:
            self.print(f"left in the queue: message {message_id} is neither an invocation record nor a dead letter")
        if dry_run:
            self.print(f"{len(report.listed)} kept failure(s); run without --dry-run to re-deliver them.")
            return 0
        self.print(f"{len(report.replayed)} replayed and removed, {len(report.failed)} failed again (kept).")
        return 1 if report.failed else 0
