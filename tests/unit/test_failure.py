"""Cleanup (failure before the swap) and Rollback (failure after it): every failure ends in a clean state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen.domain import errors
from bluegreen.domain.models import CleanupEvent
from bluegreen.steps import cleanup
from tests.conftest import load_handler
from tests.unit.helpers import (
    EXECUTION_ARN,
    add_task_set,
    aws_state,
    deploy_until_swapped,
    deps_of,
    lambda_error,
    production_weights,
    rule_actions,
    run_cleanup,
    run_create_green,
    run_rollback,
    run_validate,
    state_data,
    task_set,
    task_set_summary,
    validate_payload,
)


@pytest.fixture(scope="module")
def cleanup_handler() -> Any:
    return load_handler("cleanup")


@pytest.fixture(scope="module")
def rollback_handler() -> Any:
    return load_handler("rollback")


def service_state(world) -> dict[str, Any]:
    """The rules and the running task sets (task definition revisions are never deleted)."""
    state = aws_state(world)
    return {"production": state["production"], "test": state["test"], "taskSets": state["taskSets"]}


ALARM_ERROR = lambda_error(
    "AlarmTriggered",
    "Alarm demo-web-5xx is in ALARM during the bake: Threshold Crossed: 1 datapoint [57.0] was greater than the "
    "threshold (10.0).",
)


# --- Cleanup -----------------------------------------------------------------------------------
def test_cleanup_deletes_only_the_task_set_this_execution_created(world, store, api, cleanup_handler, lambda_context):
    # Given green was created by this execution and timed out, and another task set appeared on B meanwhile
    original = service_state(world)
    context = run_validate(world, "v2-broken")
    green = run_create_green(world, context)
    other = add_task_set(world, world.demo.target_groups[1], external_id="deploy-demo-web-v3-0002")
    api.reset()
    error = lambda_error("HealthCheckTimeout", "Green did not become healthy within 300s (2 unhealthy).")

    # When Cleanup runs
    report = cleanup_handler.lambda_handler(
        {"state": state_data(context, green, error=error), "executionArn": EXECUTION_ARN}, lambda_context
    )

    # Then only green (externalId = this execution's name) was deleted
    assert [c.params["taskSet"] for c in api.calls if c.operation == "DeleteTaskSet"] == [green.id]
    assert task_set(world, green.id) is None
    assert task_set(world, other["id"]) is not None
    # ... blue and both rules are exactly as before the deployment
    after = service_state(world)
    assert (after["production"], after["test"]) == (original["production"], original["test"])
    assert task_set(world, world.demo.blue_task_set)["status"] == "PRIMARY"
    assert "ModifyRule" not in api.operations()
    # ... the execution ends with the original error and a readable cause
    assert report["error"] == "HealthCheckTimeout"
    assert report["cause"] == (
        f"Green did not become healthy within 300s (2 unhealthy). Deleted green task set {green.id}; "
        f"production was not changed."
    )
    assert report["deletedTaskSets"] == [green.id]
    # ... and the service can be deployed again
    assert store.lock_holder("demo-web") is None


def test_cleanup_before_green_exists_deletes_nothing(world, store, api):
    # Given CreateGreen failed, so this execution created no task set
    original = service_state(world)
    context = run_validate(world, "v2")
    api.reset()

    # When Cleanup runs
    report = run_cleanup(world, state_data(context, error=lambda_error("InvalidServiceConfig", "no container 'api'")))

    # Then nothing is deleted or changed, and the original error is reported
    assert api.mutating() == []
    assert service_state(world) == original
    assert (report.error, report.cause, report.deletedTaskSets) == ("InvalidServiceConfig", "no container 'api'", [])


def test_cleanup_after_validate_failed_is_a_no_op_reporting_the_original_error(
    world, store, api, cleanup_handler, lambda_context
):
    # Given Validate failed (no context): the execution input and the Catch's error are all there is
    original = aws_state(world)
    message = "Tag 'latest' is a moving tag and is refused: a deployment must name one release."
    data = {"service": "demo-web", "imageTag": "latest", "error": lambda_error("MutableTagRefused", message)}
    api.reset()

    # When Cleanup runs
    report = cleanup_handler.lambda_handler({"state": data, "executionArn": EXECUTION_ARN}, lambda_context)

    # Then it reports the error name and the errorMessage parsed from the JSON Cause, and changes nothing
    assert report["error"] == "MutableTagRefused"
    assert report["cause"] == message
    assert report.get("deletedTaskSets", []) == []
    assert api.mutating() == []
    assert aws_state(world) == original


def test_a_failed_validate_does_not_block_the_next_deployment(world, store, lambda_context):
    # Given Validate refused 'latest' for this execution (after taking the service's lock)
    validate_handler = load_handler("validate")
    with pytest.raises(errors.MutableTagRefused) as raised:
        validate_handler.lambda_handler(validate_payload({"service": "demo-web", "imageTag": "latest"}), lambda_context)
    error = {"Error": "MutableTagRefused", "Cause": json.dumps({"errorMessage": str(raised.value)})}

    # When ValidationFailed runs for that execution (Cleanup, with the parameters the ASL state builds)
    request = {
        "state": {"error": error},
        "input": {"service": "demo-web", "imageTag": "latest"},
        "executionArn": EXECUTION_ARN,
        "validationFailed": True,
    }
    cleanup.run(CleanupEvent.model_validate(request), deps_of(world))

    # Then the next deployment of the service is accepted
    context = run_validate(world, "v2", name="deploy-demo-web-v2-0002")
    assert context.imageTag == "v2"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            {"Error": "States.Timeout", "Cause": "Task timed out after 60.00 seconds"},
            ("States.Timeout", "Task timed out after 60.00 seconds"),
            id="plain-text-cause",
        ),
        pytest.param({"Error": "States.TaskFailed"}, ("States.TaskFailed", "States.TaskFailed"), id="no-cause"),
        pytest.param(
            {"Error": "Lambda.Unknown", "Cause": json.dumps({"errorType": "Runtime.ExitError"})},
            ("Lambda.Unknown", json.dumps({"errorType": "Runtime.ExitError"})),
            id="json-cause-without-message",
        ),
        pytest.param(None, ("States.Unknown", "unknown error"), id="no-error"),
    ],
)
def test_cleanup_reports_any_kind_of_error_cause(no_aws, cleanup_handler, lambda_context, error, expected):
    # Given a failure whose Cause is not a Lambda error document
    data = {"imageTag": "v2"} if error is None else {"imageTag": "v2", "error": error}

    # When Cleanup runs
    report = cleanup_handler.lambda_handler({"state": data, "executionArn": EXECUTION_ARN}, lambda_context)

    # Then the report still names the error and gives a readable cause, without calling AWS
    assert (report["error"], report["cause"]) == expected
    assert no_aws.calls == []


# --- Rollback ----------------------------------------------------------------------------------
def test_rollback_restores_the_saved_rules_and_blue_and_deletes_green(
    world, store, api, rollback_handler, lambda_context
):
    # Given v2 serves production after the swap, and the bake found the 5xx alarm firing
    original = service_state(world)
    deployment = deploy_until_swapped(world, "v2")
    saved = deployment.context.savedRules
    api.reset()

    # When Rollback runs
    report = rollback_handler.lambda_handler(deployment.state(error=ALARM_ERROR), lambda_context)

    # Then both rules have exactly the actions saved by Validate (production first, one call each)
    assert rule_actions(world, world.demo.production_rule_arn) == saved.production.actions
    assert rule_actions(world, world.demo.test_rule_arn) == saved.test.actions
    modified = [c.params["RuleArn"] for c in api.calls if c.operation == "ModifyRule"]
    assert modified == [world.demo.production_rule_arn, world.demo.test_rule_arn]
    # ... blue is primary again and green is gone: the service is as it was before the deployment
    assert service_state(world) == original
    assert task_set_summary(world) == [(world.demo.blue_task_set, "PRIMARY", world.demo.target_groups[0], "initial")]
    # ... and the execution ends with RolledBack, naming the original error and its message
    assert report["error"] == "RolledBack"
    assert "AlarmTriggered" in report["cause"]
    assert "Alarm demo-web-5xx is in ALARM" in report["cause"]
    assert world.demo.digests["v1"] in report["cause"]
    assert report["deletedTaskSets"] == [deployment.green.id]
    assert report["restoredRules"] == [world.demo.production_rule_arn, world.demo.test_rule_arn]
    assert store.lock_holder("demo-web") is None


def test_rollback_restores_a_production_rule_with_authentication_and_stickiness_exactly(world, store):
    # Given a production rule with authentication and sticky sessions, and a deployment swapped onto green
    blue_group = world.demo.target_groups[0]
    world.clients.elbv2.modify_rule(
        RuleArn=world.demo.production_rule_arn,
        Actions=[
            {
                "Type": "authenticate-oidc",
                "Order": 1,
                "AuthenticateOidcConfig": {
                    "Issuer": "https://idp.example.com",
                    "AuthorizationEndpoint": "https://idp.example.com/authorize",
                    "TokenEndpoint": "https://idp.example.com/token",
                    "UserInfoEndpoint": "https://idp.example.com/userinfo",
                    "ClientId": "demo-web",
                    "ClientSecret": "secret",
                },
            },
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": blue_group, "Weight": 1}],
                    "TargetGroupStickinessConfig": {"Enabled": False, "DurationSeconds": 600},  # on: refused
                },
            },
        ],
    )
    original = service_state(world)
    deployment = deploy_until_swapped(world, "v2")
    assert production_weights(world) != {blue_group: 1}

    # When Rollback runs
    run_rollback(world, deployment.state(error=ALARM_ERROR))

    # Then the production rule is byte-for-byte what it was
    assert service_state(world) == original


def test_rollback_run_twice_ends_in_the_same_state(world, store, api):
    # Given a rollback that already completed (its response was lost)
    original = service_state(world)
    deployment = deploy_until_swapped(world, "v2")
    run_rollback(world, deployment.state(error=ALARM_ERROR))
    api.reset()

    # When the state machine runs Rollback again
    report = run_rollback(world, deployment.state(error=ALARM_ERROR))

    # Then nothing is modified again, and the state is the same
    assert "ModifyRule" not in api.operations()
    assert "DeleteTaskSet" not in api.operations()
    assert service_state(world) == original
    assert report.error == "RolledBack"
    assert (report.restoredRules, report.deletedTaskSets) == ([], [])


@pytest.mark.parametrize(
    ("operation", "after"),
    [
        pytest.param("ModifyRule", 1, id="test-rule-restore-failed"),
        pytest.param("UpdateServicePrimaryTaskSet", 0, id="make-blue-primary-failed"),
        pytest.param("DeleteTaskSet", 0, id="delete-green-failed"),
    ],
)
def test_rollback_retried_after_a_partial_failure_ends_in_the_same_state(world, store, api, operation, after):
    # Given a rollback that failed half-way (an AWS call kept being throttled)
    original = service_state(world)
    deployment = deploy_until_swapped(world, "v2")
    api.fail(operation, "ThrottlingException", after=after)
    with pytest.raises(errors.TransientAwsError):
        run_rollback(world, deployment.state(error=ALARM_ERROR))
    api.reset()

    # When the state machine retries Rollback
    report = run_rollback(world, deployment.state(error=ALARM_ERROR))

    # Then the service ends exactly as a clean rollback leaves it, production changed back only once
    assert service_state(world) == original
    assert len(api.modify_rule_calls(world.demo.production_rule_arn)) == 0
    assert report.error == "RolledBack"
    assert task_set(world, deployment.green.id) is None


def test_rollback_refuses_when_blue_has_no_healthy_targets(world, store, api, rollback_handler, lambda_context):
    # Given production is on green and blue's targets are gone
    deployment = deploy_until_swapped(world, "v2")
    blue_group = world.demo.target_groups[0]
    targets = world.clients.elbv2.describe_target_health(TargetGroupArn=blue_group)["TargetHealthDescriptions"]
    world.clients.elbv2.deregister_targets(
        TargetGroupArn=blue_group, Targets=[{"Id": t["Target"]["Id"], "Port": t["Target"]["Port"]} for t in targets]
    )
    before = service_state(world)
    api.reset()

    # When Rollback runs
    with pytest.raises(errors.RollbackFailed) as raised:
        rollback_handler.lambda_handler(deployment.state(error=ALARM_ERROR), lambda_context)

    # Then it refuses: production stays on green, green stays primary, nothing was changed; the execution
    # ends at Rollback as RollbackFailed (redriving it runs Rollback again), saying why
    assert type(raised.value).__name__ == "RollbackFailed"
    assert isinstance(raised.value.__cause__, errors.RollbackUnsafe)
    assert "RollbackUnsafe" in str(raised.value) and blue_group in str(raised.value)
    assert api.mutating() == []
    assert service_state(world) == before
    assert task_set(world, deployment.green.id)["status"] == "PRIMARY"


def test_cleanup_after_an_input_with_a_context_field_was_refused_reports_invalid_input(
    world, store, cleanup_handler, lambda_context
):
    # Given Validate refused an execution input with an extra 'context' field
    message = "Invalid execution input (context: Extra inputs are not permitted)."
    error = lambda_error("InvalidInput", message)
    data = {"service": "demo-web", "imageTag": "v2", "context": "hotfix for INC-123", "error": error}

    # When the ValidationFailed state runs Cleanup (the raw input is passed apart from the state)
    event = {"state": {"error": error}, "input": data, "executionArn": EXECUTION_ARN, "validationFailed": True}
    report = cleanup_handler.lambda_handler(event, lambda_context)

    # Then the execution ends with InvalidInput, like any other malformed input
    assert (report["error"], report["cause"]) == ("InvalidInput", message)
