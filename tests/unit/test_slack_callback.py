"""Slack callback: a click on a gate's button answers the gate once, for allowed users, on signed requests only.

Drives ``functions/slack_callback/app.py`` with API Gateway HTTP API (payload 2.0) events,
on a moto account (deployments table, Slack secret, service configuration) and the
local fake Slack. Step Functions is a recording fake so every task call can be counted.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen.aws import clients as aws
from bluegreen.aws import store as store_module
from bluegreen.aws.decisions import open_gate
from bluegreen.aws.store import Store
from bluegreen.domain import clock
from bluegreen.domain.gates import Gate, GateKind
from bluegreen.slack.client import web_client
from bluegreen_emulator.fake_slack import FakeSlack, http_api_event, interaction_payload, sign, signed_interaction
from tests.conftest import load_handler

TABLE = "bluegreen-deployments"
SECRET_NAME = "bluegreen/slack"
SIGNING_SECRET = "sgn-5f1c0e9a2b7d4c3e8f6a1b2c3d4e5f60-KNOWN"
BOT_TOKEN = "xoxb-424242-424242-KNOWNBOTTOKEN"
SERVICE = "demo-web"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:deploy-demo-web-v2"
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAA" + "t" * 600
ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"


def service_config(approvers: list[str]) -> dict[str, Any]:
    prefix = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
    return {
        "cluster": "demo",
        "service": SERVICE,
        "containerName": "web",
        "repository": SERVICE,
        "productionRuleArn": f"{prefix}:listener-rule/app/demo/1/2/3",
        "testRuleArn": f"{prefix}:listener-rule/app/demo/1/2/4",
        "targetGroupArns": [f"{prefix}:targetgroup/demo-a/1", f"{prefix}:targetgroup/demo-b/2"],
        "slackChannel": "#deploys",
        "approval": {"approvers": approvers},
    }


@dataclass
class RecordingSfn:
    """Stands in for the Step Functions client: records task calls, optionally failing them."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error_code: str | None = None

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if self.error_code:
            raise ClientError(
                {
                    "Error": {"Code": self.error_code, "Message": "Task Timed Out"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )
        return {}

    def send_task_success(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskSuccess", params)

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskFailure", params)


@dataclass
class Harness:
    handler: Any
    context: Any
    slack: FakeSlack
    session: Any
    store: Store
    sfn: RecordingSfn

    def open_gate(self, kind: str = "approval", timeout: int = 3600) -> Gate:
        """Open a gate the way the workflow does and post its message; returns the stored gate."""
        details = {
            "imageTag": "v2",
            "imageDigest": "sha256:" + "ab" * 32,
            "executionName": "deploy-demo-web-v2",
            "requestedBy": "ci:github-actions",
            "channel": "#deploys",
            "bakeSeconds": 600,
        }
        gate = open_gate(self.store, GateKind(kind), SERVICE, EXECUTION_ARN, TASK_TOKEN, timeout, details)
        channel, ts = self.notifier().post_gate(gate)
        self.store.set_message(gate.gateId, channel, ts)
        self.slack.reset()
        return self.gate(gate.gateId)

    def notifier(self) -> Any:
        from bluegreen.slack.client import Notifier

        return Notifier(web_client(BOT_TOKEN, base_url=self.slack.base_url))

    def gate(self, gate_id: str) -> Gate | None:
        return self.store.get_gate(gate_id)

    def send(self, body: str, headers: dict[str, str], *, base64_body: bool = False, **event: Any) -> dict[str, Any]:
        return self.handler.lambda_handler(
            http_api_event(body, headers, base64_body=base64_body, **event), self.context
        )

    def click(
        self,
        user: str,
        action: str,
        gate_id: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        base64_body: bool = False,
    ) -> tuple[dict[str, Any], str]:
        """A signed click as Slack sends it; returns the HTTP answer and the click's response_url id."""
        response_id = f"r-{user}-{action}-{len(self.slack.calls)}"
        gate = self.store.get_gate(gate_id)
        body, headers = signed_interaction(
            secret,
            user,
            action,
            gate_id,
            channel=(gate.channel if gate else None) or "C0DEMO",
            ts=(gate.ts if gate else None) or "1.1",
            response_url=self.slack.response_url(response_id),
            timestamp=timestamp,
            user_name=user.lower()[2:],
        )
        return self.send(body, headers, base64_body=base64_body), response_id

    def set_approvers(self, approvers: list[str]) -> None:
        self.session.client("ssm").put_parameter(
            Name=f"/bluegreen/services/{SERVICE}",
            Value=json.dumps(service_config(approvers)),
            Type="String",
            Overwrite=True,
        )

    def replies(self, response_id: str | None = None) -> list[str]:
        return [call.args["text"] for call in self.slack.responses(response_id)]


def _clear_caches() -> None:
    aws.get_clients.cache_clear()
    store_module.get_store.cache_clear()
    aws.get_ssm_provider.cache_clear()
    parameters.clear_caches()


@pytest.fixture(scope="module")
def handler() -> Any:
    return load_handler("slack_callback")


@pytest.fixture(scope="module")
def account() -> Any:
    """One moto account for the module (the Slack secret in it); each test gets a fresh table."""
    with mock_aws():
        _clear_caches()
        session = boto3.session.Session(region_name="us-east-1")
        session.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"botToken": BOT_TOKEN, "signingSecret": SIGNING_SECRET})
        )
        try:
            yield session
        finally:
            _clear_caches()


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, account: Any, handler: Any, lambda_context: Any) -> Any:
    with FakeSlack(token=BOT_TOKEN) as slack:
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("SLACK_SECRET_NAME", SECRET_NAME)
        monkeypatch.setenv("SLACK_API_URL", slack.base_url)
        monkeypatch.delenv("DEFAULT_APPROVERS", raising=False)
        dynamodb = account.client("dynamodb")
        if TABLE in dynamodb.list_tables()["TableNames"]:
            dynamodb.delete_table(TableName=TABLE)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        # No state carries over between tests: the store (and its Step Functions fake) and the cached secret.
        store_module.get_store.cache_clear()
        parameters.clear_caches()
        store = store_module.get_store()
        sfn = RecordingSfn()
        store.sfn = sfn  # the handler's cached store talks to this fake Step Functions
        harness = Harness(handler, lambda_context, slack, account, store, sfn)
        harness.set_approvers([ALICE, BOB])
        try:
            yield harness
        finally:
            clock.set_source(None)
            store_module.get_store.cache_clear()
            parameters.clear_caches()


