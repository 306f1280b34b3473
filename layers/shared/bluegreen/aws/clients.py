"""boto3 clients, created once per process, and translation of transient AWS errors."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bluegreen.domain.errors import TransientAwsError

if TYPE_CHECKING:  # the boto3 stubs are a dev dependency (make test runs mypy); Lambda does not need them
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# Standard mode retries throttling and 5xx with backoff inside the SDK; what still
# fails after that is raised as TransientAwsError and retried by the state machine.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4})

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "SlowDown",
    }
)


def is_transient(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in TRANSIENT_CODES or status >= 500


@contextlib.contextmanager
def transient_errors() -> Iterator[None]:
    """Re-raise throttling, 5xx and connection errors as :class:`TransientAwsError`."""
    try:
        yield
    except ClientError as error:
        if is_transient(error):
            operation = getattr(error, "operation_name", "AWS call")
            raise TransientAwsError(f"{operation} failed transiently: {error}") from error
        raise
    except (ConnectionError, EndpointConnectionError, ReadTimeoutError, ConnectionClosedError) as error:
        raise TransientAwsError(f"AWS endpoint unreachable: {error}") from error


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


@dataclass(frozen=True)
class AwsClients:
    ecs: ECSClient
    elbv2: ElasticLoadBalancingv2Client
    ecr: ECRClient
    cloudwatch: CloudWatchClient
    ssm: SSMClient
    sfn: SFNClient
    dynamodb: DynamoDBServiceResource

    @classmethod
    def create(cls, session: boto3.session.Session | None = None) -> AwsClients:
        session = session or boto3.session.Session()
        make = functools.partial(session.client, config=BOTO_CONFIG)
        return cls(
            ecs=make("ecs"),
            elbv2=make("elbv2"),
            ecr=make("ecr"),
            cloudwatch=make("cloudwatch"),
            ssm=make("ssm"),
            sfn=make("stepfunctions"),
            dynamodb=session.resource("dynamodb", config=BOTO_CONFIG),
        )


@functools.cache
def get_clients() -> AwsClients:
    """Clients shared by every invocation of a warm Lambda container."""
    return AwsClients.create()


@functools.cache
def get_ssm_provider() -> SSMProvider:
    """Powertools SSM provider (with its cache) over the shared SSM client."""
    # Imported here: the parameters package loads every provider (DynamoDB, AppConfig...), and most
    # handlers read no parameter (cold start).
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=get_clients().ssm)


@functools.cache
def lambda_client() -> Any:
    """Lambda client (the Slack callback invokes itself asynchronously for the slow Slack calls)."""
    return boto3.session.Session().client("lambda", config=BOTO_CONFIG)
