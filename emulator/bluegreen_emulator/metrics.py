"""ALB metrics from the simulated traffic, and CloudWatch alarms evaluated over them (item 3).

moto stores alarms and metric data but never evaluates an alarm. Here, in simulated time:

* **Traffic.** Each watched service's production rule receives :data:`REQUESTS_PER_SECOND`, split by the
  forward weights. A target group whose task set runs an ``alarm`` image (and gets at least
  ``alarm_min_weight`` percent of production) answers :data:`FAILING_5XX_SHARE` of it with a 5xx.
* **Metrics.** Every simulated minute (counted from the emulator's start, so runs are deterministic) the
  minute's ``AWS/ApplicationELB`` metrics are published per target group with the dimensions ``LoadBalancer``
  (``app/<name>/<id>``) and ``TargetGroup`` (``targetgroup/<name>/<id>``): ``RequestCount`` (Sum),
  ``HTTPCode_Target_5XX_Count`` (Sum) and ``TargetResponseTime`` (seconds). As ELB does, a count is reported
  only when it is not zero. ``TargetResponseTime`` is a **distribution**: each minute's requests of a
  target group take the latencies of its task set's :data:`LATENCY_PROFILES` (a fixed share of requests per
  latency, so runs are deterministic), published with ``Values``/``Counts`` as PutMetricData allows; the
  percentile statistics (``p95``...) of GetMetricData and of the alarms are computed from it (:func:`percentile`).
* **Alarms.** At each minute boundary every metric alarm is evaluated over its last ``EvaluationPeriods``
  complete periods (``Period``, the statistic, ``DatapointsToAlarm``, ``Threshold``,
  ``ComparisonOperator``, ``TreatMissingData``; metric math: see :func:`expression_value`). A state change
  is set in moto and published to EventBridge as ``CloudWatch Alarm State Change``, like a change made with
  ``SetAlarmState`` (see :func:`publish_state_change`, which the CloudWatch patches call for the API).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends
from moto.events.models import events_backends

from bluegreen.domain.analysis import percentile_of  # CloudWatch's percentile statistic names (p0..p100)

MINUTE = 60
REQUESTS_PER_SECOND = 10.0  # production traffic of each watched service
FAILING_5XX_SHARE = 0.5  # share of requests a failing ("alarm") image answers with a 5xx
# A "rising5xx" image answers RISING_START of its production requests with a 5xx when production first
# reaches it, RISING_PER_MINUTE more every minute after, up to FAILING_5XX_SHARE.
RISING_START, RISING_PER_MINUTE = 0.02, 0.02
# The latency profile of each image behaviour: (seconds, share of requests). A failing image (5xx) answers
# fast. ``slow-tail``: most requests faster than healthy, 7% very slow (mean better than healthy's, p95 far worse);
# ``slow-mean``: every request somewhat slower, a short tail (mean 1.7x healthy's, p95 within 1.5x healthy's p95).
LATENCY_PROFILES: dict[str, tuple[tuple[float, float], ...]] = {
    "healthy": ((0.02, 0.20), (0.04, 0.30), (0.05, 0.20), (0.06, 0.15), (0.08, 0.12), (0.12, 0.03)),
    "alarm": ((0.02, 1.0),),
    "slow": ((1.5, 1.0),),  # answers after 1.5 s (local/http_front.py)
    "slowtail": ((0.02, 0.93), (0.4, 0.07)),
    "slowmean": ((0.07, 0.50), (0.09, 0.47), (0.10, 0.03)),
}
NAMESPACE = "AWS/ApplicationELB"
MAX_VALUES_PER_DATUM = 150  # PutMetricData: Values/Counts of one datum
# A Network Load Balancer's target group reports in AWS/NetworkELB: flows and target resets (an NLB
# has no HTTP codes), so a failing image behind an NLB shows as TCP_Target_Reset_Count.
NLB_NAMESPACE = "AWS/NetworkELB"

Key = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric name, sorted dimensions


def metric_key(namespace: str, name: str, dimensions: Iterable[tuple[str, str]]) -> Key:
    return namespace, name, tuple(sorted(dimensions))


def percentile(distribution: Iterable[tuple[float, float]], p: float) -> float | None:
    """The ``p``-th percentile of samples given as (value, count) pairs; None without samples, or when a value is
    negative (CloudWatch computes no percentile then).

    CloudWatch defines pNN as the value that NN% of the period's samples are at or below, and does not document
    its interpolation; the emulator takes the exact **nearest rank** over the period's samples: the smallest value
    whose cumulative count reaches p% of all samples (counts may be fractional, as PutMetricData's are)."""
    pairs = sorted((float(v), float(c)) for v, c in distribution if float(c) > 0)
    if not pairs or pairs[0][0] < 0:
        return None
    total = sum(c for _, c in pairs)
    rank = total * p / 100.0
    seen = 0.0
    for value, count in pairs:
        seen += count
        if seen >= rank - 1e-9 * total:
            return value
    return pairs[-1][0]


@dataclass
class Aggregate:
    """One metric over one minute: CloudWatch's statistic set, and its samples (value -> count) for percentiles."""

    total: float = 0.0
    count: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    samples: dict[float, float] = field(default_factory=dict)  # The distribution

    def add(self, value: float, samples: float = 1.0) -> None:
        self.total += value * samples
        self.count += samples
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        self.samples[value] = self.samples.get(value, 0.0) + samples

    def merge(self, other: Aggregate) -> None:
        self.total += other.total
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for value, samples in other.samples.items():
            self.samples[value] = self.samples.get(value, 0.0) + samples

    def statistic(self, name: str) -> float | None:
        wanted = percentile_of(name)
        if wanted is not None:
            return percentile(self.samples.items(), wanted)
        return {
            "Sum": self.total,
            "SampleCount": self.count,
            "Average": self.total / self.count if self.count else math.nan,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }[name]


@dataclass
class MetricStore:
    """Per-minute aggregates, by metric key and minute index since the emulator started."""

    minutes: dict[Key, dict[int, Aggregate]] = field(default_factory=dict)

    def add(self, key: Key, minute: int, aggregate: Aggregate) -> None:
        self.minutes.setdefault(key, {}).setdefault(minute, Aggregate()).merge(aggregate)

    def datapoint(self, key: Key, start: int, period: int, statistic: str) -> float | None:
        """The statistic over [start, start + period) seconds, or None when no data was reported."""
        combined = Aggregate()
        for minute in range(start // MINUTE, (start + period) // MINUTE):
            found = self.minutes.get(key, {}).get(minute)
            if found is not None:
                combined.merge(found)
        return combined.statistic(statistic) if combined.count else None


# --- alarm evaluation (pure) -------------------------------------------------------------------

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class MetricQuery:
    id: str
    key: Key | None = None  # a metric (MetricStat), or
    expression: str | None = None  # an expression over the other queries' ids
    statistic: str = "Sum"
    period: int = MINUTE
    return_data: bool = False


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    queries: tuple[MetricQuery, ...]  # a single-metric alarm is one query returning data
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "missing"


# A small, safe evaluator of the metric math the workflow's analysis alarm uses (and SUM(METRICS())):
# numbers, ids, + - * /, comparisons (== != < <= > >=), AND/&&, OR/||, NOT/!, IF(c, a, b), FILL(x, v),
# SUM/MAX/MIN over [a, b, ...] or METRICS(). One value per period: a missing datapoint is None and makes
# the result missing (as metric math drops a timestamp without every input), except through FILL; x/0 drops it too.
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[-+*/()<>,!\[\]]))")
_MATH_FUNCTIONS = ("IF", "FILL", "SUM", "MAX", "MIN", "METRICS")


