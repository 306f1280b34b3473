"""Slack messages: what a gate's message shows, its buttons, and how Slack failures are handled."""

from __future__ import annotations

import json
import socket
import time
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator

from bluegreen.domain.gates import Gate
from bluegreen.slack.client import Notifier, SlackRefused, SlackSecrets, SlackUnavailable, web_client, webhook_client
from bluegreen.slack.interactions import parse_action, verify_request
from bluegreen.slack.messages import MAX_BUTTON_VALUE, decided_blocks, gate_blocks
from bluegreen_emulator.fake_slack import FakeSlack, interaction_payload, sign, signed_interaction

BOT_TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "test-signing-secret"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAA" + "x" * 2000  # Step Functions task tokens are long
DIGEST = "sha256:" + "ab" * 32
FAST = FixedValueRetryIntervalCalculator(0.001)


def a_gate(kind: str = "approval", **changes: Any) -> Gate:
    """A gate as the deployments table returns it (numbers come back as Decimal)."""
    prefix = {"approval": "ap", "bake": "bk", "keep-old": "ko"}[kind]
    gate = {
        "pk": f"GATE#{prefix}-k3m9xq2z",
        "sk": "GATE",
        "gateId": f"{prefix}-k3m9xq2z",
        "kind": kind,
        "service": "demo-web",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:deploy-demo-web-v2",
        "executionName": "deploy-demo-web-v2",
        "taskToken": TASK_TOKEN,
        "status": "PENDING",
        "createdAt": "2030-01-01T10:00:00+00:00",
        "expiresAt": "2030-01-01T10:10:00+00:00",
        "ttl": Decimal(1900000000),
        "alarmNames": [],
        "imageTag": "v2",
        "imageDigest": DIGEST,
        "requestedBy": "slack:U0DEPLOYER",
        "testUrl": "https://test.demo.example.com/",
        "channel": "#deploys",
    }
    gate.update(changes)
    return Gate.model_validate(gate)