def message_of(response: dict[str, Any]) -> str:
    return json.loads(response["body"])["message"]


def blocks_text(call: Any) -> str:
    return json.dumps(call.args["blocks"])


def has_buttons(call: Any) -> bool:
    return any(block["type"] == "actions" for block in call.args["blocks"])


# --- deciding ----------------------------------------------------------------------------------
def test_approve_click_resumes_the_deployment_once_and_updates_the_message(harness):
    # Given a pending approval whose message (with buttons) is in #deploys
    gate = harness.open_gate("approval")

    # When Alice, an approver, clicks Approve (API Gateway passes the form body base64-encoded)
    response, reply_id = harness.click(ALICE, "approve", gate.gateId, base64_body=True)

    # Then Slack gets 200 and Step Functions one SendTaskSuccess with the gate's token
    assert response["statusCode"] == 200
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    params = harness.sfn.calls[0][1]
    assert params["taskToken"] == TASK_TOKEN
    assert json.loads(params["output"])["decidedBy"] == f"slack:{ALICE}"
    # ... the gate is approved by Alice
    stored = harness.gate(gate.gateId)
    assert (stored.status, stored.decidedBy) == ("APPROVED", f"slack:{ALICE}")
    # ... the message is updated in place: no buttons, who approved and when
    (update,) = harness.slack.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (gate.channel, gate.ts)
    assert not has_buttons(update)
    assert f"*Approved* by <@{ALICE}> at <!date^" in blocks_text(update)
    assert harness.slack.message(gate.channel, gate.ts)["blocks"] == update.args["blocks"]
    # ... and no extra reply was needed
    assert harness.replies(reply_id) == []


def test_reject_click_fails_the_task_as_rejected_naming_the_user(harness):
    # Given a pending approval
    gate = harness.open_gate("approval")

    # When Bob clicks Reject
    response, _ = harness.click(BOB, "reject", gate.gateId)

    # Then Step Functions gets one SendTaskFailure "Rejected" whose cause names Bob
    assert response["statusCode"] == 200
    assert [(op, p["error"]) for op, p in harness.sfn.calls] == [("SendTaskFailure", "Rejected")]
    assert f"slack:{BOB}" in harness.sfn.calls[0][1]["cause"]
    assert harness.gate(gate.gateId).status == "REJECTED"
    (update,) = harness.slack.calls_to("chat.update")
    assert not has_buttons(update) and f"*Rejected* by <@{BOB}>" in blocks_text(update)


