"""ECR pushes start deployments (functions/ecr_trigger, bluegreen.trigger) on moto, with the real event shape."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen import trigger
from bluegreen.aws import clients as aws
from bluegreen.aws import store as store_module
from bluegreen.aws.config import parameter_name
from bluegreen.domain.models import ExecutionInput
from tests.conftest import load_handler
from tests.unit.helpers import TABLE_NAME

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "ecr-push.json").read_text())
DIGEST = EVENT["detail"]["image-digest"]
OTHER_DIGEST = "sha256:" + "ab" * 32
PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def config(repository: str, tag_pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    document = {
        "cluster": "prod",
        "service": repository,
        "containerName": "app",
        "repository": repository,
        "productionRuleArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/prod",
        "testRuleArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/test",
        "targetGroupArns": [
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/1",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/b/2",
        ],
        **extra,
    }
    if tag_pattern is not None:
        document["tagPattern"] = tag_pattern
    return document


class Account:
    """A moto account with the deployment state machine (a Pass stand-in) and service configurations."""

    def __init__(self, session: Any) -> None:
        self.ssm = session.client("ssm")
        self.sfn = session.client("stepfunctions")
        self.state_machine_arn = self.sfn.create_state_machine(
            name="bluegreen-deployment",
            definition=PASS_DEFINITION,
            roleArn="arn:aws:iam::123456789012:role/bluegreen-deployment",
        )["stateMachineArn"]

    def put_config(self, service: str, document: dict[str, Any] | str) -> None:
        value = document if isinstance(document, str) else json.dumps(document)
        self.ssm.put_parameter(Name=parameter_name(service), Value=value, Type="String", Overwrite=True)

    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    with mock_aws():
        monkeypatch.delenv("CONFIG_PREFIX", raising=False)
        aws.get_clients.cache_clear()
        aws.get_ssm_provider.cache_clear()
        store_module.get_store.cache_clear()
        session = boto3.session.Session(region_name="us-east-1")
        account = Account(session)
        # The deployments table: a push while the service deploys is queued there.
        session.client("dynamodb").create_table(
            TableName=TABLE_NAME,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
        monkeypatch.delenv("SLACK_SECRET_NAME", raising=False)
        monkeypatch.setenv("STATE_MACHINE_ARN", account.state_machine_arn)
        account.put_config("web", config("web", r"v\d+\.\d+\.\d+"))
        account.put_config("web-admin", config("web"))  # same repository, no tagPattern: never automatic
        account.put_config("api", config("api", ".*"))
        yield account
        store_module.get_store.cache_clear()
        aws.get_clients.cache_clear()
        aws.get_ssm_provider.cache_clear()


@pytest.fixture
def handler() -> Any:
    return load_handler("ecr_trigger")


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    """Records of the trigger's logger, DEBUG included."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect(level=logging.DEBUG)
    level = trigger.logger.level
    trigger.logger.setLevel(logging.DEBUG)
    trigger.logger.addHandler(collector)
    yield records
    trigger.logger.removeHandler(collector)
    trigger.logger.setLevel(level)


def push(tag: str | None = "v1.4.2", repository: str = "web", digest: str | None = DIGEST, **detail: Any) -> dict:
    event = copy.deepcopy(EVENT)
    event["detail"].update({"repository-name": repository, "image-tag": tag, "image-digest": digest, **detail})
    event["detail"] = {k: v for k, v in event["detail"].items() if v is not None}
    return event


def test_sample_event_is_a_real_ecr_image_action():
    parsed = trigger.EcrImageActionEvent.model_validate(EVENT)
    assert (parsed.source, parsed.detail_type) == ("aws.ecr", "ECR Image Action")
    assert (parsed.detail.actionType, parsed.detail.result) == ("PUSH", "SUCCESS")
    assert parsed.detail.imageDigest == DIGEST


def test_matching_push_starts_one_deployment_with_the_push_as_input(account, handler, lambda_context):
    summary = handler.lambda_handler(push(), lambda_context)

    (execution,) = account.executions()
    assert json.loads(execution["input"]) == {
        "service": "web",
        "imageTag": "v1.4.2",
        "imageDigest": DIGEST,
        "requestedBy": "ecr-push",
    }
    ExecutionInput.model_validate_json(execution["input"])  # what Validate will parse
    assert execution["name"] == trigger.execution_name("web", DIGEST)
    assert [s["service"] for s in summary["started"]] == ["web"]
    assert summary["started"][0]["executionArn"] == execution["executionArn"]
    assert summary["duplicates"] == []
    # web-admin (same repository, no tagPattern) is not deployed
    assert {"service": "web-admin", "reason": "no tagPattern (automatic deployments off)"} in summary["ignored"]


def test_execution_name_is_stable_valid_and_distinct():
    name = trigger.execution_name("web", DIGEST)
    assert name == "web-push-" + DIGEST.removeprefix("sha256:")[:32]
    assert name == trigger.execution_name("web", DIGEST)
    assert trigger.execution_name("web", OTHER_DIGEST) != name
    long_names = [trigger.execution_name(s, DIGEST) for s in ("a" * 100, "a" * 99 + "b", "web.v2", "web-v2")]
    for candidate in long_names:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", candidate), candidate
    assert len(set(long_names)) == len(long_names)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (push(repository="billing"), "other repository"),
        (push(tag="latest"), "tag does not match"),
        (push(tag="v1.4"), "tag does not match"),
        (push(tag="feature-v1.4.2"), "tag does not match"),  # fullmatch, not search
    ],
    ids=["other-repository", "latest", "partial-version", "pattern-inside-tag"],
)
def test_pushes_that_match_no_service_start_nothing(account, handler, lambda_context, logs, event, reason):
    summary = handler.lambda_handler(event, lambda_context)

    assert account.executions() == []
    assert summary["started"] == summary["duplicates"] == []
    assert [r for r in logs if r.levelno > logging.DEBUG and r.getMessage() != "ECR event ignored"] == []
    assert any(r.levelno == logging.DEBUG and r.getMessage() == "Push matches no service" for r in logs)
    if reason != "other repository":
        assert any(reason in entry["reason"] for entry in summary["ignored"] if entry.get("service") == "web")