class MathError(ValueError):
    """An expression the emulator does not model (as strict as AWS: refused, never guessed)."""


def _tokens(expression: str) -> list[str]:
    tokens, position = [], 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise MathError(f"Metric math expression {expression!r}: cannot read {text[position:]!r}")
        tokens.append(match.group(1) or match.group(2) or match.group(3))
        position = match.end()
    return tokens


Value = float | None


class _Math:
    """Recursive descent over one expression; ``lookup(id)`` gives another query's value for the period."""

    def __init__(self, expression: str, lookup: Callable[[str], Value], metric_ids: list[str]) -> None:
        self.expression, self.tokens, self.at = expression, _tokens(expression), 0
        self.lookup, self.metric_ids = lookup, metric_ids

    def run(self) -> Value:
        value = self._or()
        if self.at != len(self.tokens):
            raise MathError(f"Metric math expression {self.expression!r}: unexpected {self.tokens[self.at]!r}")
        return _single(value)

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, wanted: str | None = None) -> str:
        token = self._peek()
        if token is None or (wanted is not None and token.upper() != wanted):
            raise MathError(f"Metric math expression {self.expression!r}: expected {wanted or 'more'}, got {token!r}")
        self.at += 1
        return token

    def _binary(self, operators: dict[str, Callable[[float, float], Value]], operand: Callable[[], Any]) -> Any:
        left = operand()
        while (self._peek() or "").upper() in operators:
            function = operators[self._take().upper()]
            right = operand()
            left = None if _single(left) is None or _single(right) is None else function(left, right)
        return left

    def _or(self) -> Any:
        either = _bool(lambda a, b: bool(a) or bool(b))
        return self._binary({"OR": either, "||": either}, self._and)

    def _and(self) -> Any:
        both = _bool(lambda a, b: bool(a) and bool(b))
        return self._binary({"AND": both, "&&": both}, self._compare)

    def _compare(self) -> Any:
        return self._binary(
            {
                "==": _bool(lambda a, b: a == b),
                "!=": _bool(lambda a, b: a != b),
                "<": _bool(lambda a, b: a < b),
                "<=": _bool(lambda a, b: a <= b),
                ">": _bool(lambda a, b: a > b),
                ">=": _bool(lambda a, b: a >= b),
            },
            self._sum,
        )

    def _sum(self) -> Any:
        return self._binary({"+": lambda a, b: a + b, "-": lambda a, b: a - b}, self._product)

    def _product(self) -> Any:
        return self._binary({"*": lambda a, b: a * b, "/": lambda a, b: None if b == 0 else a / b}, self._unary)

    def _unary(self) -> Any:
        token = (self._peek() or "").upper()
        if token in ("-", "!", "NOT"):
            self._take()
            value = _single(self._unary())
            if value is None:
                return None
            return -value if token == "-" else float(not value)
        return self._primary()

    def _primary(self) -> Any:
        token = self._take()
        if token == "(":
            value = self._or()
            self._take(")")
            return value
        if token == "[":
            items = [self._or()]
            while self._peek() == ",":
                self._take(",")
                items.append(self._or())
            self._take("]")
            return [_single(item) for item in items]
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if self._peek() == "(":
            return self._call(token.upper())
        if not re.fullmatch(r"[a-z]\w*", token):
            raise MathError(f"Metric math expression {self.expression!r}: {token!r} is not a query id")
        return self.lookup(token)

    def _call(self, function: str) -> Any:
        if function not in _MATH_FUNCTIONS:
            modelled = ", ".join(_MATH_FUNCTIONS)
            raise MathError(f"Metric math function {function} is not modelled by the emulator ({modelled})")
        self._take("(")
        if function == "METRICS":
            self._take(")")
            return [self.lookup(i) for i in self.metric_ids]
        args = [self._or()]
        while self._peek() == ",":
            self._take(",")
            args.append(self._or())
        self._take(")")
        if function == "IF":
            if len(args) not in (2, 3):
                raise MathError("IF takes a condition and one or two values")
            condition = _single(args[0])
            if condition is None:
                return None
            return _single(args[1]) if condition else (_single(args[2]) if len(args) == 3 else None)
        if function == "FILL":
            if len(args) != 2:
                raise MathError("FILL takes a query and a value")
            value = args[0]
            if isinstance(value, list):
                return [args[1] if v is None else v for v in value]
            return _single(args[1]) if value is None else value
        # SUM / MAX / MIN of an array (a single series would be a scalar over the whole range: not modelled)
        if len(args) != 1 or not isinstance(args[0], list):
            raise MathError(f"{function} is modelled over an array ([a, b] or METRICS()) only")
        present = [v for v in args[0] if v is not None]
        if not present:
            return None
        return {"SUM": sum, "MAX": max, "MIN": min}[function](present)


