"""Every patch of moto's internals the emulator needs: one module per service patched.

moto runs the real template, the real state machine and the real handlers, but it
leaves gaps where AWS does something moto does not (or does it in real time). Each
patch below fills one gap, says which in a ``# moto gap:`` comment, and is installed
through a :class:`Patcher`, which restores exactly what it replaced.

The patches reach into moto's private modules, so they are written for one moto
version (:data:`MOTO_VERSION`, pinned by the ``local`` extra). Importing this package (which any of its
modules does first)
with another version installed fails at once with :class:`MotoVersionError` rather
than with a wrong emulation later.
"""

# ruff: noqa: E402, F401 - the version is checked before any module that imports moto's internals
from __future__ import annotations

from .version import MOTO_VERSION, MotoVersionError, check_moto_version

check_moto_version()

from .awslambda import _STATES_CREDENTIAL, DeliverAsync, Invoke, run_lambda_handlers
from .cloudformation import cloudformation_templates
from .cloudwatch import MetricDistributionDatum, _percentile_samples, describe_alarm_history
from .codedeploy import codedeploy_alarm_configuration
from .core import _LOCK, _MISSING, ApiCallWrapper, Patcher, wrap_api_calls
from .dynamodb import _DYNAMODB_LOCK, _DYNAMODB_METHODS
from .ec2 import private_dns_names
from .ecr import publish_ecr_pushes
from .ecs import (
    DEFAULT_DEREGISTRATION_DELAY,
    ECS_MAX_TAGS,
    MAX_TASK_SETS_PER_SERVICE,
    ConsistencyWindow,
    EcsTaskPatches,
    TaskSetNotFound,
    _check_task_definition_tags,
    _reserved,
    enforce_deployment_controllers,
    hold_one_off_tasks,
    scheduler_reacts,
    task_definition_rules,
)
from .elbv2 import (
    _OIDC_SECRETS,
    NLB_MAX_WEIGHT,
    NOT_WEIGHTABLE_NLB_PROTOCOLS,
    HealthLookup,
    _keep_oidc_secret,
    _oidc_configs,
    _remember,
    oidc_secret,
    route_rules,
    simulate_target_health,
)
from .iam import Simulate, simulate_principal_policy
from .refusals import installed
from .stepfunctions import (
    DELIVERIES,
    ONE_YEAR_SECONDS,
    REDRIVE_WINDOW,
    SFN_CAUSE_MAX,
    SFN_ERROR_MAX,
    SFN_OUTPUT_MAX,
    STATUS_CHANGE,
    Deliveries,
    ExecutionNotRedrivable,
    _end_history,
    _eval_with_limit,
    _interrupt_waits,
    _millis,
    _publish,
    _record_early_stop,
    _redrive_response,
    _RedriveWorker,
    _stop_response,
    execution_lifecycle,
    pass_task_failure_cause,
    redrive_execution,
    simulate_time,
    status_change_event,
    unfinished_state,
)
