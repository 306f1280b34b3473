"""The Slack clients take their retry pace from settings, not from the look of the URL."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)

from bluegreen.slack.client import web_client, webhook_client


def _calculators(client) -> list:
    """The interval calculators of the connection-error and server-error retries (rate limits follow Retry-After)."""
    return [h.interval_calculator for h in client.retry_handlers if type(h).__name__ != "RateLimitErrorRetryHandler"]


def _intervals(client) -> set[type]:
    return {type(c) for c in _calculators(client)}


def test_retry_interval_setting_gives_fixed_retries(monkeypatch):
    # Given SLACK_RETRY_INTERVAL (what the emulator sets for its local Slack)
    monkeypatch.setenv("SLACK_RETRY_INTERVAL", "0.01")
    # When the clients are built for a Slack on this machine
    web = web_client("xoxb-test", base_url="http://127.0.0.1:9/api/")
    hook = webhook_client("http://127.0.0.1:9/hook")
    # Then every retry waits that fixed interval
    for client in (web, hook):
        calculators = _calculators(client)
        assert len(calculators) == 2
        assert all(isinstance(c, FixedValueRetryIntervalCalculator) for c in calculators)
        assert {c.calculate_sleep_duration(1) for c in calculators} == {0.01}


def test_without_the_setting_a_loopback_url_gets_the_default_backoff(monkeypatch):
    # Given no SLACK_RETRY_INTERVAL
    monkeypatch.delenv("SLACK_RETRY_INTERVAL", raising=False)
    # When a client is built for a loopback URL
    web = web_client("xoxb-test", base_url="http://127.0.0.1:9/api/")
    # Then the product does not special-case it: slack_sdk's backoff applies
    assert BackoffRetryIntervalCalculator in _intervals(web)
    assert FixedValueRetryIntervalCalculator not in _intervals(web)
