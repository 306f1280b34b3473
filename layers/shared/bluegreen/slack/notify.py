"""Milestone messages in the deployment's Slack thread. Best effort: Slack never blocks a deployment."""

from __future__ import annotations

import functools
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from bluegreen.domain.gates import Gate
from bluegreen.domain.models import DeploymentContext
from bluegreen.domain.settings import get_settings

logger = Logger(child=True)


class SlackNotifier(Protocol):
    def note(self, channel: str, thread_ts: str | None, text: str) -> str | None: ...

    def post_gate(self, gate: Gate) -> tuple[str, str]: ...

    def update_gate(self, gate: Gate) -> bool: ...


class NullNotifier:
    """Used when no Slack channel is configured."""

    def note(self, channel: str, thread_ts: str | None, text: str) -> str | None:
        return None

    def post_gate(self, gate: Gate) -> tuple[str, str]:
        raise RuntimeError("no Slack notifier configured")

    def update_gate(self, gate: Gate) -> bool:
        return False


def milestone(notifier: SlackNotifier, context: DeploymentContext, text: str) -> None:
    """Post ``text`` in the deployment's thread; never raises."""
    if context.slackThread is None:
        return
    try:
        notifier.note(context.slackThread.channel, context.slackThread.ts, text)
    except Exception:  # noqa: BLE001 - a failing Slack API must never fail a deployment
        logger.exception("Slack milestone message failed", extra={"service": context.service})


def start_thread(notifier: SlackNotifier, channel: str | None, text: str) -> tuple[str, str] | None:
    """Post the deployment's first message; its ``ts`` roots the thread. Never raises."""
    if not channel:
        return None
    try:
        ts = notifier.note(channel, None, text)
    except Exception:  # noqa: BLE001 - a failing Slack API must never fail a deployment
        logger.exception("Slack start message failed", extra={"channel": channel})
        return None
    return (channel, ts) if ts else None


def milestone_with_button(
    notifier: SlackNotifier, context: DeploymentContext, text: str, blocks: list[dict[str, Any]]
) -> None:
    """Post ``text`` with ``blocks`` (buttons) in the deployment's thread; plain text if the notifier has no
    ``post_blocks``. Never raises (the *Roll back to previous* button)."""
    if context.slackThread is None:
        return
    post = getattr(notifier, "post_blocks", None)
    if post is None:
        milestone(notifier, context, text)
        return
    try:
        post(context.slackThread.channel, context.slackThread.ts, text, blocks)
    except Exception:  # noqa: BLE001 - a failing Slack API must never fail a deployment
        logger.exception("Slack milestone message failed", extra={"service": context.service})


@functools.cache
def get_notifier() -> SlackNotifier:
    """The Slack notifier when the stack has a Slack secret configured, else a no-op."""
    if not get_settings().slackSecretName:
        return NullNotifier()
    from bluegreen.slack.client import Notifier  # slack_sdk is only needed when Slack is configured

    return Notifier()
