"""Where moto is kinder than AWS, the emulator models AWS (each patch says which moto gap it fills).

Install with :func:`installed` (a context manager); every patch is undone on exit.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

from moto.cloudwatch.responses import CloudWatchResponse
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.elbv2.exceptions import ValidationError
from moto.elbv2.models import ELBv2Backend
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.responses import StepFunctionResponse

from bluegreen import clock

from . import metrics

# --- issue 11: limits AWS enforces ----------------------------------------------------------
SFN_ERROR_MAX = 256  # SendTaskFailure error
SFN_CAUSE_MAX = 32_768  # SendTaskFailure cause
SFN_OUTPUT_MAX = 262_144  # SendTaskSuccess output (256 KiB)
ECS_MAX_TAGS = 50  # tags per resource (aws:-prefixed ones do not count, and cannot be set)

# Rule ARN -> OIDC client secret: ELB keeps it, DescribeRules never returns it.
_OIDC_SECRETS: dict[str, str] = {}
_LOCK = threading.Lock()


def _reserved(text: str) -> bool:
    return text.lower().startswith("aws:")


def _check_task_definition_tags(tags: list[dict[str, str]] | None) -> None:
    # moto gap: moto's RegisterTaskDefinition accepts aws:-prefixed tags and any number of tags; ECS refuses
    # both (the aws: prefix is reserved for AWS, keys and values; at most 50 user tags per resource).
    tags = tags or []
    reserved = [t["key"] for t in tags if _reserved(t.get("key", "")) or _reserved(t.get("value", ""))]
    if reserved:
        raise InvalidParameterException(
            f"Tag keys and values beginning with 'aws:' are reserved for AWS use and cannot be set: {reserved}."
        )
    if len(tags) > ECS_MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {ECS_MAX_TAGS} tags; got {len(tags)}.")


def _oidc_configs(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["AuthenticateOidcConfig"] for a in actions if a.get("Type") == "authenticate-oidc"]


def _keep_oidc_secret(rule_arn: str | None, actions: list[dict[str, Any]], creating: bool) -> str | None:
    """Validate OIDC actions as ELB does; strip the secret from what is stored (DescribeRules never shows it)."""
    # moto gap: moto stores and returns the OIDC ClientSecret in DescribeRules and accepts a described action back
    # without it. ELB never returns the secret; ModifyRule needs ClientSecret or UseExistingClientSecret: true.
    secret: str | None = None
    for config in _oidc_configs(actions):
        use_existing = bool(config.pop("UseExistingClientSecret", False))
        given = config.pop("ClientSecret", None)
        if given:
            secret = given
        elif use_existing and not creating:
            with _LOCK:
                secret = _OIDC_SECRETS.get(rule_arn or "")
            if secret is None:
                raise ValidationError("UseExistingClientSecret is set but the rule has no client secret to reuse")
        else:
            raise ValidationError(
                "A client secret must be specified for an authenticate-oidc action"
                + ("" if creating else " (or set UseExistingClientSecret to true to keep the existing one)")
            )
    return secret


def _remember(rule_arn: str, secret: str | None, actions: list[dict[str, Any]]) -> None:
    with _LOCK:
        if secret is not None:
            _OIDC_SECRETS[rule_arn] = secret
        elif not _oidc_configs(actions):
            _OIDC_SECRETS.pop(rule_arn, None)


def oidc_secret(rule_arn: str) -> str | None:
    """The client secret ELB keeps for a rule (tests compare it; no API returns it)."""
    with _LOCK:
        return _OIDC_SECRETS.get(rule_arn)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    original_register = EC2ContainerServiceBackend.register_task_definition
    original_create_rule = ELBv2Backend.create_rule
    original_modify_rule = ELBv2Backend.modify_rule
    original_task_failure = StepFunctionResponse.send_task_failure
    original_task_success = StepFunctionResponse.send_task_success
    original_set_alarm_state = CloudWatchResponse.set_alarm_state

    def register_task_definition(self, family, container_definitions, *args, **kwargs):  # noqa: ANN001 - moto's
        _check_task_definition_tags(kwargs.get("tags"))
        return original_register(self, family, container_definitions, *args, **kwargs)

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

    EC2ContainerServiceBackend.register_task_definition = register_task_definition
    CloudWatchResponse.set_alarm_state = set_alarm_state
    ELBv2Backend.create_rule = create_rule
    ELBv2Backend.modify_rule = modify_rule
    StepFunctionResponse.send_task_failure = send_task_failure
    StepFunctionResponse.send_task_success = send_task_success
    try:
        yield
    finally:
        EC2ContainerServiceBackend.register_task_definition = original_register
        ELBv2Backend.create_rule = original_create_rule
        ELBv2Backend.modify_rule = original_modify_rule
        StepFunctionResponse.send_task_failure = original_task_failure
        StepFunctionResponse.send_task_success = original_task_success
        CloudWatchResponse.set_alarm_state = original_set_alarm_state
        with _LOCK:
            _OIDC_SECRETS.clear()