def test_rollback_click_during_the_bake_fails_the_task_as_manual_rollback(harness):
    gate = harness.open_gate("bake")
    response, _ = harness.click(ALICE, "rollback", gate.gateId)
    assert response["statusCode"] == 200
    assert [(op, p["error"]) for op, p in harness.sfn.calls] == [("SendTaskFailure", "ManualRollback")]
    assert harness.gate(gate.gateId).status == "ROLLED_BACK"


def test_finish_click_on_the_keep_old_hold_resumes_the_deployment(harness):
    gate = harness.open_gate("keep-old")
    response, _ = harness.click(BOB, "finish", gate.gateId)
    assert response["statusCode"] == 200
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    assert harness.gate(gate.gateId).status == "FINISHED"


@pytest.mark.parametrize("second", ["same user clicks again", "replayed request", "another approver", "reject"])
def test_a_gate_is_answered_once_later_clicks_are_told_who_decided(harness, second):
    # Given Alice approved the gate
    gate = harness.open_gate("approval")
    body, headers = signed_interaction(
        SIGNING_SECRET,
        ALICE,
        "approve",
        gate.gateId,
        gate.channel,
        gate.ts,
        harness.slack.response_url("first"),
    )
    assert harness.send(body, headers)["statusCode"] == 200
    harness.slack.reset()

    # When a second click arrives
    if second == "replayed request":
        response, reply_id = harness.send(body, headers), "first"
    else:
        user, action = {
            "same user clicks again": (ALICE, "approve"),
            "another approver": (BOB, "approve"),
            "reject": (BOB, "reject"),
        }[second]
        response, reply_id = harness.click(user, action, gate.gateId)

    # Then it gets 200 and a reply only the clicker sees, saying who approved
    assert response["statusCode"] == 200
    (reply,) = harness.slack.responses(reply_id)
    assert reply.args["response_type"] == "ephemeral" and reply.args["replace_original"] is False
    assert f"already approved by <@{ALICE}>" in reply.args["text"]
    # ... and Step Functions was called once in all
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    stored = harness.gate(gate.gateId)
    assert (stored.status, stored.decidedBy) == ("APPROVED", f"slack:{ALICE}")


# --- refused requests -----------------------------------------------------------------------------
def _unsigned(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body, headers = signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId)
    return body, {"Content-Type": headers["Content-Type"]}