def test_service_without_tag_pattern_is_never_deployed(account, handler, lambda_context):
    account.put_config("web", config("web"))  # tagPattern removed

    summary = handler.lambda_handler(push(), lambda_context)

    assert account.executions() == []
    assert {entry["service"] for entry in summary["ignored"]} == {"web", "web-admin"}


def test_duplicate_event_and_repush_of_the_digest_start_one_deployment(account, handler, lambda_context, logs):
    first = handler.lambda_handler(push(), lambda_context)
    again = handler.lambda_handler(push(), lambda_context)  # EventBridge delivered the event twice
    retag = handler.lambda_handler(push(tag="v1.4.3"), lambda_context)  # same image pushed under another tag

    assert len(account.executions()) == 1
    assert [s["service"] for s in first["started"]] == ["web"]
    for summary in (again, retag):
        assert summary["started"] == []
        assert [d["executionName"] for d in summary["duplicates"]] == [trigger.execution_name("web", DIGEST)]
    duplicates = [r for r in logs if r.getMessage().startswith("Duplicate push")]
    assert len(duplicates) == 2 and {r.levelno for r in duplicates} == {logging.INFO}


def test_start_execution_race_is_treated_as_duplicate(account):
    """The same image pushed under two tags at once: the other invocation started between look-up and start."""
    first = ExecutionInput(service="web", imageTag="v1.4.2", imageDigest=DIGEST, requestedBy="ecr-push")
    assert trigger.start_deployment(account.sfn, account.state_machine_arn, first)[0] is True
    request = first.model_copy(update={"imageTag": "v1.4.3"})

    class LookUpMissesIt:
        def describe_execution(self, executionArn: str) -> dict:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": "no"}}, "DescribeExecution")

        def start_execution(self, **kwargs: Any) -> dict:
            return account.sfn.start_execution(**kwargs)  # another input: ExecutionAlreadyExists

    started, name, arn = trigger.start_deployment(LookUpMissesIt(), account.state_machine_arn, request)

    assert (started, name) == (False, trigger.execution_name("web", DIGEST))
    (execution,) = account.executions()
    assert arn == execution["executionArn"]


def test_another_digest_is_a_new_deployment(account, handler, lambda_context):
    handler.lambda_handler(push(), lambda_context)
    summary = handler.lambda_handler(push(tag="v1.4.3", digest=OTHER_DIGEST), lambda_context)

    assert [s["service"] for s in summary["started"]] == ["web"]
    assert len(account.executions()) == 2


def test_every_matching_service_gets_its_own_deployment(account, handler, lambda_context):
    account.put_config("web-eu", config("web", r"v.*"))

    summary = handler.lambda_handler(push(), lambda_context)

    assert sorted(s["service"] for s in summary["started"]) == ["web", "web-eu"]
    assert sorted(json.loads(e["input"])["service"] for e in account.executions()) == ["web", "web-eu"]


@pytest.mark.parametrize(
    "event",
    [
        push(**{"action-type": "DELETE"}),
        push(result="FAILURE"),
        push(tag=None),  # a push by digest only: nothing to name the release
        {**push(), "source": "aws.s3"},
    ],
    ids=["delete", "failed-push", "untagged", "other-source"],
)
def test_other_actions_are_ignored(account, handler, lambda_context, event):
    summary = handler.lambda_handler(event, lambda_context)

    assert account.executions() == []
    assert summary["started"] == summary["duplicates"] == []
    assert len(summary["ignored"]) == 1 and "service" not in summary["ignored"][0]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail-type": "ECR Image Action", "source": "aws.ecr", "detail": {}},
        {k: v for k, v in push().items() if k != "detail"},
        push(**{"repository-name": None}),
        "not json",
    ],
    ids=["empty", "no-envelope", "no-detail", "no-repository", "string"],
)
def test_malformed_events_are_ignored(account, handler, lambda_context, event):
    summary = handler.lambda_handler(event, lambda_context)

    assert account.executions() == []
    assert summary["ignored"] == [{"reason": "malformed event"}]


def test_invalid_configurations_and_patterns_do_not_block_the_others(account, handler, lambda_context, logs):
    account.put_config("broken-json", "{not json")
    account.put_config("broken-config", {"repository": "web", "tagPattern": ".*"})
    account.put_config("bad-pattern", config("web", "v(("))

    summary = handler.lambda_handler(push(), lambda_context)

    assert [s["service"] for s in summary["started"]] == ["web"]
    warnings = {r.getMessage() for r in logs if r.levelno == logging.WARNING}
    assert {"Service configuration is not JSON; skipped", "Service configuration is invalid; skipped"} <= warnings
    assert "Push does not deploy this service" in warnings  # the invalid regular expression


def test_moving_tags_are_not_deployed_even_when_the_pattern_matches(account, handler, lambda_context):
    summary = handler.lambda_handler(push(repository="api", tag="latest"), lambda_context)

    assert account.executions() == []
    assert summary["ignored"][0]["service"] == "api"
    assert "moving tag" in summary["ignored"][0]["reason"]
