"""Amazon CloudWatch: distributions and percentile statistics, DescribeAlarmHistory."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from .core import Patcher


class MetricDistributionDatum(MetricAggregatedDatum):
    """One PutMetricData datum given as ``Values``/``Counts``: its statistic set, and its samples for percentiles."""

    def __init__(self, namespace: str, member: dict[str, Any]) -> None:
        values = [float(v) for v in member["Values"]]
        counts = [float(c) for c in member.get("Counts") or [1.0] * len(values)]
        if len(counts) != len(values):
            raise CloudWatchValidationError("The parameters MetricData.member.Values and Counts must be of equal size.")
        self.samples = [(v, c) for v, c in zip(values, counts, strict=True) if c > 0]
        present = [v for v, _ in self.samples] or [0.0]
        super().__init__(
            namespace,
            member["MetricName"],
            min_stat=min(present),
            max_stat=max(present),
            sample_count=sum(c for _, c in self.samples),
            sum_stat=sum(v * c for v, c in self.samples),
            dimensions=member.get("Dimensions") or [],
            timestamp=member.get("Timestamp"),
            unit=member.get("Unit"),
        )


def _percentile_samples(data: list[Any]) -> list[tuple[float, float]] | None:
    """The samples of a period's datums, or None when CloudWatch could compute no percentile from them: a
    statistic set is usable only when its SampleCount is 1 or its Minimum equals its Maximum (GetMetricStatistics)."""
    samples: list[tuple[float, float]] = []
    for datum in data:
        if isinstance(datum, MetricDistributionDatum):
            samples.extend(datum.samples)
        elif isinstance(datum, MetricAggregatedDatum):
            if float(datum.sample_count) != 1 and datum.min != datum.max:
                return None
            samples.append((float(datum.min), float(datum.sample_count)))
        elif isinstance(datum, MetricDatum):
            samples.append((float(datum.value), 1.0))
    return samples


def describe_alarm_history(patcher: Patcher, now: Callable[[], datetime]) -> None:
    """DescribeAlarmHistory on moto's CloudWatch, and configuration updates recorded by PutMetricAlarm."""
    from ..alarm_history import HISTORY, HISTORY_TYPES, MAX_RECORDS, HistoryItem, _aware, parse_date

    original_put_metric_alarm = CloudWatchBackend.put_metric_alarm

    def describe(self: Any) -> ActionResult:
        name = self._get_param("AlarmName")
        types = self._get_param("AlarmTypes", []) or []
        item_type = self._get_param("HistoryItemType")
        if item_type and item_type not in HISTORY_TYPES:
            raise CloudWatchValidationError(
                f"1 validation error detected: Value '{item_type}' at 'historyItemType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(HISTORY_TYPES)}]"
            )
        try:
            start, end = parse_date(self._get_param("StartDate")), parse_date(self._get_param("EndDate"))
        except ValueError as error:
            raise CloudWatchValidationError(f"Invalid StartDate or EndDate: {error}") from error
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

    def put_metric_alarm_recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
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
    patcher.replace(CloudWatchResponse, "describe_alarm_history", describe, missing=True)
    # moto gap: PutMetricAlarm records no history; CloudWatch records a ConfigurationUpdate item.
    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm_recorded)