def actions_of(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [element for block in blocks if block["type"] == "actions" for element in block["elements"]]


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


@pytest.fixture
def slack() -> Any:
    with FakeSlack(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def notifier(slack: FakeSlack) -> Notifier:
    client = web_client(BOT_TOKEN, base_url=slack.base_url, retry_interval=FAST)
    return Notifier(client, webhook_factory=lambda url: webhook_client(url, retry_interval=FAST))


# --- what the messages show ----------------------------------------------------------------
def test_approval_message_shows_the_deployment_and_buttons_carrying_only_the_gate_id():
    # Given a pending approval gate with a long task token
    gate = a_gate("approval")

    # When its message is built
    blocks = gate_blocks(gate)

    # Then it shows the service, the tag and digest, the test URL and who started it
    text = text_of(blocks)
    for shown in ("demo-web", "v2", DIGEST, "https://test.demo.example.com/", "<@U0DEPLOYER>", "deploy-demo-web-v2"):
        assert shown in text
    # ... with Approve and Reject buttons whose value is the gate id and nothing else
    buttons = actions_of(blocks)
    assert [b["action_id"] for b in buttons] == ["approve", "reject"]
    assert all(b["value"] == "ap-k3m9xq2z" and len(b["value"]) < MAX_BUTTON_VALUE for b in buttons)
    # ... and the task token appears nowhere in the message
    assert TASK_TOKEN[:40] not in text
    # ... Reject asks for confirmation
    assert "confirm" in buttons[1] and "confirm" not in buttons[0]


def test_bake_message_says_production_is_swapped_and_offers_a_rollback():
    # Given a bake gate of 600 s (as DynamoDB returns numbers) watching one alarm
    gate = a_gate("bake", bakeSeconds=Decimal(600), alarmNames=["demo-web-5xx"])

    # When its message is built
    blocks = gate_blocks(gate)

    # Then it says production is on the new tag and how long the bake lasts
    assert "Swapped: production on `v2`, baking 600 s." in text_of(blocks)
    assert "demo-web-5xx" in text_of(blocks)
    # ... and offers one Roll back button carrying the gate id
    assert [(b["action_id"], b["value"]) for b in actions_of(blocks)] == [("rollback", "bk-k3m9xq2z")]


def test_bake_message_without_bake_seconds_uses_the_gate_duration():
    blocks = gate_blocks(a_gate("bake"))
    assert "baking 600 s" in text_of(blocks)


def test_keep_old_message_offers_finish_and_rollback():
    buttons = actions_of(gate_blocks(a_gate("keep-old")))
    assert [(b["action_id"], b["value"]) for b in buttons] == [("finish", "ko-k3m9xq2z"), ("rollback", "ko-k3m9xq2z")]


def test_text_from_users_cannot_mention_everyone_or_inject_links():
    # Given a requester name that tries to ping the channel
    gate = a_gate("approval", requestedBy="<!channel> <https://evil.example|click>")

    # When its message is built, the text is escaped
    text = text_of(gate_blocks(gate))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_decided_message_has_no_buttons_and_says_who_decided_and_when():
    # Given an approval approved from Slack
    gate = a_gate("approval", status="APPROVED", decidedBy="slack:U0ALICE", decidedAt="2030-01-01T10:05:00+00:00")

    # When the decided message is built
    blocks = decided_blocks(gate)

    # Then there is no actions block, and a line names the approver and the time
    assert [b for b in blocks if b["type"] == "actions"] == []
    last = blocks[-1]["text"]["text"]
    assert last.startswith("*Approved* by <@U0ALICE> at <!date^1893492300^")
    assert "2030-01-01T10:05:00+00:00" in last
    # ... the summary is still there, and never the token
    assert "demo-web" in text_of(blocks) and TASK_TOKEN[:40] not in text_of(blocks)


@pytest.mark.parametrize(
    ("status", "actor", "reason", "expected"),
    [
        ("REJECTED", "slack:U0BOB", "@bob in Slack", "*Rejected* by <@U0BOB> at "),
        ("ROLLED_BACK", "cli:carol", "latency", "*Rolled back* by `cli:carol` at "),
        ("FINISHED", "slack:U0ALICE", "", "*Finished* by <@U0ALICE> at "),
        ("EXPIRED", "timeout", "expired", "*Expired* at "),
        ("ALARM", "alarm:demo-web-5xx", "Threshold crossed", "*Rolled back by an alarm* by alarm `demo-web-5xx` at "),
    ],
)
def test_decided_message_line_for_each_outcome(status, actor, reason, expected):
    gate = a_gate("keep-old", status=status, decidedBy=actor, decidedAt="2030-01-01T10:05:00+00:00", reason=reason)
    line = decided_blocks(gate)[-1]["text"]["text"]
    assert line.startswith(expected)
    if reason and reason != "expired":
        assert line.endswith(f": {reason}")
    assert not line.endswith(": expired")


# --- posting and updating through Slack -------------------------------------------------------
def test_post_gate_posts_the_buttons_to_the_channel_and_returns_its_id_and_ts(slack, notifier):
    # When the approval message is posted to #deploys
    channel, ts = notifier.post_gate(a_gate("approval"))

    # Then Slack holds a message in that channel with the two buttons, posted with the bot token
    assert channel == slack.channel_id("#deploys")
    message = slack.message(channel, ts)
    assert [b["action_id"] for b in actions_of(message["blocks"])] == ["approve", "reject"]
    assert message["text"] == "Approval needed: demo-web v2 (ap-k3m9xq2z)"
    assert slack.calls_to("chat.postMessage")[0].token == BOT_TOKEN


def test_update_gate_removes_the_buttons_of_the_posted_message(slack, notifier):
    # Given a posted approval message
    channel, ts = notifier.post_gate(a_gate("approval"))

    # When the gate is approved and its message updated
    decided = a_gate(
        "approval",
        channel=channel,
        ts=ts,
        status="APPROVED",
        decidedBy="slack:U0ALICE",
        decidedAt="2030-01-01T10:05:00+00:00",
    )
    assert notifier.update_gate(decided) is True

    # Then the message has no buttons and names the approver
    message = slack.message(channel, ts)
    assert actions_of(message["blocks"]) == []
    assert "<@U0ALICE>" in text_of(message["blocks"])


def test_post_gate_raises_a_retryable_error_when_slack_keeps_failing(slack, notifier):
    # Given Slack answering 500 to every attempt (the client retries twice)
    slack.fail_next(3, status=500)

    # When the message is posted, the failure is raised for the caller to retry
    with pytest.raises(SlackUnavailable, match="chat.postMessage"):
        notifier.post_gate(a_gate("approval"))
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_post_gate_succeeds_when_a_retry_gets_through(slack, notifier):
    slack.fail_next(1, status=503)
    channel, ts = notifier.post_gate(a_gate("approval"))
    assert slack.message(channel, ts) is not None


def test_post_gate_raises_a_configuration_error_when_slack_refuses(slack, notifier):
    slack.fail_next(1, status=200, error="not_in_channel")
    with pytest.raises(SlackRefused, match="not_in_channel"):
        notifier.post_gate(a_gate("approval"))
    with pytest.raises(SlackRefused, match="no Slack channel"):
        notifier.post_gate(a_gate("approval", channel=None))


@pytest.mark.parametrize(("status", "error"), [(500, "fatal_error"), (200, "message_not_found"), (200, "invalid_auth")])
def test_best_effort_calls_swallow_a_failing_slack(slack, notifier, status, error):
    # Given Slack failing every request
    slack.fail_next(20, status=status, error=error)
    decided = a_gate("approval", channel="C0DEMO", ts="1.2", status="APPROVED", decidedBy="slack:U0ALICE")

    # When the message is updated, a note is posted and a click is answered, nothing raises
    assert notifier.update_gate(decided) is False
    assert notifier.note("C0DEMO", "1.2", "Green is healthy") is None
    assert notifier.respond(slack.response_url(), "Already approved") is False


def test_best_effort_calls_swallow_an_unreachable_slack():
    # Given a Slack API URL where nothing listens
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = f"http://127.0.0.1:{port}/api/"
    notifier = Notifier(
        web_client(BOT_TOKEN, base_url=dead, retry_interval=FAST),
        webhook_factory=lambda url: webhook_client(url, retry_interval=FAST),
    )

    # Then best-effort calls return quietly and post_gate raises a retryable error
    gate = a_gate("approval", channel="C0DEMO", ts="1.2", status="APPROVED")
    assert notifier.update_gate(gate) is False
    assert notifier.note("C0DEMO", None, "hello") is None
    assert notifier.respond(f"http://127.0.0.1:{port}/response/x", "hi") is False
    with pytest.raises(SlackUnavailable):
        notifier.post_gate(a_gate("approval"))


def test_best_effort_calls_swallow_missing_credentials():
    # Given a notifier whose client cannot be created (e.g. the secret is unreadable)
    def broken() -> Any:
        raise RuntimeError("secret unavailable")

    notifier = Notifier(client_factory=broken)
    assert notifier.update_gate(a_gate("approval", ts="1.2", status="APPROVED")) is False
    assert notifier.note("C0DEMO", None, "hello") is None


def test_note_posts_in_the_thread_and_returns_the_ts(slack, notifier):
    root = notifier.note("#deploys", None, "Deploying demo-web v2")
    reply = notifier.note("#deploys", root, "Green is healthy")
    assert root and reply and reply > root
    assert slack.calls_to("chat.postMessage")[1].args["thread_ts"] == root


def test_respond_sends_an_ephemeral_reply_that_keeps_the_original(slack, notifier):
    url = slack.response_url("abc")
    assert notifier.respond(url, "Only you can see this") is True
    (call,) = slack.responses("abc")
    assert call.args == {"text": "Only you can see this", "response_type": "ephemeral", "replace_original": False}


# --- requests from Slack ----------------------------------------------------------------------
def test_signature_is_checked_with_headers_in_any_case_and_within_five_minutes():
    body, headers = signed_interaction(SIGNING_SECRET, "U0ALICE", "approve", "ap-k3m9xq2z", timestamp=1_900_000_000)
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_request(body, headers, SIGNING_SECRET, now=1_900_000_000)
    assert verify_request(body, lower, SIGNING_SECRET, now=1_900_000_000 + 299)
    assert not verify_request(body, lower, SIGNING_SECRET, now=1_900_000_000 + 301)
    assert not verify_request(body, lower, "another-secret", now=1_900_000_000)
    assert not verify_request(body + "x", lower, SIGNING_SECRET, now=1_900_000_000)
    assert not verify_request(body, {"x-slack-request-timestamp": "1900000000"}, SIGNING_SECRET, now=1_900_000_000)
    assert not verify_request(body, {**lower, "x-slack-request-timestamp": "soon"}, SIGNING_SECRET, now=1_900_000_000)


def test_a_click_is_parsed_from_the_form_body_slack_sends():
    url = "https://hooks.slack.com/actions/T0DEMO/1/abc"
    body, _ = signed_interaction(
        SIGNING_SECRET,
        "U0ALICE",
        "approve",
        "ap-k3m9xq2z",
        channel="C0DEPLOYS",
        ts="1700000000.000200",
        response_url=url,
        user_name="alice",
    )
    assert tuple(parse_action(body)) == (
        "U0ALICE",
        "alice",
        "approve",
        "ap-k3m9xq2z",
        "C0DEPLOYS",
        "1700000000.000200",
        url,
    )


def _form(payload: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)})


