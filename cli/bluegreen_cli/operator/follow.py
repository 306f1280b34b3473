"""``bluegreen follow`` (and ``deploy --follow``): the live view of an execution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from rich.table import Table
from rich.text import Text

from bluegreen.aws.clients import error_code
from bluegreen.domain.gates import kind_label
from bluegreen.steps import GATE_STATES

from ..common import (
    UsageError,
)
from .base import DONE_STATUSES, OPENING_STATES, TIMED_WAITS, ExecutionView, StateVisit, _gate_commands, duration

if TYPE_CHECKING:
    from rich.console import Group


class FollowCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    # --- follow --------------------------------------------------------------------------------------------
    def follow(self, execution_arn: str) -> int:
        if ":execution:" not in execution_arn or not execution_arn.startswith("arn:"):
            raise UsageError(
                f"'{execution_arn}' is not an execution ARN",
                "pass the ARN bluegreen deploy printed (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)",
            )
        try:
            view = self.view(execution_arn)
        except ClientError as error:
            if error_code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
                raise UsageError(f"no execution {execution_arn}", "check the ARN and the region") from error
            raise
        self.print(f"Following {view.service} {view.tag}: {execution_arn}")
        try:
            view = self._follow_live(view) if self.out.is_terminal else self._follow_lines(view)
        except KeyboardInterrupt:
            self.print(f"Stopped following; the deployment goes on. Resume with: bluegreen follow {execution_arn}")
            return 130
        return self._result(view)

    def _poll(self, view: ExecutionView) -> ExecutionView:
        self.sleep(self.interval)
        return self.view(view.arn)

    def _follow_lines(self, view: ExecutionView) -> ExecutionView:
        """Plain lines (pipes, CI logs): one per state entered, one per gate or wait."""
        shown = 0
        notes: set[tuple[int, str]] = set()
        while True:
            for index, visit in enumerate(view.visits[shown:], start=shown):
                self.print(f"  [+{duration((visit.entered - view.started).total_seconds()):>6}] {visit.name}")
                shown = index + 1
            current = view.current
            if current is not None:
                index = len(view.visits) - 1
                for key, note in self._notes(view, current):
                    if (index, key) not in notes:
                        notes.add((index, key))
                        self.print(f"           {note}")
            if view.status in DONE_STATUSES:
                return view
            view = self._poll(view)

    def _notes(self, view: ExecutionView, visit: StateVisit) -> list[tuple[str, str]]:
        notes = []
        wait = TIMED_WAITS.get(visit.name)
        seconds = wait.seconds(view.config()) if wait else None
        if wait and seconds:
            notes.append(("wait", wait.note.format(duration=duration(seconds))))
        if visit.gate:
            gate_id, kind = visit.gate["gateId"], visit.gate["kind"]
            label = kind_label(kind)
            notes.append(("gate", f"{label} {gate_id}: {_gate_commands(view.service, kind)}"))
        elif visit.name in OPENING_STATES:
            notes.append(("opening", f"{GATE_STATES[visit.name]} gate opening..."))
        return notes

    def _follow_live(self, view: ExecutionView) -> ExecutionView:
        """A live view on a terminal: states, elapsed time, progress bars, the pending gate."""
        from rich.live import Live

        with Live(self._render(view), console=self.out, refresh_per_second=4, transient=False) as live:
            while view.status not in DONE_STATUSES:
                view = self._poll(view)
                live.update(self._render(view))
        return view

    def _render(self, view: ExecutionView) -> Group:
        from rich.console import Group

        now = datetime.now(UTC)
        end = view.stopped or now
        header = Text.assemble(
            (f"{view.service} {view.tag}", "bold"),
            f"  {view.status}  ",
            (f"{duration((end - view.started).total_seconds())} elapsed", "dim"),
        )
        states = Table.grid(padding=(0, 2))
        for index, visit in enumerate(view.visits):
            running = visit is view.current
            took = duration(((visit.exited or end) - visit.entered).total_seconds())
            if running:
                mark = Text("▸", style="yellow bold")
            elif view.status in DONE_STATUSES and view.status != "SUCCEEDED" and index == len(view.visits) - 1:
                mark = Text("✗", style="red bold")
            else:
                mark = Text("✓", style="green")
            states.add_row(mark, Text(visit.name, style="bold" if running else ""), Text(took, style="dim"))
        parts: list[Any] = [header, states]
        current = view.current
        if current is not None:
            wait = TIMED_WAITS.get(current.name)
            seconds = wait.seconds(view.config()) if wait else None
            if wait and seconds:
                waited, total = (now - current.entered).total_seconds(), float(seconds)
                parts.append(self._bar(wait.label, waited, total, wait.suffix.format(left=duration(total - waited))))
            for key, note in self._notes(view, current):
                if key != "wait":
                    parts.append(Text(note, style="cyan"))
        return Group(*parts)

    @staticmethod
    def _bar(label: str, done: float, total: float, suffix: str) -> Table:
        from rich.progress_bar import ProgressBar

        grid = Table.grid(padding=(0, 1))
        bar = ProgressBar(total=max(total, 1.0), completed=min(max(done, 0.0), total), width=40)
        grid.add_row(Text(label), bar, Text(suffix))
        return grid

    def _result(self, view: ExecutionView) -> int:
        took = duration(((view.stopped or datetime.now(UTC)) - view.started).total_seconds())
        if view.status == "SUCCEEDED":
            output = view.output or {}
            self.print(f"Execution SUCCEEDED in {took}: {view.service} {view.tag} is in production.", style="green")
            if output.get("taskSet"):
                self.print(f"  task set {output['taskSet']} on {output.get('targetGroupArn', '?')}")
            return 0
        self.print(f"Execution {view.status} after {took}: {view.error or view.status}", style="red")
        if view.cause:
            self.print(f"  {view.cause}")
        return 1
