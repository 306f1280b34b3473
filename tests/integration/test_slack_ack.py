"""The Slack callback answers within Slack's 3 s whatever Slack does; odd bodies are a 4xx."""

from __future__ import annotations

import base64
import json

import pytest

from bluegreen_emulator import patches
from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.fake_slack import http_api_event
from tests.integration.helpers import wait_for_gate, wait_until


def _buttons(message: dict) -> bool:
    return any(block.get("type") == "actions" for block in message["blocks"])


def test_a_click_is_acknowledged_before_the_message_is_updated():
    with Emulator(auto_approve=False) as emu:
        # Given an approval whose Slack message is posted, and a Slack that stops answering
        demo = emu.seed_service()
        arn = emu.start(demo.name, "v2")
        gate = wait_for_gate(emu, demo.name, "approval")
        wait_until(lambda: emu.store.get_gate(gate.gateId).ts)
        gate = emu.store.get_gate(gate.gateId)
        emu.slack.open.clear()
        try:
            # When someone clicks Approve
            answer = emu.click(gate, "approve", wait_follow_up=False)

            # Then the click is answered at once, after the decision is recorded and Step Functions told ...
            assert answer["statusCode"] == 200
            assert json.loads(answer["body"])["message"].startswith("Approved")
            assert emu.store.get_gate(gate.gateId).status == "APPROVED"
            wait_until(lambda: any(e["type"] == "TaskSucceeded" for e in emu.history(arn)))
            # ... while the message update still waits for Slack
            assert _buttons(emu.slack.message(gate.channel, gate.ts))
        finally:
            emu.slack.open.set()
        # And once Slack answers, the message shows the decision (buttons removed) and the deployment ends
        assert patches.DELIVERIES.wait_idle(timeout=30)
        assert not _buttons(emu.slack.message(gate.channel, gate.ts))
        assert emu.wait(arn).status == "SUCCEEDED"


@pytest.mark.parametrize(
    "raw",
    [b"payload=\xff\xfe", b"\x80abc", b"payload=%7Bnot json", b"payload=%zz&&", b""],
    ids=["non-utf8", "binary", "bad-json", "bad-form", "empty"],
)
def test_the_callback_lambda_answers_an_undecodable_body_with_a_4xx(raw):
    with Emulator(auto_approve=False) as emu:
        event = http_api_event("", {"content-type": "application/x-www-form-urlencoded"})
        event.update(body=base64.b64encode(raw).decode("ascii"), isBase64Encoded=True)

        answer = json.loads(emu.dispatcher.invoke(emu.function_name("SlackCallbackFunction"), json.dumps(event), {}))

    assert 400 <= answer["statusCode"] < 500