def _single(value: Any) -> Value:
    if isinstance(value, list):
        raise MathError("an alarm's expression must return a single time series")
    return value


def _bool(test: Callable[[float, float], bool]) -> Callable[[float, float], Value]:
    return lambda a, b: 1.0 if test(a, b) else 0.0


def expression_value(expression: str, values: dict[str, Value], expressions: dict[str, str] | None = None) -> Value:
    """The value of ``expression`` for one period: ``values`` by metric id, ``expressions`` by expression id."""
    expressions = expressions or {}
    metric_ids = list(values)
    cache: dict[str, Value] = {}

    def lookup(name: str, trail: tuple[str, ...] = ()) -> Value:
        if name in values:
            return values[name]
        if name not in expressions:
            raise MathError(f"Metric math expression refers to unknown id {name!r}")
        if name in trail:
            raise MathError(f"Metric math expressions refer to each other in a cycle ({' -> '.join(trail)})")
        if name not in cache:
            cache[name] = _Math(expressions[name], lambda n: lookup(n, (*trail, name)), metric_ids).run()
        return cache[name]

    return _Math(expression, lookup, metric_ids).run()


MAX_ALARM_METRICS, MAX_ALARM_EXPRESSIONS = 10, 10  # PutMetricAlarm: MetricStat and Expression queries each