def _wrong_secret(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return signed_interaction("not-the-signing-secret", ALICE, "approve", gate.gateId)


def _stale(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId, timestamp=int(time.time()) - 301)


def _from_the_future(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId, timestamp=int(time.time()) + 360)


def _tampered(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body, headers = signed_interaction(SIGNING_SECRET, MALLORY, "reject", gate.gateId)
    return body.replace(MALLORY, ALICE), headers


def _no_timestamp(gate: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body, headers = signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId)
    return body, {k: v for k, v in headers.items() if k != "X-Slack-Request-Timestamp"}


@pytest.mark.parametrize("request_of", [_unsigned, _wrong_secret, _stale, _from_the_future, _tampered, _no_timestamp])
def test_requests_without_a_valid_recent_signature_get_401_and_change_nothing(harness, request_of):
    # Given a pending approval
    gate = harness.open_gate("approval")

    # When a request without a valid signature arrives
    body, headers = request_of(gate)
    response = harness.send(body, headers)

    # Then it is refused and nothing happens: no Step Functions call, no Slack call, gate still pending
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"message": "invalid signature"}
    assert harness.sfn.calls == []
    assert harness.slack.calls == []
    assert harness.gate(gate.gateId) == gate


def test_user_not_on_the_service_approvers_is_refused_visibly(harness):
    # Given demo-web's approvers are Alice and Bob
    gate = harness.open_gate("approval")

    # When Mallory clicks Approve
    response, reply_id = harness.click(MALLORY, "approve", gate.gateId)

    # Then she sees why, and nothing else happens
    assert response["statusCode"] == 200
    (reply,) = harness.replies(reply_id)
    assert "not allowed to approve deployments of *demo-web*" in reply
    assert f"<@{ALICE}>" in reply and f"<@{BOB}>" in reply
    assert harness.sfn.calls == []
    assert harness.slack.calls_to("chat.update") == []
    assert harness.gate(gate.gateId) == gate


def test_service_approvers_take_precedence_over_the_default_list(harness, monkeypatch):
    # Given demo-web names Alice and Bob, and the stack's default list names Mallory
    monkeypatch.setenv("DEFAULT_APPROVERS", MALLORY)
    gate = harness.open_gate("approval")
    response, reply_id = harness.click(MALLORY, "approve", gate.gateId)
    assert response["statusCode"] == 200
    assert "not allowed" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []


def test_default_approvers_apply_when_the_service_names_none(harness, monkeypatch):
    # Given demo-web names no approvers and the stack's default list is Carol and Bob
    harness.set_approvers([])
    monkeypatch.setenv("DEFAULT_APPROVERS", f" {CAROL}, {BOB} ,")
    refused = harness.open_gate("approval")
    allowed = harness.open_gate("approval")

    # When Mallory clicks, she is refused and nothing happens
    _, reply_id = harness.click(MALLORY, "approve", refused.gateId)
    assert "not allowed to approve" in harness.replies(reply_id)[0]
    assert f"<@{CAROL}>" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []
    assert harness.gate(refused.gateId).status == "PENDING"

    # When Carol clicks, the gate is approved
    harness.click(CAROL, "approve", allowed.gateId)
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    assert harness.gate(allowed.gateId).decidedBy == f"slack:{CAROL}"


def test_nobody_may_answer_when_no_approvers_are_configured_anywhere(harness):
    harness.set_approvers([])
    gate = harness.open_gate("approval")
    _, reply_id = harness.click(ALICE, "approve", gate.gateId)
    assert "no approvers are configured" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []
    assert harness.gate(gate.gateId).status == "PENDING"


def test_a_missing_service_configuration_refuses_the_click(harness):
    gate = harness.open_gate("approval")
    harness.session.client("ssm").delete_parameter(Name=f"/bluegreen/services/{SERVICE}")
    response, reply_id = harness.click(ALICE, "approve", gate.gateId)
    assert response["statusCode"] == 200
    assert "Cannot check who may answer gates of *demo-web*" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []


def _signed(body: str) -> tuple[str, dict[str, str]]:
    return body, sign(SIGNING_SECRET, body)


def _payload(**changes: Any) -> str:
    payload = interaction_payload(ALICE, "approve", "ap-k3m9xq2z")
    payload.update(changes)
    return urlencode({"payload": json.dumps(payload)})


@pytest.mark.parametrize(
    "body",
    [
        "",
        '{"type": "block_actions"}',
        "payload=%7Bnot%20json",
        _payload(type="view_submission"),
        _payload(actions=[]),
        _payload(actions=[{"action_id": "alarm", "value": "bk-k3m9xq2z"}]),
        _payload(actions=[{"action_id": "approve", "value": "TASKTOKEN" * 300}]),
        _payload(user={"name": "alice"}),
    ],
)
def test_malformed_signed_payload_gets_400_and_changes_nothing(harness, body):
    gate = harness.open_gate("approval")
    response = harness.send(*_signed(body))
    assert response["statusCode"] == 400
    assert harness.sfn.calls == [] and harness.slack.calls == []
    assert harness.gate(gate.gateId) == gate


def test_other_routes_are_not_found(harness):
    gate = harness.open_gate("approval")
    body, headers = signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId)
    assert harness.send(body, headers, method="GET")["statusCode"] == 404
    assert harness.send(body, headers, path="/slack/events")["statusCode"] == 404
    assert harness.sfn.calls == []


# --- gates that are gone --------------------------------------------------------------------------
def test_unknown_gate_id_gets_a_clear_message(harness):
    response, reply_id = harness.click(ALICE, "approve", "ap-zzzzzzzz")
    assert response["statusCode"] == 200
    assert harness.replies(reply_id) == ["Gate `ap-zzzzzzzz` is unknown or has expired. Nothing was changed."]
    assert harness.sfn.calls == []


def test_a_button_of_another_kind_of_gate_is_refused(harness):
    gate = harness.open_gate("approval")
    _, reply_id = harness.click(ALICE, "finish", gate.gateId)
    assert f"No keep-old gate with id {gate.gateId}" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []
    assert harness.gate(gate.gateId).status == "PENDING"


def test_click_after_the_execution_ended_gets_a_clear_message(harness):
    # Given the execution behind the gate already ended (Step Functions answers TaskTimedOut)
    gate = harness.open_gate("approval")
    harness.sfn.error_code = "TaskTimedOut"

    # When Alice clicks Approve
    response, reply_id = harness.click(ALICE, "approve", gate.gateId)

    # Then she is told the deployment is no longer waiting, and the message loses its buttons
    assert response["statusCode"] == 200
    (reply,) = harness.replies(reply_id)
    assert "no longer waiting (TaskTimedOut)" in reply
    (update,) = harness.slack.calls_to("chat.update")
    assert not has_buttons(update) and "*Expired*" in blocks_text(update)


