"""Slack: the Web API client (retries, secrets) and the notifier that posts and updates gate messages.

Secrets (bot token, signing secret) come from Secrets Manager and are never
logged. Posting a gate's message raises when Slack fails (the caller retries);
updating it, thread notes and ephemeral replies are best effort and never raise.

The messages are built in :mod:`bluegreen.slack.messages`, button clicks are answered in
:mod:`bluegreen.slack.interactions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryIntervalCalculator,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bluegreen.domain.errors import BlueGreenError
from bluegreen.domain.gates import Gate
from bluegreen.domain.settings import DEFAULT_SLACK_API_URL, get_settings
from bluegreen.slack.messages import decided_blocks, decided_text, gate_blocks, gate_text

logger = Logger(child=True)

DEFAULT_API_URL = DEFAULT_SLACK_API_URL
SECRET_MAX_AGE = 300

# Slack error codes worth retrying (besides HTTP 429 and 5xx).
TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)


# --- errors --------------------------------------------------------------------------------
class SlackError(BlueGreenError):
    """Posting a gate's message to Slack failed."""


class SlackUnavailable(SlackError):
    """Slack was unreachable, rate limited or failed server-side; safe to retry."""


class SlackRefused(SlackError):
    """Slack refused the message (unknown channel, bot not in channel, bad token...); retrying will not help."""


# --- secrets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlackSecrets:
    """The Slack app's credentials. ``repr`` never shows them."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)


def get_slack_secrets(name: str | None = None, max_age: int = SECRET_MAX_AGE) -> SlackSecrets:
    """Read ``{"botToken": ..., "signingSecret": ...}`` from the secret named by ``SLACK_SECRET_NAME``.

    Cached by Powertools for ``max_age`` seconds in a warm Lambda.
    """
    name = name or get_settings().slackSecretName
    if not name:
        raise SlackRefused("Slack is not configured: SLACK_SECRET_NAME is empty")
    value = parameters.get_secret(name, transform="json", max_age=max_age)
    if not isinstance(value, dict) or not value.get("botToken") or not value.get("signingSecret"):
        # Name the missing keys only, never the values.
        raise ValueError(f"Secret {name} must be JSON with non-empty 'botToken' and 'signingSecret'")
    return SlackSecrets(bot_token=str(value["botToken"]), signing_secret=str(value["signingSecret"]))


# --- clients -------------------------------------------------------------------------------
def retry_handlers(max_retries: int = 2, interval: RetryIntervalCalculator | None = None) -> list[RetryHandler]:
    """Retry rate limits (429, after Retry-After), connection errors and 500/503 responses."""
    kwargs: dict[str, Any] = {"interval_calculator": interval} if interval else {}
    return [
        RateLimitErrorRetryHandler(max_retry_count=1),
        ConnectionErrorRetryHandler(max_retry_count=max_retries, **kwargs),
        ServerErrorRetryHandler(max_retry_count=max_retries, **kwargs),
    ]


def _retry_interval(interval: RetryIntervalCalculator | None) -> RetryIntervalCalculator | None:
    """``interval``, else a fixed ``SLACK_RETRY_INTERVAL`` (seconds) when set, else slack_sdk's backoff."""
    seconds = get_settings().slackRetryInterval
    if interval is None and seconds is not None:
        interval = FixedValueRetryIntervalCalculator(seconds)
    return interval


def web_client(
    token: str | None = None,
    *,
    base_url: str | None = None,
    timeout: int = 5,
    max_retries: int = 2,
    retry_interval: RetryIntervalCalculator | None = None,
) -> WebClient:
    """A Slack Web API client with retries; the token defaults to the bot token from Secrets Manager.

    ``SLACK_API_URL`` points it at another Web API (the emulator's fake Slack, which also sets
    ``SLACK_RETRY_INTERVAL``).
    """
    return WebClient(
        token=token if token is not None else get_slack_secrets().bot_token,
        base_url=base_url or get_settings().slack_api_url,
        timeout=timeout,
        retry_handlers=retry_handlers(max_retries, _retry_interval(retry_interval)),
    )