def check_alarm_queries(queries: list[tuple[str, bool, str | None, bool]]) -> None:
    """PutMetricAlarm's rules for ``Metrics`` (id, is a metric, expression, returns data): at most 10 metrics and
    10 expressions, exactly one query returning data, every expression readable over the other ids. Raises
    :class:`MathError` saying what is wrong."""
    metrics = [q for q in queries if q[1]]
    maths = [q for q in queries if not q[1]]
    if len(metrics) > MAX_ALARM_METRICS or len(maths) > MAX_ALARM_EXPRESSIONS:
        raise MathError(
            f"an alarm holds at most {MAX_ALARM_METRICS} metrics and {MAX_ALARM_EXPRESSIONS} expressions "
            f"(got {len(metrics)} and {len(maths)})"
        )
    returning = [q[0] for q in queries if q[3]]
    if len(returning) != 1:
        raise MathError(f"exactly one of the alarm's Metrics must have ReturnData true (got {returning or 'none'})")
    values: dict[str, Value] = {q[0]: 1.0 for q in metrics}
    expressions = {q[0]: q[2] or "" for q in maths}
    for name in expressions:
        expression_value(name, values, expressions)


def _expression_value(expression: str, values: dict[str, float | None]) -> float | None:
    """Kept for callers of the first evaluator: :func:`expression_value`."""
    return expression_value(expression, values)


def period_value(spec: AlarmSpec, store: MetricStore, start: int) -> float | None:
    """The alarm's value for the period starting at ``start`` (None: missing data)."""
    metric_values = {
        q.id: store.datapoint(q.key, start, q.period, q.statistic) for q in spec.queries if q.key is not None
    }
    returned = next(q for q in spec.queries if q.return_data)
    if returned.key is not None:
        return metric_values[returned.id]
    expressions = {q.id: q.expression for q in spec.queries if q.key is None and q.expression}
    return expression_value(returned.expression or "", metric_values, expressions)


def evaluate(spec: AlarmSpec, store: MetricStore, now: int, current: str) -> tuple[str, str]:
    """``(state, reason)`` of the alarm at ``now`` (seconds), over its last complete periods."""
    if spec.comparison not in COMPARISONS:
        raise ValueError(f"ComparisonOperator {spec.comparison} is not modelled by the emulator")
    end = now // spec.period * spec.period
    starts = [end - spec.period * (i + 1) for i in range(spec.evaluation_periods)]
    values = [period_value(spec, store, s) for s in starts if s >= 0]
    compare = COMPARISONS[spec.comparison]
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    breaching = sum(1 for v in present if compare(v, spec.threshold))
    if spec.treat_missing_data == "breaching":
        breaching += missing
    if not present and spec.treat_missing_data in ("missing", "ignore"):
        if spec.treat_missing_data == "ignore":
            return current, ""
        return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received for the evaluation periods."
    shown = ", ".join(f"{v:g}" for v in present) or "no data"
    word = spec.comparison.replace("ThanOrEqualTo", " than or equal to ").replace("Than", " than ")
    word = word.replace("Threshold", "the threshold").lower().strip()
    if breaching >= spec.datapoints_to_alarm:
        reason = (
            f"Threshold Crossed: {breaching} out of the last {spec.evaluation_periods} datapoints [{shown}] "
            f"was {word} ({spec.threshold:g})."
        )
        return "ALARM", reason
    return "OK", f"Threshold Crossed: no {spec.datapoints_to_alarm} datapoints [{shown}] {word} ({spec.threshold:g})."


# --- moto glue ---------------------------------------------------------------------------------


