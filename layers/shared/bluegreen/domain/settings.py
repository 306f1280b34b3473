"""The functions' environment, read and validated in one place.

Every environment variable the shared package reads is a field here (the template sets them in
``Globals``; ``STATE_MACHINE_ARN`` only for the ECR trigger and the Slack callback). Handlers call
:func:`require` at cold start, so a missing or malformed variable fails the first invocation with an
error naming it instead of a ``KeyError`` somewhere later. :func:`get_settings` is cached per distinct environment: one
parse in a Lambda container, and always current where tests or the emulator change the environment.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG_PREFIX = "/bluegreen/services"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(ValueError):
    """An environment variable is missing or malformed (a deployment problem: fix the function's configuration)."""


class Settings(BaseModel):
    """The environment of the functions; field aliases are the variable names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    tableName: str = Field("", alias="TABLE_NAME")  # the deployments table
    configPrefix: str = Field(DEFAULT_CONFIG_PREFIX, alias="CONFIG_PREFIX")  # SSM path of service configurations
    configMaxAge: int = Field(60, ge=0, alias="CONFIG_MAX_AGE")  # seconds a configuration read is cached
    slackSecretName: str = Field("", alias="SLACK_SECRET_NAME")  # empty: no Slack
    slackApiUrl: str = Field("", alias="SLACK_API_URL")  # empty: Slack's own Web API
    slackRetryInterval: float | None = Field(None, ge=0, alias="SLACK_RETRY_INTERVAL")  # fixed retry pause (s)
    defaultApprovers: tuple[str, ...] = Field((), alias="DEFAULT_APPROVERS")  # comma-separated Slack user ids
    taskRoleNamePattern: str = Field("*", alias="TASK_ROLE_NAME_PATTERN")  # roles a release may pass
    stateMachineArn: str = Field("", alias="STATE_MACHINE_ARN")  # the ECR trigger (and Slack) start executions
    eventBusName: str = Field("", alias="EVENT_BUS_NAME")  # Deployment events' bus; empty: none
    hookFunctionArnPattern: str = Field("", alias="HOOK_FUNCTION_ARN_PATTERN")  # Hooks it may invoke
    probeFunctionName: str = Field("", alias="PROBE_FUNCTION_NAME")  # RunHooks invokes it for http hooks
    probeProxyUrl: str = Field("", alias="PROBE_PROXY_URL")  # The probe's HTTP proxy; empty: direct
    # Load balancers whose routes the stack may change (comma-separated; empty or "*": any; "-": none)
    loadBalancerNames: tuple[str, ...] = Field((), alias="LOAD_BALANCER_NAMES")

    @field_validator("configPrefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return value.rstrip("/") or DEFAULT_CONFIG_PREFIX

    @field_validator("loadBalancerNames", mode="before")
    @classmethod
    def _balancers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip() and item.strip() != "-")
        return value

    @field_validator("defaultApprovers", mode="before")
    @classmethod
    def _approvers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @property
    def slack_api_url(self) -> str:
        return self.slackApiUrl or DEFAULT_SLACK_API_URL

    def require(self, *names: str) -> Settings:
        """``self`` if every variable in ``names`` is set; else :class:`SettingsError` naming the missing ones."""
        fields = {field.alias: name for name, field in type(self).model_fields.items()}
        unknown = [name for name in names if name not in fields]
        if unknown:
            raise SettingsError(f"Not a setting: {', '.join(unknown)}")
        missing = [name for name in names if not getattr(self, fields[name])]
        if missing:
            raise SettingsError(
                f"Environment variable {', '.join(missing)} is not set; the stack's template sets it "
                f"(template.yaml, Globals / the function's Environment). Redeploy the stack or set it."
            )
        return self


VARIABLES = tuple(field.alias for field in Settings.model_fields.values() if field.alias)


@functools.lru_cache(maxsize=8)
def _parse(values: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings.model_validate(dict(values))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}={dict(values).get(str(problem['loc'][0]))!r}: "
            f"{problem['msg']}"
            for problem in error.errors()
        )
        raise SettingsError(f"Invalid environment: {problems}") from None


def get_settings() -> Settings:
    """The settings of the current environment (parsed once per distinct environment)."""
    return _parse(tuple((name, os.environ[name]) for name in VARIABLES if name in os.environ))


def require(*names: str) -> Settings:
    """At a handler's cold start: the settings, with ``names`` required (see :meth:`Settings.require`)."""
    return get_settings().require(*names)