def test_click_after_the_gate_expired_gets_a_clear_message(harness):
    # Given a gate whose timeout has passed
    gate = harness.open_gate("approval", timeout=600)
    later = clock.now() + timedelta(seconds=601)
    clock.set_source(lambda: later)

    # When Alice clicks Approve
    _, reply_id = harness.click(ALICE, "approve", gate.gateId)

    # Then she is told it expired; nothing reaches Step Functions; the message says expired
    assert f"expired at {gate.expiresAt}" in harness.replies(reply_id)[0]
    assert harness.sfn.calls == []
    assert harness.gate(gate.gateId).status == "EXPIRED"
    (update,) = harness.slack.calls_to("chat.update")
    assert not has_buttons(update) and "*Expired* at" in blocks_text(update)


def test_a_failing_table_gets_a_visible_retry_message(harness):
    # Given the deployments table cannot be read
    gate = harness.open_gate("approval")
    reply_url = harness.slack.response_url("retry")
    body, headers = signed_interaction(SIGNING_SECRET, ALICE, "approve", gate.gateId, gate.channel, gate.ts, reply_url)
    harness.session.client("dynamodb").delete_table(TableName=TABLE)

    # When Alice clicks Approve, Slack still gets 200 and she is told to retry
    response = harness.send(body, headers)
    assert response["statusCode"] == 200
    assert "may not have been applied" in harness.replies("retry")[0]
    assert harness.sfn.calls == []


# --- Slack failing --------------------------------------------------------------------------------
def test_decision_stands_when_the_message_cannot_be_updated(harness):
    # Given Slack refuses the next call (the chat.update)
    gate = harness.open_gate("approval")
    harness.slack.fail_next(1, status=200, error="message_not_found")

    # When Alice approves
    response, reply_id = harness.click(ALICE, "approve", gate.gateId)

    # Then the gate is approved once, and Alice is told in a reply instead
    assert response["statusCode"] == 200
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    (reply,) = harness.replies(reply_id)
    assert reply.startswith(f"*Approved* by <@{ALICE}>") and "could not be updated" in reply


def test_decision_stands_when_slack_is_down(harness):
    gate = harness.open_gate("approval")
    harness.slack.fail_next(10, status=200, error="service_unavailable")
    response, _ = harness.click(ALICE, "approve", gate.gateId)
    assert response["statusCode"] == 200
    assert [op for op, _ in harness.sfn.calls] == ["SendTaskSuccess"]
    assert harness.gate(gate.gateId).status == "APPROVED"


# --- secrets --------------------------------------------------------------------------------------
@pytest.fixture
def handler_logs(handler: Any) -> Any:
    """Everything the function's Powertools logger writes (at DEBUG), whatever stream it was bound to."""
    buffer = io.StringIO()
    streams = [(h, h.stream) for h in handler.logger.handlers if isinstance(h, logging.StreamHandler)]
    level = handler.logger.log_level
    for stream_handler, _ in streams:
        stream_handler.setStream(buffer)
    handler.logger.setLevel("DEBUG")
    yield buffer
    handler.logger.setLevel(level)
    for stream_handler, stream in streams:
        stream_handler.setStream(stream)


def test_secrets_never_appear_in_logs(harness, handler_logs, caplog, capsys):
    # Given every log at DEBUG: the function's, the shared package's and slack_sdk's
    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    caplog.set_level(logging.DEBUG, logger="bluegreen")
    gate = harness.open_gate("approval")
    other = harness.open_gate("approval")

    # When requests of every kind arrive: refused, malformed, not allowed, Slack failing, approved
    harness.send(*signed_interaction("wrong-secret", ALICE, "approve", gate.gateId))
    harness.send(*_signed("payload=%7Bnot%20json"))
    harness.click(MALLORY, "approve", gate.gateId)
    harness.slack.fail_next(1, status=200, error="invalid_auth")
    harness.click(ALICE, "approve", gate.gateId)
    harness.click(BOB, "approve", gate.gateId)
    harness.click(ALICE, "approve", other.gateId)

    # Then the logs tell what happened...
    logs = handler_logs.getvalue()
    assert "Refused a Slack request" in logs and "signature mismatch" in logs
    assert "Malformed Slack interaction" in logs and "Gate decided from Slack" in logs
    # ... but never the signing secret, the bot token or the task token
    captured = capsys.readouterr()
    everything = logs + caplog.text + captured.out + captured.err
    for secret in (SIGNING_SECRET, BOT_TOKEN, TASK_TOKEN):
        assert secret not in everything