def _dims(dimensions: Iterable[Any]) -> list[tuple[str, str]]:
    return [(d.name, d.value) if hasattr(d, "name") else (d["Name"], d["Value"]) for d in dimensions]


def alarm_spec(alarm: Any) -> AlarmSpec | None:
    """A moto alarm as an :class:`AlarmSpec`; None for composite alarms and alarms without a metric."""
    queries: list[MetricQuery] = []
    for query in alarm.metric_data_queries or []:
        stat = query.metric_stat
        key = (
            metric_key(stat.metric.namespace, stat.metric.metric_name, _dims(stat.metric.dimensions)) if stat else None
        )
        queries.append(
            MetricQuery(
                id=query.id,
                key=key,
                expression=query.expression,
                statistic=(stat.stat if stat else "Sum") or "Sum",  # A percentile (p95) too
                period=int((stat.period if stat else None) or query.period or alarm.period or MINUTE),
                return_data=str(query.return_data).lower() not in ("false", "0", "none")
                if query.return_data is not None
                else True,
            )
        )
    if not queries and alarm.metric_name:
        key = metric_key(alarm.namespace, alarm.metric_name, _dims(alarm.dimensions))
        queries.append(
            MetricQuery(
                "m1",
                key,
                statistic=alarm.statistic or alarm.extended_statistic or "Sum",  # ExtendedStatistic (p99)
                period=int(alarm.period),
                return_data=True,
            )
        )
    if not queries or not any(q.return_data for q in queries):
        return None
    period = int(alarm.period or next(q.period for q in queries if q.key is not None))
    evaluation_periods = int(alarm.evaluation_periods or 1)
    return AlarmSpec(
        name=alarm.name,
        queries=tuple(queries),
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm or evaluation_periods),
        threshold=float(alarm.threshold),
        comparison=alarm.comparison_operator,
        treat_missing_data=alarm.treat_missing_data or "missing",
    )


# Called with (alarm name, new state) after each state change, whatever its cause.
STATE_CHANGE_LISTENERS: list[Callable[[str, str], None]] = []


def publish_state_change(account: str, region: str, alarm: Any, previous: str, now: datetime) -> None:
    """As CloudWatch does for every state change: a ``CloudWatch Alarm State Change`` on the default bus."""
    # Read the new state first: delivering the event runs its targets (a rollback), which moves time on and may
    # re-evaluate the alarm before put_events returns.
    value, reason = alarm.state_value, alarm.state_reason
    from .alarm_history import record_state_change  # DescribeAlarmHistory's StateUpdate items

    record_state_change(account, region, alarm, previous, now)
    for listener in list(STATE_CHANGE_LISTENERS):
        listener(alarm.name, value)
    detail = {
        "alarmName": alarm.name,
        "state": {"value": value, "reason": reason, "timestamp": now.isoformat()},
        "previousState": {"value": previous},
    }
    events_backends[account][region].put_events(
        [
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps(detail),
                "Resources": [alarm.alarm_arn],
            }
        ]
    )


SETTLE_FLOOR_MINUTES = 5  # a long tick accounts at least this many minutes at each end


