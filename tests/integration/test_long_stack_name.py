"""A stack whose name is too long for CloudFormation's generated function names to keep it whole."""

from __future__ import annotations

import pytest

from bluegreen_emulator import patches
from bluegreen_emulator.emulator import Emulator
from tests.integration.helpers import wait_for_gate, wait_until

LONG_STACK = "payments-platform-production-eu-west-1-bluegreen"  # 48 characters: names are truncated

pytestmark = pytest.mark.slow


def test_an_approval_click_updates_its_message_in_a_stack_with_a_long_name():
    with Emulator(auto_approve=False, stack_name=LONG_STACK) as emu:
        # Given functions named as CloudFormation names them for a long stack name (stack part truncated)
        callback = emu.function_name("SlackCallbackFunction")
        assert len(callback) <= 64 and not callback.startswith(LONG_STACK)
        demo = emu.seed_service()
        arn = emu.start(demo.name, "v2")
        gate = wait_for_gate(emu, demo.name, "approval")
        wait_until(lambda: emu.store.get_gate(gate.gateId).ts)
        gate = emu.store.get_gate(gate.gateId)

        # When someone clicks Approve (the message update runs in the callback's invocation of itself)
        answer = emu.click(gate, "approve")

        # Then the callback was allowed to invoke itself: the message lost its buttons, the deployment ended
        assert answer["statusCode"] == 200
        assert patches.DELIVERIES.wait_idle(timeout=30)
        message = emu.slack.message(gate.channel, gate.ts)
        assert not any(block.get("type") == "actions" for block in message["blocks"])
        assert emu.wait(arn).status == "SUCCEEDED"
        assert not [d for d in emu.iam.denials if d.principal == "SlackCallbackFunction"]
