"""The operator commands of ``bluegreen``: deploy, status, history, gates and follow.

Argument parsing lives in :mod:`bluegreen_cli.main`; everything here takes its AWS
clients, the deployments :class:`~bluegreen.aws.store.Store` and the output console
as arguments, so tests (and the emulator) can substitute them.

Errors a user can act on are raised as :class:`~bluegreen_cli.common.CliError` (exit
status 1) or :class:`~bluegreen_cli.common.UsageError` (exit status 2), each with a
one-line message and a hint.

One module per command group; :class:`Operator` is all of them over :class:`OperatorBase`.
"""

from __future__ import annotations

from .answer import AnswerCommands
from .base import (
    DONE_STATUSES,
    OPENING_STATES,
    TIMED_WAITS,
    Clients,
    ExecutionView,
    OperatorBase,
    StackOutputs,
    StateVisit,
    TimedWait,
    console_url,
    describe_gate_outcome,
    duration,
    identity,
    make_console,
    parse_history,
    shorten,
    when,
)
from .deploy import DeployCommands
from .events import EventsCommands
from .follow import FollowCommands
from .rollback import RollbackCommands
from .stats import StatsCommands
from .status import StatusCommands


class Operator(
    DeployCommands,
    StatusCommands,
    AnswerCommands,
    FollowCommands,
    RollbackCommands,
    StatsCommands,
    EventsCommands,
    OperatorBase,
):
    """Every operator command: ``bluegreen_cli.main`` builds one per invocation."""


__all__ = [
    "Clients",
    "DONE_STATUSES",
    "ExecutionView",
    "OPENING_STATES",
    "Operator",
    "OperatorBase",
    "StackOutputs",
    "StateVisit",
    "TIMED_WAITS",
    "TimedWait",
    "console_url",
    "describe_gate_outcome",
    "duration",
    "identity",
    "make_console",
    "parse_history",
    "shorten",
    "when",
]
