"""CloudWatch DescribeAlarmHistory on the emulator's moto (moto has none: the action answered HTTP 500)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen_emulator import alarm_history, patches


@pytest.fixture
def cloudwatch():
    moments = iter(datetime(2026, 3, 1, 12, minute, tzinfo=UTC) for minute in range(60))
    with mock_aws(), patches.installed():
        alarm_history.HISTORY.clear()
        patcher = patches.Patcher()
        patches.describe_alarm_history(patcher, lambda: next(moments))
        try:
            yield boto3.client("cloudwatch", region_name="us-east-1")
        finally:
            patcher.restore()
            alarm_history.HISTORY.clear()


def _alarm(cloudwatch, name: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_state_changes_and_configuration_updates_are_listed_newest_first(cloudwatch):
    # Given an alarm created, set to ALARM and back to OK, and another alarm
    _alarm(cloudwatch, "web-5xx")
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="by hand")
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="by hand")
    _alarm(cloudwatch, "api-5xx")

    # When the first alarm's history is read
    items = cloudwatch.describe_alarm_history(AlarmName="web-5xx")["AlarmHistoryItems"]

    # Then its three items are there, newest first, with CloudWatch's summaries
    assert [(i["HistoryItemType"], i["HistorySummary"]) for i in items] == [
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("ConfigurationUpdate", 'Alarm "web-5xx" created'),
    ]
    assert all(i["AlarmName"] == "web-5xx" and i["AlarmType"] == "MetricAlarm" for i in items)


def test_filters_order_and_pages(cloudwatch):
    # Given two alarms with a state change each
    for name in ("a", "b"):
        _alarm(cloudwatch, name)
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by hand")

    # When read by type, oldest first, a page of one at a time
    first = cloudwatch.describe_alarm_history(HistoryItemType="StateUpdate", ScanBy="TimestampAscending", MaxRecords=1)
    second = cloudwatch.describe_alarm_history(
        HistoryItemType="StateUpdate", ScanBy="TimestampAscending", MaxRecords=1, NextToken=first["NextToken"]
    )

    # Then the pages hold a's then b's state change, and the second is the last
    assert [i["AlarmName"] for i in first["AlarmHistoryItems"]] == ["a"]
    assert [i["AlarmName"] for i in second["AlarmHistoryItems"]] == ["b"]
    assert "NextToken" not in second
    # And a date window keeps only what happened in it
    start = second["AlarmHistoryItems"][0]["Timestamp"]
    window = cloudwatch.describe_alarm_history(StartDate=start, EndDate=start + timedelta(seconds=1))
    assert [i["AlarmName"] for i in window["AlarmHistoryItems"]] == ["b"]


def test_an_unknown_history_item_type_is_refused(cloudwatch):
    with pytest.raises(ClientError) as refused:
        cloudwatch.describe_alarm_history(HistoryItemType="Everything")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
