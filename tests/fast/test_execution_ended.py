"""Pure decisions of what an execution's end calls for, and the one-year budget of a deployment."""

from __future__ import annotations

import pytest

from bluegreen.domain.errors import InvalidInput, InvalidServiceConfig
from bluegreen.domain.models import ServiceConfig
from bluegreen.steps.execution_ended import plan, redrive_refusal
from bluegreen.steps.validate import (
    EXECUTION_LIMIT_SECONDS,
    EXECUTION_MARGIN_SECONDS,
    check_time_limit,
    longest_run_seconds,
    parse_input,
)

DAY = 86400


@pytest.mark.parametrize(
    ("status", "recorded", "has_context", "moved", "expected"),
    [
        ("ABORTED", "RUNNING", True, False, "cleanup"),  # stopped before the swap
        ("ABORTED", "RUNNING", True, True, "rollback"),  # stopped after production moved
        ("TIMED_OUT", "RUNNING", True, True, "rollback"),
        ("FAILED", "RUNNING", True, False, "cleanup"),  # Cleanup failed for good: try again
        ("ABORTED", None, False, False, "release"),  # stopped inside Validate
        ("ABORTED", "RUNNING", False, False, "release"),
        ("FAILED", "cleaned_up", True, False, "nothing"),  # its Catch cleaned up: idempotent
        ("FAILED", "rolled_back", True, True, "nothing"),
        ("ABORTED", "cleaned_up", True, False, "nothing"),  # a second delivery of the same event
        ("ABORTED", "deployed", True, False, "finish"),  # stopped inside DeleteOld after it recorded the end
        ("SUCCEEDED", "deployed", True, False, "nothing"),
        ("RUNNING", None, False, False, "nothing"),
    ],
)
def test_plan(status, recorded, has_context, moved, expected):
    assert plan(status, recorded, has_context, moved) == expected


def _config(**overrides) -> ServiceConfig:
    document = {
        "cluster": "c",
        "service": "web",
        "containerName": "app",
        "repository": "web",
        "productionRuleArn": "arn:prod",
        "testRuleArn": "arn:test",
        "targetGroupArns": ["arn:a", "arn:b"],
        **overrides,
    }
    return ServiceConfig.model_validate(document)


def test_the_defaults_fit_well_within_a_year():
    config = _config()
    assert longest_run_seconds(config) == 900 + 600 + 7 * DAY
    check_time_limit(config)


def test_every_wait_counts_towards_the_year():
    config = _config(
        approval={"timeoutSeconds": 100 * DAY},
        keepOld={"enabled": True, "timeoutSeconds": 50 * DAY},
        trafficShift={"type": "LINEAR", "percent": 25, "intervalSeconds": 3600},
        bakeSeconds=7200,
        healthWaitTimeoutSeconds=1800,
    )
    assert longest_run_seconds(config) == 100 * DAY + 50 * DAY + 3 * 3600 + 7200 + 1800


def test_waits_that_skip_do_not_count():
    config = _config(approval={"required": False, "timeoutSeconds": 365 * DAY}, keepOld={"timeoutSeconds": 365 * DAY})
    assert longest_run_seconds(config) == 900 + 600
    check_time_limit(config)


def test_a_budget_over_the_year_is_refused_with_what_to_shorten():
    budget = EXECUTION_LIMIT_SECONDS - EXECUTION_MARGIN_SECONDS
    at_limit = _config(approval={"timeoutSeconds": budget - 1500})
    check_time_limit(at_limit)
    over = _config(approval={"timeoutSeconds": budget - 1499})
    with pytest.raises(InvalidServiceConfig) as refused:
        check_time_limit(over)
    assert "approval.timeoutSeconds" in str(refused.value) and "one year" in str(refused.value)


@pytest.mark.parametrize("raw", [[], ["web"], "web", 3, 2.5, None, True])
def test_an_input_that_is_not_an_object_is_invalid_input(raw):
    with pytest.raises(InvalidInput) as refused:
        parse_input(raw)
    assert "expected a JSON object" in str(refused.value)


@pytest.mark.parametrize(
    ("redrive_count", "recorded", "refused"),
    [
        (1, "cleaned_up", True),  # stopped, then cleaned up by the execution-ended path
        (1, "rolled_back", True),
        (2, "deployed", True),
        (1, "RUNNING", False),  # Cleanup or Rollback failed for good: the redrive re-runs it
        (1, None, False),  # Validate never recorded it: nothing to protect
        (0, "cleaned_up", False),  # not a redrive
    ],
)
def test_a_redrive_is_stopped_only_when_the_deployment_already_ended(redrive_count, recorded, refused):
    reason = redrive_refusal(redrive_count, recorded)
    assert (reason is not None) is refused
    if reason:
        assert recorded in reason and "new deployment" in reason


def test_a_refused_redrive_is_swept_and_nothing_else():
    # the deployment already ended; the redrive resumed a state that may have opened a gate or created green
    assert plan("ABORTED", "cleaned_up", True, False, redriven=True) == "sweep"
    assert plan("ABORTED", "deployed", True, False, redriven=True) == "sweep"
    assert plan("ABORTED", "cleaned_up", False, False, redriven=True) == "nothing"  # Validate never recorded it
    assert plan("ABORTED", "cleaned_up", True, False, redriven=False) == "nothing"
    assert plan("FAILED", "RUNNING", True, False, redriven=True) == "cleanup"  # a redrive whose end task failed
