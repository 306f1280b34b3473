"""The limits and refusals AWS enforces where moto does not, across services (ELBv2 rules, Step Functions
task answers, CloudWatch metrics and alarms)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import CloudWatchBackend, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.elbv2.models import (
    ELBv2Backend,
)
from moto.stepfunctions.exceptions import (
    ValidationException,
)
from moto.stepfunctions.responses import StepFunctionResponse

from bluegreen.domain import clock
from bluegreen.domain.analysis import percentile_of

from .. import metrics
from .cloudwatch import MetricDistributionDatum, _percentile_samples
from .core import _LOCK, Patcher
from .elbv2 import _OIDC_SECRETS, _keep_oidc_secret, _remember
from .stepfunctions import SFN_CAUSE_MAX, SFN_ERROR_MAX, SFN_OUTPUT_MAX


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """The limits and refusals AWS enforces where moto does not."""
    patcher = Patcher()
    original_create_rule = ELBv2Backend.create_rule
    original_modify_rule = ELBv2Backend.modify_rule
    original_task_failure = StepFunctionResponse.send_task_failure
    original_task_success = StepFunctionResponse.send_task_success
    original_set_alarm_state = CloudWatchResponse.set_alarm_state
    original_put_metric_alarm = CloudWatchBackend.put_metric_alarm
    original_put_metric_data = CloudWatchBackend.put_metric_data
    original_get_metric_data = CloudWatchBackend.get_metric_data
    original_statistic = Statistics.get_statistics_for_type

    def put_metric_data(self, namespace, metric_data):  # noqa: ANN001 - moto's
        for index, member in enumerate(metric_data, start=1):  # every member first: all or nothing is stored
            self._validate_parameters_put_metric_data(member, index)
            if len(member.get("Values") or []) > metrics.MAX_VALUES_PER_DATUM:
                raise CloudWatchValidationError(
                    f"The collection MetricData.member.{index}.Values must not have a size greater than "
                    f"{metrics.MAX_VALUES_PER_DATUM}."
                )
        distributions = [MetricDistributionDatum(namespace, m) for m in metric_data if m.get("Values")]
        if len(distributions) != len(metric_data):
            original_put_metric_data(self, namespace, [m for m in metric_data if not m.get("Values")])
        self.metric_data.extend(distributions)

    def get_statistics_for_type(self, stat):  # noqa: ANN001 - moto's
        wanted = percentile_of(stat)
        if wanted is None:
            return original_statistic(self, stat)
        samples = _percentile_samples(self.metric_data)
        return None if samples is None else metrics.percentile(samples, wanted)

    def get_metric_data(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - moto's
        results = original_get_metric_data(self, *args, **kwargs)
        for result in results:  # a period without a statistic (no percentile computable) has no datapoint
            pairs = [(t, v) for t, v in zip(result["timestamps"], result["values"], strict=True) if v is not None]
            result["timestamps"], result["values"] = [t for t, _ in pairs], [v for _, v in pairs]
        return results

    def put_metric_alarm(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - moto's
        queries = kwargs.get("metric_data_queries") or []
        described = [
            (q.id, q.metric_stat is not None, q.expression, str(q.return_data).lower() not in ("false", "0"))
            for q in queries
        ]
        if described:
            try:
                metrics.check_alarm_queries(described)
            except metrics.MathError as error:
                raise CloudWatchValidationError(f"Invalid metrics for alarm: {error}") from error
        return original_put_metric_alarm(self, *args, **kwargs)

    def create_rule(self, listener_arn, conditions, priority, actions, tags=None):  # noqa: ANN001 - moto's
        actions = copy.deepcopy(actions)
        secret = _keep_oidc_secret(None, actions, creating=True)
        rule = original_create_rule(self, listener_arn, conditions, priority, actions, tags)
        _remember(rule.arn, secret, actions)
        return rule

    def modify_rule(self, rule_arn, conditions, actions):  # noqa: ANN001 - moto's
        actions = copy.deepcopy(actions)
        secret = _keep_oidc_secret(rule_arn, actions, creating=False) if actions else None
        rule = original_modify_rule(self, rule_arn, conditions, actions)
        if actions:
            _remember(rule_arn, secret, actions)
        return rule

    def send_task_failure(self):  # noqa: ANN001 - moto's
        # moto gap: moto accepts an error and a cause of any length; Step Functions refuses an error over 256
        # characters and a cause over 32,768 (ValidationException).
        error, cause = self._get_param("error") or "", self._get_param("cause") or ""
        if len(error) > SFN_ERROR_MAX:
            raise ValidationException(f"1 validation error detected: 'error' must be at most {SFN_ERROR_MAX} long")
        if len(cause) > SFN_CAUSE_MAX:
            raise ValidationException(f"1 validation error detected: 'cause' must be at most {SFN_CAUSE_MAX} long")
        return original_task_failure(self)

    def send_task_success(self):  # noqa: ANN001 - moto's
        # moto gap: moto accepts any output size; Step Functions refuses an output over 256 KiB.
        if len((self._get_param("output") or "").encode()) > SFN_OUTPUT_MAX:
            raise ValidationException(f"1 validation error detected: 'output' must be at most {SFN_OUTPUT_MAX} bytes")
        return original_task_success(self)

    def set_alarm_state(self):  # noqa: ANN001 - moto's
        # moto gap: moto's SetAlarmState changes the state but publishes nothing; CloudWatch publishes every state
        # change to EventBridge (CloudWatch Alarm State Change), one made with SetAlarmState included.
        alarm = self.cloudwatch_backend.alarms.get(self._get_param("AlarmName"))
        previous = alarm.state_value if alarm is not None else None
        result = original_set_alarm_state(self)
        if alarm is not None and alarm.state_value != previous:
            metrics.publish_state_change(self.current_account, self.region, alarm, previous, clock.now())
        return result

    patcher.replace(CloudWatchResponse, "set_alarm_state", set_alarm_state)
    # moto gap: PutMetricAlarm stores any Metrics array; CloudWatch refuses more than 10 metrics or 10
    # expressions, not exactly one query returning data, and math it cannot read.
    patcher.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm)
    # moto gap: PutMetricData with Values/Counts stores one datum per count, int(count) of them (a fractional count
    # is cut), and keeps no distribution: CloudWatch keeps the samples and their counts.
    patcher.replace(CloudWatchBackend, "put_metric_data", put_metric_data)
    # moto gap: moto computes no percentile (Stat p95 answers None); CloudWatch computes pNN from the period's
    # samples, none from statistic sets with several different samples or from negative values.
    patcher.replace(Statistics, "get_statistics_for_type", get_statistics_for_type)
    # moto gap: GetMetricData returns a None value where it computed no statistic; CloudWatch returns no datapoint.
    patcher.replace(CloudWatchBackend, "get_metric_data", get_metric_data)
    # moto gap: CreateRule and ModifyRule keep and return the OIDC client secret (see _keep_oidc_secret).
    patcher.replace(ELBv2Backend, "create_rule", create_rule)
    patcher.replace(ELBv2Backend, "modify_rule", modify_rule)
    patcher.replace(StepFunctionResponse, "send_task_failure", send_task_failure)
    patcher.replace(StepFunctionResponse, "send_task_success", send_task_success)
    try:
        yield
    finally:
        patcher.restore()
        with _LOCK:
            _OIDC_SECRETS.clear()
