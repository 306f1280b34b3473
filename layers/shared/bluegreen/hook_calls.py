"""Issue 13: the AWS calls of the hooks (thin helpers; the verdicts are in :mod:`bluegreen.hooks`)."""

from __future__ import annotations

import functools
import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .aws import BOTO_CONFIG, error_code, is_transient
from .errors import HookFunctionNotFound, TransientAwsError
from .hooks import HooksConfig


@functools.cache
def get_lambda_client() -> Any:
    return boto3.session.Session().client("lambda", config=BOTO_CONFIG)


def invoke(client: Any, function_arn: str, payload: dict[str, Any]) -> tuple[bytes, str | None]:
    """Invoke synchronously: ``(response payload, FunctionError or None)``; an API refusal is a function error."""
    try:
        response = client.invoke(FunctionName=function_arn, Payload=json.dumps(payload).encode())
    except ClientError as error:
        if is_transient(error):
            raise TransientAwsError(f"Invoking hook {function_arn} failed transiently: {error}") from error
        return str(error).encode(), error_code(error)
    return response["Payload"].read(), response.get("FunctionError")


def check_functions(client: Any, hooks: HooksConfig) -> None:
    """Every hook function exists (GetFunctionConfiguration, which the stack may call on that pattern)."""
    for arn in sorted({hook.functionArn for hook in hooks.all()}):
        try:
            client.get_function_configuration(FunctionName=arn)
        except ClientError as error:
            if is_transient(error):
                raise TransientAwsError(f"Looking up hook function {arn} failed transiently: {error}") from error
            raise HookFunctionNotFound(
                f"Hook function {arn} cannot be found ({error_code(error)}). Deploy it, or fix functionArn in "
                f"the service configuration's hooks."
            ) from error
