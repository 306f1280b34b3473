"""What the ``bluegreen`` entry point and the operator commands share (no third-party imports)."""

from __future__ import annotations

DEFAULT_STACK = "ecs-bluegreen"
STACK_ENV = "BLUEGREEN_STACK"
STATE_MACHINE_ENV = "BLUEGREEN_STATE_MACHINE_ARN"
TABLE_ENV = "BLUEGREEN_TABLE"
STATE_MACHINE_OUTPUT = "DeploymentStateMachineArn"
TABLE_OUTPUT = "DeploymentsTableName"
FAILED_EVENTS_ENV = "BLUEGREEN_FAILED_EVENTS_QUEUE"  # bluegreen events replay
FAILED_EVENTS_OUTPUT = "FailedEventsQueueUrl"
DEFAULT_INTERVAL = 2.0


class CliError(Exception):
    """An operation that cannot be done: one line for the user, a hint, an exit status."""

    code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        text = f"error: {self.message}" + (f"; {self.hint}" if self.hint else "")
        return " ".join(text.split())  # one line, whatever the message contained


class UsageError(CliError):
    """The command was called wrongly: unknown service, missing image, bad argument (exit status 2)."""

    code = 2