def webhook_client(
    url: str, *, timeout: int = 3, retry_interval: RetryIntervalCalculator | None = None
) -> WebhookClient:
    """A client for a ``response_url`` (or an incoming webhook), with the same retries."""
    return WebhookClient(url, timeout=timeout, retry_handlers=retry_handlers(1, _retry_interval(retry_interval)))


# --- posting ---------------------------------------------------------------------------------
def _post_error(method: str, error: Exception) -> SlackError:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        code = error.response.get("error", "") if hasattr(error.response, "get") else ""
        text = f"Slack {method} failed: {code or 'HTTP ' + str(status)}"
        if status == 429 or status >= 500 or code in TRANSIENT_SLACK_ERRORS:
            return SlackUnavailable(text)
        return SlackRefused(text)
    return SlackUnavailable(f"Slack {method} failed: {type(error).__name__}: {error}")


class Notifier:
    """Posts and updates gate messages. Only :meth:`post_gate` raises; the rest is best effort."""

    def __init__(
        self,
        client: WebClient | None = None,
        *,
        client_factory: Callable[[], WebClient] | None = None,
        webhook_factory: Callable[[str], WebhookClient] | None = None,
    ) -> None:
        self._client = client
        self._client_factory = client_factory or web_client
        self._webhook_factory = webhook_factory or webhook_client

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def post_gate(self, gate: Gate) -> tuple[str, str]:
        """Post the gate's message with its buttons to the gate's channel; returns ``(channel id, ts)``.

        Raises :class:`SlackUnavailable` (retry) or :class:`SlackRefused` (fix the configuration).
        """
        channel = gate.channel
        if not channel:
            raise SlackRefused(f"Gate {gate.gateId} has no Slack channel")
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=gate_text(gate), blocks=gate_blocks(gate), unfurl_links=False, unfurl_media=False
            )
        except SlackError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a typed, retryable error
            raise _post_error("chat.postMessage", error) from error
        return str(response["channel"]), str(response["ts"])

    def update_gate(self, gate: Gate) -> bool:
        """Replace the gate's message by its decided form (no buttons). Never raises; ``False`` on failure."""
        channel, ts = gate.channel, gate.ts
        if not channel or not ts:
            logger.info("Gate has no Slack message to update", extra={"gateId": gate.gateId})
            return False
        try:
            self.client.chat_update(channel=channel, ts=ts, text=decided_text(gate), blocks=decided_blocks(gate))
            return True
        except Exception as error:  # noqa: BLE001 - best effort: Slack never blocks a decision
            logger.warning("Slack chat.update failed", extra={"gateId": gate.gateId, "error": _describe(error)})
            return False

    def note(self, channel: str, thread_ts: str | None, text: str) -> str | None:
        """Post ``text`` (in the thread of ``thread_ts`` if given); returns the new message's ts. Never raises."""
        try:
            response = self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False, unfurl_media=False
            )
            return str(response["ts"])
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack chat.postMessage failed", extra={"channel": channel, "error": _describe(error)})
            return None

    def post_blocks(self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]]) -> str | None:
        """Post a message with ``blocks`` (e.g. a button) in the thread; returns its ts. Never raises."""
        try:
            response = self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
            return str(response["ts"])
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack chat.postMessage failed", extra={"channel": channel, "error": _describe(error)})
            return None

    def respond(self, response_url: str, text: str) -> bool:
        """Answer a click with a message only the clicking user sees. Never raises."""
        try:
            response = self._webhook_factory(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if response.status_code != 200:
                logger.warning("Slack response_url refused the reply", extra={"status": response.status_code})
                return False
            return True
        except Exception as error:  # noqa: BLE001 - best effort
            logger.warning("Slack response_url failed", extra={"error": type(error).__name__})
            return False


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", "?")
        code = error.response.get("error", "") if hasattr(error.response, "get") else ""
        return f"SlackApiError {status} {code}".strip()
    return f"{type(error).__name__}: {error}"
