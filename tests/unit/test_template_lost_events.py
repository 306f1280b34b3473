"""The template keeps every failed asynchronous invocation and every undelivered event, and alarms on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

TEMPLATE: dict[str, Any] = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]
QUEUE_ARN = {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}
# Every function Lambda invokes asynchronously: EventBridge targets, the Slack callback's self-invocation,
# the scheduled reconciler.
ASYNC_FUNCTIONS = (
    "AlarmEventFunction",
    "EcrTriggerFunction",
    "ExecutionEndedFunction",
    "SlackCallbackFunction",
    "ReconcilerFunction",
)


def _arn(value: Any) -> Any:
    """``!GetAtt X.Arn`` is parsed as the string form; compare both forms."""
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), str):
        return {"Fn::GetAtt": value["Fn::GetAtt"].split(".", 1)}
    return value


@pytest.mark.parametrize("name", ASYNC_FUNCTIONS)
def test_every_asynchronously_invoked_function_keeps_its_failures_in_the_queue(name: str) -> None:
    # Given a function Lambda invokes asynchronously
    config = RESOURCES[name]["Properties"]["EventInvokeConfig"]

    # Then a failure after its two retries goes to the failed-events queue
    assert config["MaximumRetryAttempts"] == 2
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert _arn(on_failure["Destination"]) == QUEUE_ARN


def test_every_eventbridge_target_has_the_dead_letter_queue_and_only_those_rules_may_send_to_it() -> None:
    # Given every EventBridge rule event of the template's functions
    rules = {
        f"{name}{event_id}": event["Properties"]
        for name, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event_id, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "EventBridgeRule"
    }
    assert len(rules) == 4

    # Then each sends what it could not deliver to the queue
    for rule, properties in rules.items():
        assert _arn(properties["DeadLetterConfig"]["Arn"]) == QUEUE_ARN, rule
        assert properties["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400, rule

    # And the queue policy lets EventBridge send only for these rules (SAM names each <function><event id>)
    (statement,) = RESOURCES["FailedEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert _arn(statement["Resource"]) == QUEUE_ARN
    sources = [_arn(arn)["Fn::GetAtt"][0] for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]]
    assert sorted(sources) == sorted(rules)


def test_a_kept_failure_notifies_the_alarm_topic() -> None:
    # Given the alarm on the queue
    alarm = RESOURCES["FailedEventsAlarm"]["Properties"]

    # Then one visible message is enough, and it notifies AlarmTopicArn when there is one
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert RESOURCES["FailedEventsQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "FailedEventsQueueUrl" in TEMPLATE["Outputs"]


def test_the_reconciler_runs_every_five_minutes_on_eventbridge_scheduler() -> None:
    # Given the reconciler's events
    (event,) = RESOURCES["ReconcilerFunction"]["Properties"]["Events"].values()

    # Then it is a schedule (AWS::Scheduler::Schedule) every 5 minutes
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == "rate(5 minutes)"


def test_sam_grants_each_function_sqs_send_message_on_the_queue_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the template as SAM transforms it (code locations replaced by placeholders, no AWS call)
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    for resource in template["Resources"].values():
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    resources = transform(template, {}, NoManagedPolicies())["Resources"]

    for name in ASYNC_FUNCTIONS:
        # Then each function's role may send to the failed-events queue, and to nothing else in SQS
        sends = [
            statement
            for policy in resources[f"{name}Role"]["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            if "sqs:" in str(statement.get("Action"))
        ]
        assert sends == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": QUEUE_ARN}], name
        # And its EventInvokeConfig names the queue
        config = resources[f"{name}EventInvokeConfig"]["Properties"]
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == QUEUE_ARN
    # And the schedule is an EventBridge Scheduler schedule
    assert resources["ReconcilerFunctionEveryFiveMinutes"]["Type"] == "AWS::Scheduler::Schedule"
