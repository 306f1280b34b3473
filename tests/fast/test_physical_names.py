"""CloudFormation's generated physical names in the emulator, and why no permission may depend on them."""

from __future__ import annotations

from bluegreen_emulator import iam
from bluegreen_emulator.template import LAMBDA_FUNCTION_NAME_MAX, physical_name
from tests.fast.test_iam import ACCOUNT, REGION, authorizer

LONG_STACK = "payments-platform-production-eu-west-1-bluegreen"  # 48 characters


def test_a_short_stack_name_keeps_both_parts_and_gets_a_suffix() -> None:
    name = physical_name("bluegreen", "SlackCallbackFunction")
    stack, logical, suffix = name.split("-")
    assert (stack, logical, len(suffix)) == ("bluegreen", "SlackCallbackFunction", 12)


def test_a_long_stack_name_is_truncated_to_fit_64_characters() -> None:
    # When a function of a long stack is named
    name = physical_name(LONG_STACK, "SlackCallbackFunction")
    # Then the name fits Lambda's limit, the stack part is cut, and it no longer matches <stack>-<LogicalId>*
    assert len(name) <= LAMBDA_FUNCTION_NAME_MAX
    assert name.startswith(LONG_STACK[:20]) and not name.startswith(LONG_STACK)
    assert not iam.wildcard_match(f"{LONG_STACK}-SlackCallbackFunction*", name)


def test_names_are_deterministic_and_distinct_per_function() -> None:
    assert physical_name(LONG_STACK, "SwapFunction") == physical_name(LONG_STACK, "SwapFunction")
    assert physical_name(LONG_STACK, "SwapFunction") != physical_name(LONG_STACK, "BakeFunction")


def test_the_slack_callback_may_invoke_itself_whatever_the_stack_name() -> None:
    # Given the template's policies for a stack with a long name, the function named as CloudFormation would
    name = physical_name(LONG_STACK, "SlackCallbackFunction")
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    checker = authorizer(**{"AWS::StackName": LONG_STACK, "SlackCallbackFunction.Arn": arn})
    # Then its own asynchronous invocation is allowed (the policy names its ARN), another function's is not
    assert checker.allows("SlackCallbackFunction", iam.Request("lambda:InvokeFunction", arn))
    other = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical_name(LONG_STACK, 'SwapFunction')}"
    assert not checker.allows("SlackCallbackFunction", iam.Request("lambda:InvokeFunction", other))
