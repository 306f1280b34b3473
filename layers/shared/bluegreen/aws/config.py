"""Service configuration documents, stored as JSON in SSM Parameter Store.

One parameter per service: ``{CONFIG_PREFIX}/{service}`` (default prefix
``/bluegreen/services``). Read through Powertools parameters, cached for
``CONFIG_MAX_AGE`` seconds in a warm Lambda. The two readers below are the one place that
read SSM and translate its errors (one service here, all of them in :mod:`bluegreen.trigger`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from bluegreen.aws.clients import is_transient
from bluegreen.domain.errors import InvalidServiceConfig, TransientAwsError, UnknownService
from bluegreen.domain.settings import DEFAULT_CONFIG_PREFIX, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    from bluegreen.domain.models import ServiceConfig


def _get_parameter_error() -> type[Exception]:
    """Powertools' read error, imported when a parameter is read: its package loads every provider."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    return GetParameterError


DEFAULT_PREFIX = DEFAULT_CONFIG_PREFIX


def config_prefix() -> str:
    return get_settings().configPrefix


@contextlib.contextmanager
def ssm_errors(name: str) -> Iterator[None]:
    """Throttling and 5xx reading ``name`` become :class:`TransientAwsError` (the state machine retries)."""
    try:
        yield
    except _get_parameter_error() as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, ClientError) and is_transient(cause):
            raise TransientAwsError(f"Reading {name} failed transiently: {cause}") from error
        raise


def read_parameter(provider: SSMProvider, name: str, max_age: int | None = None) -> str:
    """One parameter's text, cached ``max_age`` seconds (default ``CONFIG_MAX_AGE``)."""
    with ssm_errors(name):
        return cast(str, provider.get(name, max_age=_max_age(max_age), decrypt=True))


def read_parameters(provider: SSMProvider, path: str, max_age: int | None = None) -> dict[str, Any]:
    """Every parameter under ``path`` as JSON (``None`` where not JSON), by name relative to the path."""
    with ssm_errors(path):
        return provider.get_multiple(path, max_age=_max_age(max_age), transform="json", decrypt=True)


def _max_age(max_age: int | None) -> int:
    return get_settings().configMaxAge if max_age is None else max_age


def parameter_name(service: str, prefix: str | None = None) -> str:
    return f"{prefix or config_prefix()}/{service}"


def load_service_config(service: str, provider: SSMProvider, max_age: int | None = None) -> ServiceConfig:
    # The models, imported by the reader that needs them: the names above serve `bluegreen status`.
    from pydantic import ValidationError

    from bluegreen.domain import analysis, hooks
    from bluegreen.domain.models import ServiceConfig

    name = parameter_name(service)
    try:
        raw = read_parameter(provider, name, max_age)
    except _get_parameter_error() as error:
        if "ParameterNotFound" in str(error):
            raise UnknownService(
                f"No configuration for service '{service}': SSM parameter {name} does not exist. "
                f"Create it (see README, 'Service configuration') or check the service name."
            ) from error
        raise
    try:
        return ServiceConfig.model_validate(json.loads(raw))
    except ValidationError as error:
        hooks.refuse_invalid(error, f"SSM parameter {name}")  # A distinct name for bad hooks
        analysis.refuse_invalid(error, f"SSM parameter {name}")  # And for bad analysis thresholds
        raise InvalidServiceConfig(f"SSM parameter {name} is not a valid service configuration: {error}") from error
    except ValueError as error:
        raise InvalidServiceConfig(f"SSM parameter {name} is not a valid service configuration: {error}") from error
