"""``bluegreen status`` and ``bluegreen history``: the running or last deployment, and the past ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bluegreen.aws.config import config_prefix
from bluegreen.domain import clock

from .base import _gate_commands, _parse_time, _table, duration, identity, shorten, when

if TYPE_CHECKING:
    pass


class StatusCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    def status(self, service: str | None = None) -> int:
        names = self._services(service)
        if not names:
            self.print(f"No services are configured under {config_prefix()}.")
            return 0
        table = _table()
        for column in ("Service", "Deployment", "Image", "Requested by", "Since", "Pending gate"):
            table.add_column(column, overflow="fold")
        pending = []
        now = clock.now()
        for name in names:
            latest = next(iter(self.store.deployments(name, limit=1)), None)
            gate = self.store.open_gate_of(name)
            if gate:
                pending.append((name, gate))
            gate_text = f"{gate.gateId} {gate.kind}, expires {when(gate.expiresAt, now)}" if gate else "-"
            if latest is None:
                table.add_row(name, "never deployed", "-", "-", "-", gate_text)
                continue
            running = latest["status"] == "RUNNING"
            since = latest["startedAt"] if running else latest.get("endedAt") or latest["startedAt"]
            table.add_row(
                name,
                self._deployment_state(latest),
                str(latest.get("imageTag", "?")),
                identity(latest.get("requestedBy")),
                when(since, now),
                gate_text,
            )
        self.out.print(table)
        for name, gate in pending:
            self.print(f"{name}: {gate.kind} {gate.gateId} is waiting: {_gate_commands(name, gate.kind)}")
        for line in self._repair_lines(names):  # what lost events left behind, repaired by the reconciler
            self.print(line)
        if service and latest is not None and latest.get("planText"):  # What that release changes
            self.print(str(latest["planText"]))
        if service and latest is not None:  # The verification hooks' results
            from bluegreen.domain.hooks import hook_lines

            for line in hook_lines(latest):
                self.print(line)
            if latest.get("analysis"):  # Was green judged by the built-in analysis at all
                self.print(str(latest["analysis"]))
        return 0

    def _repair_lines(self, names: list[str]) -> list[str]:
        """The reconciler's recent repairs (and unseen pushes) of each service, newest first."""
        lines = []
        now = clock.now()
        for name in names:
            try:
                repairs = self.store.repairs_of(name, limit=3)
            except ClientError:  # a table without the reconciler's records (older stack): nothing to show
                continue
            for repair in repairs:
                lines.append(
                    f"{name}: reconciler {when(repair.get('at'), now)}: {repair.get('kind')}: {repair.get('action')}"
                )
        return lines

    def _deployment_state(self, item: dict[str, Any], with_error: bool = True) -> str:
        if item["status"] != "RUNNING":
            outcome = str(item["status"]).replace("_", " ")
            return f"{outcome} ({item['error']})" if item.get("error") and with_error else outcome
        status = self._status_of(item["executionArn"])
        if status == "RUNNING":
            return f"running: {self.current_state(item['executionArn']) or 'starting'}"
        return (status or "unknown").lower().replace("_", " ")

    def history(self, service: str, limit: int = 10) -> int:
        from bluegreen.domain.hooks import hook_lines

        items = self.store.deployments(service, limit=limit)
        if not items:
            if not self.service_exists(service):
                raise self._unknown(service)
            self.print(f"{service} has not been deployed with bluegreen yet.")
            return 0
        table = _table()
        table.add_column("Started (UTC)", no_wrap=True)
        table.add_column("Image", overflow="fold")
        table.add_column("Outcome", overflow="fold")
        table.add_column("Took", no_wrap=True)
        table.add_column("Requested by", overflow="fold")
        table.add_column("Execution", no_wrap=True)
        table.add_column("Details", no_wrap=True, overflow="ellipsis", max_width=60)
        marks = self.release_marks(items)  # Live, what --to-previous restores (first in Details)
        for item in items:
            started, ended = _parse_time(item.get("startedAt")), _parse_time(item.get("endedAt"))
            took = duration((ended - started).total_seconds()) if started and ended else "-"
            details = f"{item['error']}: {item.get('cause', '')}" if item.get("error") else ""
            details = details or str(item.get("planSummary") or "")  # What the release changed
            mark = marks.get(item["executionArn"])
            details = f"{mark}; {details}" if mark and details else mark or details
            hooks = hook_lines(item)  # Pass/fail of each hook
            if item.get("analysis"):  # "analysis: not judged — N requests < minimum M"
                hooks.insert(0, str(item["analysis"]))
            details = f"{details}; {'; '.join(hooks)}" if hooks and details else details or "; ".join(hooks)
            table.add_row(
                f"{started:%Y-%m-%d %H:%M}" if started else "-",
                str(item.get("imageTag", "?")),
                self._deployment_state(item, with_error=False),
                took,
                identity(item.get("requestedBy")),
                item["executionArn"].rsplit(":", 1)[-1],
                shorten(details, 200),
            )
        self.out.print(table)
        return 0