def _changed(**changes: Any) -> str:
    payload = interaction_payload("U0ALICE", "approve", "ap-k3m9xq2z")
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return _form(payload)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "hello",
        "payload=",
        _form("{not json"),
        _form([1, 2]),
        _changed(type="view_submission"),
        _changed(user=None),
        _changed(user={"id": "alice"}),
        _changed(actions=[]),
        _changed(actions=None),
        _changed(actions=[{"action_id": "alarm", "value": "bk-k3m9xq2z"}]),
        _changed(actions=[{"action_id": "approve", "value": "x" * 3000}]),
        _changed(actions=[{"action_id": "approve"}]),
        _changed(actions=[{"action_id": "approve", "value": "ap-k3m9xq2z\n"}]),
        _changed(user={"id": "U0ALICE\n"}),
        _changed(channel=None),
        _changed(response_url="file:///etc/passwd"),
        _changed() + "&" + _changed(),
    ],
)
def test_anything_malformed_is_a_value_error(body):
    with pytest.raises(ValueError):
        parse_action(body)


def test_sign_matches_what_the_verifier_expects():
    now = int(time.time())
    assert verify_request("payload=%7B%7D", sign(SIGNING_SECRET, "payload=%7B%7D", now), SIGNING_SECRET)


def test_secrets_do_not_show_in_their_repr():
    secrets = SlackSecrets(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    assert BOT_TOKEN not in repr(secrets) and SIGNING_SECRET not in str(secrets)
