"""boto3 clients, created once per process, and translation of transient AWS errors."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from .errors import TransientAwsError

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


class AwsClients:
    """The AWS clients of a process, each created on first use.

    boto3 loads a service's model (JSON) for every client it creates: a function that calls two services
    creates two clients at its first invocation, not seven (cold start, #16). The first use of each is
    serialised: a boto3 session is not thread safe (the emulator runs functions in threads); clients are.
    """

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}

    @classmethod
    def create(cls, session: boto3.session.Session | None = None) -> AwsClients:
        return cls(session)

    def _get(self, name: str, make: Callable[[boto3.session.Session], Any]) -> Any:
        made = self._made.get(name)
        if made is None:
            with self._lock:
                made = self._made.get(name)
                if made is None:
                    self._session = self._session or boto3.session.Session()
                    made = self._made[name] = make(self._session)
        return made

    @property
    def ecs(self) -> ECSClient:
        return cast("ECSClient", self._get("ecs", lambda s: s.client("ecs", config=BOTO_CONFIG)))

    @property
    def elbv2(self) -> ElasticLoadBalancingv2Client:
        client = self._get("elbv2", lambda s: s.client("elbv2", config=BOTO_CONFIG))
        return cast("ElasticLoadBalancingv2Client", client)

    @property
    def ecr(self) -> ECRClient:
        return cast("ECRClient", self._get("ecr", lambda s: s.client("ecr", config=BOTO_CONFIG)))

    @property
    def cloudwatch(self) -> CloudWatchClient:
        return cast("CloudWatchClient", self._get("cloudwatch", lambda s: s.client("cloudwatch", config=BOTO_CONFIG)))

    @property
    def ssm(self) -> SSMClient:
        return cast("SSMClient", self._get("ssm", lambda s: s.client("ssm", config=BOTO_CONFIG)))

    @property
    def sfn(self) -> SFNClient:
        return cast("SFNClient", self._get("sfn", lambda s: s.client("stepfunctions", config=BOTO_CONFIG)))

    @property
    def dynamodb(self) -> DynamoDBServiceResource:
        resource = self._get("dynamodb", lambda s: s.resource("dynamodb", config=BOTO_CONFIG))
        return cast("DynamoDBServiceResource", resource)


@functools.cache
def get_clients() -> AwsClients:
    """Clients shared by every invocation of a warm Lambda container."""
    return AwsClients.create()


@functools.cache
def get_ssm_provider() -> SSMProvider:
    """Powertools SSM provider (with its cache) over the shared SSM client."""
    # Imported here: the parameters package loads every provider (DynamoDB, AppConfig...), and most
    # handlers read no parameter (cold start, #16).
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=get_clients().ssm)


@functools.cache
def lambda_client() -> Any:
    """Lambda client (issue 12: the Slack callback invokes itself asynchronously for the slow Slack calls)."""
    return boto3.session.Session().client("lambda", config=BOTO_CONFIG)