class AlbMetrics:
    """Traffic, metrics and alarm evaluation for a :class:`~.dataplane.DataPlane` (its ``_reconcile_alarm``)."""

    def __init__(self, plane: Any) -> None:
        self.plane = plane
        self.store = MetricStore()
        self._lock = threading.RLock()
        self._last: float | None = None  # simulated seconds of the last tick
        # service -> tg -> (share, 5xx share, latency profile)
        self._shares: dict[str, dict[str, tuple[float, float, str]]] = {}
        self._published = 0  # minutes published and evaluated so far

    def tick(self) -> None:
        """Account the traffic since the last tick; publish and evaluate each minute that ended."""
        with self._lock:
            now = self.plane.clock.elapsed
            last = self._last if self._last is not None else now
            if now < last:
                return
            due = int(now // MINUTE)  # minutes [published, due) have ended
            keep = self._settle_minutes()
            for start, end in self._spans(last, now, keep):
                self._accumulate(start, end)
            self._last = now
            self._shares = {f"{w.cluster}:{w.service}": self._current_shares(w) for w in self.plane.watched()}
            for minute in self._minutes(self._published, due, keep):
                if minute < self._published:  # a nested tick (a state change's rollback moved time) published it
                    continue
                # Marked before evaluating: a state change runs its targets, which tick again in this
                # thread; they must not publish this minute a second time (GetMetricData would sum it twice)
                self._published = minute + 1
                self._publish(minute)
                self._evaluate((minute + 1) * MINUTE)
            self._published = max(self._published, due)

    # A long tick (an approval held for weeks) has the same traffic in every minute: the shares only change
    # at a tick. Alarms then settle within their longest evaluation window, so only that many minutes at
    # each end of the span are accounted, published and evaluated; the minutes between stay empty (a
    # year-long hold costs thousands of evaluations instead of a million, with the same alarm states).
    def _settle_minutes(self) -> int:
        backend = cloudwatch_backends[self.plane.account][self.plane.region]
        windows = [
            -(-spec.period * spec.evaluation_periods // MINUTE)
            for spec in (alarm_spec(alarm) for alarm in list(backend.alarms.values()))
            if spec is not None
        ]
        return max([SETTLE_FLOOR_MINUTES, *windows]) + 1

    @staticmethod
    def _spans(start: float, end: float, keep_minutes: int) -> list[tuple[float, float]]:
        keep = keep_minutes * MINUTE
        if end - start <= 2 * keep + 4 * MINUTE:  # the two ends never overlap
            return [(start, end)]
        head_end = (int(start // MINUTE) + 1) * MINUTE + keep
        tail_start = (int(end // MINUTE) - 1) * MINUTE - keep
        return [(start, head_end), (tail_start, end)]

    @staticmethod
    def _minutes(first: int, due: int, keep: int) -> list[int]:
        if due - first <= 2 * keep + 2:
            return list(range(first, due))
        return [*range(first, first + keep + 1), *range(due - keep - 1, due)]

    # --- traffic -------------------------------------------------------------------------
    def _current_shares(self, watched: Any) -> dict[str, tuple[float, float, str]]:
        elb_backend = elbv2_backends[self.plane.account][self.plane.region]
        ecs_backend = ecs_backends[self.plane.account][self.plane.region]
        production = self.plane._production_groups(elb_backend, watched)
        service = ecs_backend.services.get(f"{watched.cluster}:{watched.service}")
        failing: dict[str, float] = {}
        profiles: dict[str, str] = {}  # Target group -> its task set's latency profile
        for task_set in service.task_sets if service else []:
            state = self.plane._task_sets.get(task_set.id)
            behaviour = getattr(task_set, "bluegreen_behaviour", "")
            if state and state.target_group and behaviour in LATENCY_PROFILES:
                profiles[state.target_group] = behaviour
            if state and state.production_since and behaviour == "alarm":
                failing[state.target_group] = getattr(task_set, "bluegreen_error_share", FAILING_5XX_SHARE)
            elif state and state.production_since and behaviour == "rising5xx":
                minutes = (self.plane.clock.now() - state.production_since).total_seconds() / MINUTE
                failing[state.target_group] = min(FAILING_5XX_SHARE, RISING_START + RISING_PER_MINUTE * minutes)
        return {
            group: (share / 100.0, failing.get(group, 0.0), profiles.get(group, "healthy"))
            for group, share in production.items()
            if share > 0
        }

    def _accumulate(self, start: float, end: float) -> None:
        time = start
        while time < end:
            minute = int(time // MINUTE)
            piece_end = min(end, (minute + 1) * MINUTE)
            seconds = piece_end - time
            for shares in self._shares.values():
                for group, (share, error_share, profile) in shares.items():
                    requests = REQUESTS_PER_SECOND * seconds * share
                    self._add(group, minute, requests, error_share, profile)
            time = piece_end

    def _dimensions(self, group: str) -> list[tuple[str, str]]:
        elb_backend = elbv2_backends[self.plane.account][self.plane.region]
        target_group = elb_backend.target_groups.get(group)
        balancers = list(getattr(target_group, "load_balancer_arns", []) or [])
        dims = [("TargetGroup", group.split(":")[-1])]
        if balancers:
            dims.append(("LoadBalancer", balancers[0].split(":loadbalancer/")[-1]))
        return dims

    def _add(self, group: str, minute: int, requests: float, error_share: float, profile: str = "healthy") -> None:
        if requests <= 0:
            return
        dims = self._dimensions(group)
        if any(name == "LoadBalancer" and value.startswith("net/") for name, value in dims):
            flows = Aggregate()
            flows.add(requests)
            self.store.add(metric_key(NLB_NAMESPACE, "NewFlowCount", dims), minute, flows)
            if error_share > 0:
                resets = Aggregate()
                resets.add(requests * error_share)
                self.store.add(metric_key(NLB_NAMESPACE, "TCP_Target_Reset_Count", dims), minute, resets)
            return
        count = Aggregate()
        count.add(requests)
        self.store.add(metric_key(NAMESPACE, "RequestCount", dims), minute, count)
        if error_share > 0:
            errors = Aggregate()
            errors.add(requests * error_share)
            self.store.add(metric_key(NAMESPACE, "HTTPCode_Target_5XX_Count", dims), minute, errors)
        latency = Aggregate()  # Each request's latency from the profile (a failing image answers fast)
        for seconds, share in LATENCY_PROFILES["alarm" if error_share else profile]:
            latency.add(seconds, requests * share)
        self.store.add(metric_key(NAMESPACE, "TargetResponseTime", dims), minute, latency)

    def _publish(self, minute: int) -> None:
        """Put the minute's datapoints into moto (GetMetricStatistics, ListMetrics show them)."""
        timestamp = self.plane.clock.now() - timedelta(seconds=self.plane.clock.elapsed - minute * MINUTE)
        timestamp = timestamp.replace(tzinfo=None)  # moto keeps metric timestamps naive (UTC)
        data: list[dict[str, Any]] = []
        nlb_data: list[dict[str, Any]] = []
        for (namespace, name, dims), minutes in self.store.minutes.items():
            found = minutes.get(minute)
            if namespace not in (NAMESPACE, NLB_NAMESPACE) or found is None or not found.count:
                continue
            if namespace == NLB_NAMESPACE:
                nlb_data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                        "Timestamp": timestamp,
                        "Value": round(found.total, 3),
                        "Unit": "Count",
                    }
                )
                continue
            datum: dict[str, Any] = {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                "Timestamp": timestamp,
            }
            if name == "TargetResponseTime":  # The distribution (at most 150 values per datum)
                values = sorted(found.samples.items())[:MAX_VALUES_PER_DATUM]
                datum.update(
                    Values=[value for value, _ in values],
                    Counts=[round(count, 6) for _, count in values],
                    Unit="Seconds",
                )
            else:
                datum.update(Value=round(found.total, 3), Unit="Count")
            data.append(datum)
        if data:
            cloudwatch_backends[self.plane.account][self.plane.region].put_metric_data(NAMESPACE, data)
        if nlb_data:
            cloudwatch_backends[self.plane.account][self.plane.region].put_metric_data(NLB_NAMESPACE, nlb_data)

    # --- alarms --------------------------------------------------------------------------
    def _evaluate(self, boundary: int) -> None:
        backend = cloudwatch_backends[self.plane.account][self.plane.region]
        now = self.plane.clock.now()
        for alarm in list(backend.alarms.values()):
            spec = alarm_spec(alarm)
            if spec is None or boundary % MINUTE:
                continue
            if alarm.name in self.plane.forced_alarms:
                state, reason = "ALARM", "Threshold Crossed: held in ALARM by the emulator (forced_alarms)."
            else:
                state, reason = evaluate(spec, self.store, boundary, alarm.state_value)
            self.set_state(alarm, state, reason, now)
        for name in self.plane.forced_alarms:  # forced alarms without a metric are held too
            alarm = backend.alarms.get(name)
            if alarm is not None and alarm_spec(alarm) is None:
                self.set_state(alarm, "ALARM", "Threshold Crossed: held in ALARM by the emulator.", now)

    def set_state(self, alarm: Any, state: str, reason: str, now: datetime) -> None:
        if alarm.state_value == state:
            return
        previous = alarm.state_value
        alarm.update_state(reason, json.dumps({"version": "1.0", "evaluatedAt": now.isoformat()}), state)
        publish_state_change(self.plane.account, self.plane.region, alarm, previous, now)

    def force_pending(self) -> None:
        """Hold forced alarms in ALARM at once (not only at the next minute)."""
        backend = cloudwatch_backends[self.plane.account][self.plane.region]
        for name in self.plane.forced_alarms:
            alarm = backend.alarms.get(name)
            if alarm is not None:
                self.set_state(
                    alarm, "ALARM", "Threshold Crossed: held in ALARM by the emulator.", self.plane.clock.now()
                )
