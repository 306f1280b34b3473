"""The shapes a release takes in the execution input; no dependency on :mod:`bluegreen.domain.models`.

A release is described in exactly one of four ways:

* ``imageTag`` (+ optional ``imageDigest``): a new image for the load-balanced container;
* ``images``: container name -> tag or ``sha256:`` digest, several containers at once;
* ``taskDefinition``: a whole task definition, inline (the ``register-task-definition --cli-input-json``
  shape, or what ``describe-task-definition`` prints) or registered (``family:revision`` or its ARN);
* ``taskDefinitionOverrides``: a small patch on the serving task definition.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IMAGE_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$")
# A secret's valueFrom in an override: the ARN of a Secrets Manager secret or an SSM parameter. (ECS also takes
# a bare parameter name, but a bare word cannot be told apart from a pasted secret value: overrides want the ARN.)
VALUE_FROM = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:[A-Za-z0-9:/_+=.@,-]+$")
# A registered task definition: family:revision or its ARN (a bare family would mean "latest": refused).
REGISTERED = re.compile(
    r"^([A-Za-z0-9_-]{1,255}:[1-9][0-9]*|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/.+:\d+)$"
)

RELEASE_FIELDS = ("imageTag", "images", "taskDefinition", "taskDefinitionOverrides")
ReleaseKind = Literal["imageTag", "images", "taskDefinition", "taskDefinitionOverrides"]


def check_image_ref(value: str) -> str:
    """A tag (``v1.2``) or a digest (``sha256:...``)."""
    if not (IMAGE_TAG.match(value) or IMAGE_DIGEST.match(value)):
        raise ValueError(f"'{value}' is neither an image tag nor a sha256 digest")
    return value


class ContainerOverrides(BaseModel):
    """Changes to one container of the serving task definition."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    image: str | None = None  # tag or digest in the container's configured repository
    environment: dict[str, str] = Field(default_factory=dict)  # set (added or changed)
    removeEnvironment: list[str] = Field(default_factory=list)
    secrets: dict[str, str] = Field(default_factory=dict)  # name -> valueFrom (ARN or parameter name), never a value
    removeSecrets: list[str] = Field(default_factory=list)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image_ref(value)

    @field_validator("environment")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not ENV_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid environment variable name")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for key, source in value.items():
            if not ENV_NAME.match(key):
                raise ValueError(f"'{key}' is not a valid secret name")
            if not VALUE_FROM.match(source):
                raise ValueError(
                    f"secret '{key}' must be the ARN of a Secrets Manager secret or an SSM parameter (valueFrom), "
                    f"never the secret's value"
                )
        return value


class TaskDefinitionOverrides(BaseModel):
    """A patch on the serving task definition: per-container changes, task size and roles."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    containers: dict[str, ContainerOverrides] = Field(default_factory=dict)
    cpu: str | None = None
    memory: str | None = None
    taskRoleArn: str | None = None
    executionRoleArn: str | None = None

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not re.fullmatch(r"\d{2,6}", value):
            raise ValueError("must be a number of CPU units or MiB, e.g. 512")
        return value

    @field_validator("containers")
    @classmethod
    def _names(cls, value: dict[str, ContainerOverrides]) -> dict[str, ContainerOverrides]:
        for name in value:
            if not CONTAINER_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid container name")
        return value

    def is_empty(self) -> bool:
        return not self.containers and not any((self.cpu, self.memory, self.taskRoleArn, self.executionRoleArn))


def check_images(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("must name at least one container")
    for name, ref in value.items():
        if not CONTAINER_NAME.match(name):
            raise ValueError(f"'{name}' is not a valid container name")
        check_image_ref(ref)
    return value
