"""Pure helpers: forward weights of listener rule actions, and which AWS errors count as transient."""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from bluegreen.aws import elbv2
from bluegreen.aws.clients import transient_errors
from bluegreen.domain.errors import ListenerRulesInvalid, TransientAwsError

TG_A = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1111111111111111"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2222222222222222"

AUTHENTICATE = {
    "Type": "authenticate-cognito",
    "Order": 1,
    "AuthenticateCognitoConfig": {
        "UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
        "UserPoolClientId": "client",
        "UserPoolDomain": "auth",
        "OnUnauthenticatedRequest": "authenticate",
    },
}
STICKINESS = {"Enabled": True, "DurationSeconds": 3600}


# --- forward_weights -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("forward", "expected"),
    [
        pytest.param({"Type": "forward", "TargetGroupArn": TG_A}, {TG_A: 1}, id="plain-target-group"),
        pytest.param(
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": TG_B, "Weight": 100}, {"TargetGroupArn": TG_A, "Weight": 0}]
                },
            },
            {TG_B: 100, TG_A: 0},
            id="weighted",
        ),
        pytest.param(
            {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": TG_A}]}},
            {TG_A: 1},
            id="weight-omitted",
        ),
        pytest.param(
            # What DescribeRules returns in AWS for a simple forward: both forms, the ForwardConfig wins
            {
                "Type": "forward",
                "TargetGroupArn": TG_A,
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": TG_A, "Weight": 1}],
                    "TargetGroupStickinessConfig": {"Enabled": False},
                },
            },
            {TG_A: 1},
            id="both-forms",
        ),
    ],
)
def test_forward_weights_reads_every_form_of_forward_action(forward, expected):
    # Given a rule with an authentication action and a forward action
    # When its weights are read
    # Then the forward action's target groups and weights come back
    assert elbv2.forward_weights([AUTHENTICATE, forward]) == expected


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param([AUTHENTICATE], id="no-forward"),
        pytest.param(
            [{"Type": "forward", "TargetGroupArn": TG_A}, {"Type": "forward", "TargetGroupArn": TG_B}], id="two"
        ),
        pytest.param([{"Type": "forward"}], id="forward-to-nothing"),
        pytest.param([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}], id="fixed-response"),
    ],
)
def test_forward_weights_refuses_rules_that_do_not_forward_exactly_once(actions):
    # Given a rule without exactly one usable forward action
    # When its weights are read
    # Then it is refused with ListenerRulesInvalid, naming the rule
    with pytest.raises(ListenerRulesInvalid) as raised:
        elbv2.forward_weights(actions, "arn:rule/1")
    assert "arn:rule/1" in str(raised.value)


def test_only_target_groups_with_weight_receive_traffic():
    # Given production just swapped: green 100, blue 0
    # Then only green receives traffic
    assert elbv2.receiving({TG_B: 100, TG_A: 0}) == {TG_B}
    assert elbv2.receiving({TG_B: 0, TG_A: 0}) == set()


# --- with_forward_weights --------------------------------------------------------------------
def test_with_forward_weights_replaces_the_target_group_by_a_weighted_forward_config():
    # Given a rule that authenticates, then forwards to A by TargetGroupArn
    actions = [AUTHENTICATE, {"Type": "forward", "Order": 2, "TargetGroupArn": TG_A}]
    original = copy.deepcopy(actions)

    # When production is sent to B
    new = elbv2.with_forward_weights(actions, {TG_B: 100, TG_A: 0})

    # Then the authentication action is unchanged and still first
    assert new[0] == AUTHENTICATE
    # ... and the forward action uses a ForwardConfig with the weights (no TargetGroupArn left), keeping its order
    assert new[1] == {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": TG_B, "Weight": 100}, {"TargetGroupArn": TG_A, "Weight": 0}]
        },
    }
    # ... and the caller's actions (the saved rules) were not modified
    assert actions == original


def test_with_forward_weights_keeps_target_group_stickiness():
    # Given a weighted forward with sticky sessions
    actions = [
        AUTHENTICATE,
        {
            "Type": "forward",
            "Order": 2,
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": TG_A, "Weight": 1}],
                "TargetGroupStickinessConfig": STICKINESS,
            },
        },
    ]

    # When the weights change
    new = elbv2.with_forward_weights(actions, {TG_B: 100, TG_A: 0})

    # Then stickiness and the other action are kept, and reading the weights back gives the new ones
    assert new[0] == AUTHENTICATE
    assert new[1]["ForwardConfig"]["TargetGroupStickinessConfig"] == STICKINESS
    assert elbv2.forward_weights(new) == {TG_B: 100, TG_A: 0}


# --- transient_errors ------------------------------------------------------------------------
def client_error(code: str, status: int, operation: str = "ModifyRule") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "boom"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param("ThrottlingException", 400, id="throttling"),
        pytest.param("Throttling", 400, id="elbv2-throttling"),
        pytest.param("InternalFailure", 500, id="http-500"),
        pytest.param("SomethingUnexpected", 503, id="any-5xx"),
    ],
)
def test_throttling_and_server_errors_become_transient(code, status):
    # Given an AWS call that fails with throttling or a server-side error
    error = client_error(code, status)

    # When it is raised inside transient_errors
    with pytest.raises(TransientAwsError) as raised, transient_errors():
        raise error

    # Then it becomes TransientAwsError (retried by the state machine), naming the operation, chained to the original
    assert type(raised.value).__name__ == "TransientAwsError"
    assert "ModifyRule" in str(raised.value)
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param("AccessDenied", 403, id="access-denied"),
        pytest.param("AccessDeniedException", 400, id="access-denied-exception"),
        pytest.param("ValidationError", 400, id="validation"),
        pytest.param("RuleNotFound", 400, id="not-found"),
    ],
)
def test_client_errors_are_not_transient(code, status):
    # Given an AWS call refused for a reason a retry does not fix
    error = client_error(code, status)

    # When it is raised inside transient_errors
    # Then the original ClientError propagates unchanged
    with pytest.raises(ClientError) as raised, transient_errors():
        raise error
    assert raised.value is error


def test_unreachable_endpoint_is_transient():
    # Given the endpoint cannot be reached
    # When that happens inside transient_errors
    # Then it is a TransientAwsError
    with pytest.raises(TransientAwsError), transient_errors():
        raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")


def test_read_timeout_is_transient():
    # Given a call whose response never arrived (after the SDK's own retries)
    # When that happens inside transient_errors
    # Then it is a TransientAwsError, like any other connection problem
    with pytest.raises(TransientAwsError), transient_errors():
        raise ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com")
