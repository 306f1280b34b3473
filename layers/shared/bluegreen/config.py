"""Service configuration documents, stored as JSON in SSM Parameter Store.

One parameter per service: ``{CONFIG_PREFIX}/{service}`` (default prefix
``/bluegreen/services``). Read through Powertools parameters, cached for
``CONFIG_MAX_AGE`` seconds in a warm Lambda.
"""

from __future__ import annotations

import json
import os

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from pydantic import ValidationError

from .aws import is_transient
from .errors import InvalidServiceConfig, TransientAwsError, UnknownService
from .models import ServiceConfig

DEFAULT_PREFIX = "/bluegreen/services"


def config_prefix() -> str:
    return os.environ.get("CONFIG_PREFIX", DEFAULT_PREFIX).rstrip("/")


def parameter_name(service: str, prefix: str | None = None) -> str:
    return f"{prefix or config_prefix()}/{service}"


def load_service_config(service: str, provider: SSMProvider, max_age: int | None = None) -> ServiceConfig:
    name = parameter_name(service)
    if max_age is None:
        max_age = int(os.environ.get("CONFIG_MAX_AGE", "60"))
    try:
        raw = provider.get(name, max_age=max_age, decrypt=True)
    except GetParameterError as error:
        cause = error.__cause__ or error.__context__
        if isinstance(cause, ClientError) and is_transient(cause):
            raise TransientAwsError(f"Reading {name} failed transiently: {cause}") from error
        if "ParameterNotFound" in str(error):
            raise UnknownService(
                f"No configuration for service '{service}': SSM parameter {name} does not exist. "
                f"Create it (see README, 'Service configuration') or check the service name."
            ) from error
        raise
    try:
        return ServiceConfig.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        raise InvalidServiceConfig(f"SSM parameter {name} is not a valid service configuration: {error}") from error
