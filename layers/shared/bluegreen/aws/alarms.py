"""CloudWatch alarms watched during the bake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from bluegreen.aws.clients import transient_errors

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

_NAMES_PER_CALL = 100  # DescribeAlarms takes at most 100 names per call


def describe_alarms(
    cloudwatch: CloudWatchClient, alarm_names: list[str], state: str | None = None
) -> list[dict[str, Any]]:
    """Metric and composite alarms among ``alarm_names`` (only those in ``state`` when given)."""
    found: list[dict[str, Any]] = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for start in range(0, len(alarm_names), _NAMES_PER_CALL):
        arguments: dict[str, Any] = {
            "AlarmNames": alarm_names[start : start + _NAMES_PER_CALL],
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        if state:
            arguments["StateValue"] = state
        with transient_errors():
            for page in paginator.paginate(**arguments):
                found.extend(cast(list[dict[str, Any]], page.get("MetricAlarms", [])))
                found.extend(cast(list[dict[str, Any]], page.get("CompositeAlarms", [])))
    # Filter here too: the StateValue filter is an optimisation, the state is what matters.
    return [alarm for alarm in found if state is None or alarm.get("StateValue") == state]


def alarms_in_alarm(cloudwatch: CloudWatchClient, alarm_names: list[str]) -> list[dict[str, Any]]:
    """The configured alarms currently in state ALARM."""
    return describe_alarms(cloudwatch, alarm_names, state="ALARM") if alarm_names else []


def missing_alarms(cloudwatch: CloudWatchClient, alarm_names: list[str]) -> list[str]:
    """Configured alarm names that do not exist (a typo would silently disable the bake)."""
    if not alarm_names:
        return []
    found = {alarm["AlarmName"] for alarm in describe_alarms(cloudwatch, alarm_names)}
    return [name for name in alarm_names if name not in found]
