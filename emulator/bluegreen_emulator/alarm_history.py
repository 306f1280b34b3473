"""CloudWatch ``DescribeAlarmHistory`` for the emulator (moto, at :data:`.patches.MOTO_VERSION`, lacks it).

moto has no handler for the action, so ``aws cloudwatch describe-alarm-history`` against ``bluegreen local serve``
answered HTTP 500. CloudWatch keeps each alarm's history (state changes and configuration updates) for 30 days
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_AlarmHistoryItem.html): here every state change
the emulator makes (an evaluation in :mod:`.metrics`, or ``SetAlarmState``) and every ``PutMetricAlarm`` is recorded,
in simulated time; :func:`.patches.describe_alarm_history` answers with them, newest first unless ``ScanBy`` is
``TimestampAscending``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def parse_date(value: Any) -> datetime | None:
    """A StartDate/EndDate parameter (a datetime, epoch seconds or ISO 8601); ValueError if none of them."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    try:
        return _aware(datetime.fromtimestamp(float(value), UTC))
    except (TypeError, ValueError):
        pass
    return _aware(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
