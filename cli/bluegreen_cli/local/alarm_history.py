"""CloudWatch ``DescribeAlarmHistory`` for the emulator (moto, at :data:`.patches.MOTO_VERSION`, lacks it).

moto has no handler for the action, so ``aws cloudwatch describe-alarm-history`` against ``bluegreen local serve``
answered HTTP 500. CloudWatch keeps each alarm's history (state changes and configuration updates) for 30 days
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_AlarmHistoryItem.html): here every state change
the emulator makes (an evaluation in :mod:`.metrics`, or ``SetAlarmState``) and every ``PutMetricAlarm`` is recorded,
in simulated time, and the action answers with them, newest first unless ``ScanBy`` is ``TimestampAscending``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from .patches import Patcher, check_moto_version

HISTORY_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate")
MAX_RECORDS = 100  # DescribeAlarmHistory: MaxRecords 1-100 (default 100)


@dataclass(frozen=True)
class HistoryItem:
    account: str
    region: str
    alarm_name: str
    alarm_type: str
    timestamp: datetime
    history_item_type: str
    summary: str
    data: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_type,
            "Timestamp": self.timestamp,
            "HistoryItemType": self.history_item_type,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        }


class AlarmHistory:
    """Every recorded item, in the order it happened."""

    def __init__(self) -> None:
        self._items: list[HistoryItem] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def add(self, item: HistoryItem) -> None:
        with self._lock:
            self._items.append(item)

    def items(self, account: str, region: str) -> list[HistoryItem]:
        with self._lock:
            return [item for item in self._items if item.account == account and item.region == region]


HISTORY = AlarmHistory()


def record_state_change(account: str, region: str, alarm: Any, previous: str | None, now: datetime) -> None:
    """A ``StateUpdate`` item, as CloudWatch records it: ``Alarm updated from OK to ALARM``."""
    old = {"stateValue": previous or "INSUFFICIENT_DATA"}
    new = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason or ""}
    HISTORY.add(
        HistoryItem(
            account,
            region,
            alarm.name,
            "CompositeAlarm" if getattr(alarm, "rule", None) else "MetricAlarm",
            _aware(now),
            "StateUpdate",
            f"Alarm updated from {old['stateValue']} to {alarm.state_value}",
            json.dumps({"version": "1.0", "oldState": old, "newState": new}),
        )
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    try:
        return _aware(datetime.fromtimestamp(float(value), UTC))
    except (TypeError, ValueError):
        pass
    try:
        return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as error:
        raise CloudWatchValidationError(f"Invalid date {value!r}") from error


def install(patcher: Patcher, now: Callable[[], datetime]) -> None:
    """DescribeAlarmHistory on moto's CloudWatch, and configuration updates recorded by PutMetricAlarm."""
    check_moto_version()  # the attribute names below are moto MOTO_VERSION's
    original_put_metric_alarm = CloudWatchBackend.put_metric_alarm

    def describe_alarm_history(self: Any) -> ActionResult:
        name = self._get_param("AlarmName")
        types = self._get_param("AlarmTypes", []) or []
        item_type = self._get_param("HistoryItemType")
        if item_type and item_type not in HISTORY_TYPES:
            raise CloudWatchValidationError(
                f"1 validation error detected: Value '{item_type}' at 'historyItemType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(HISTORY_TYPES)}]"
            )
        start, end = _parse(self._get_param("StartDate")), _parse(self._get_param("EndDate"))
        limit = int(self._get_param("MaxRecords") or MAX_RECORDS)
        if not 1 <= limit <= MAX_RECORDS:
            raise CloudWatchValidationError(f"MaxRecords must be between 1 and {MAX_RECORDS}")
        offset = int(self._get_param("NextToken") or 0)
        items = [
            item
            for item in HISTORY.items(self.current_account, self.region)
            if (not name or item.alarm_name == name)
            and (not types or item.alarm_type in types)
            and (not item_type or item.history_item_type == item_type)
            and (start is None or item.timestamp >= start)
            and (end is None or item.timestamp <= end)
        ]
        if self._get_param("ScanBy") != "TimestampAscending":
            items.reverse()
        page = items[offset : offset + limit]
        result: dict[str, Any] = {"AlarmHistoryItems": [item.as_dict() for item in page]}
        if offset + limit < len(items):
            result["NextToken"] = str(offset + limit)
        return ActionResult(result)

    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", args[0] if args else None)
        existed = name in self.alarms
        alarm = original_put_metric_alarm(self, *args, **kwargs)
        HISTORY.add(
            HistoryItem(
                self.account_id,
                self.region_name,
                alarm.name,
                "MetricAlarm",
                _aware(now()),
                "ConfigurationUpdate",
                f'Alarm "{alarm.name}" {"updated" if existed else "created"}',
                json.dumps({"version": "1.0", "type": "Update" if existed else "Create"}),
            )
        )
        return alarm

    # moto gap: moto has no DescribeAlarmHistory (the action answered HTTP 500); CloudWatch returns each alarm's
    # state changes and configuration updates.
    patcher.replace(CloudWatchResponse, "describe_alarm_history", describe_alarm_history, missing=True)
    # moto gap: PutMetricAlarm records no history; CloudWatch records a ConfigurationUpdate item.
    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)
