"""Patches of moto internals where moto is more lenient than AWS (each says which gap it fills)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from moto.ecs.exceptions import EcsClientException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.stepfunctions.exceptions import AWSError
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from bluegreen.release import FARGATE_SIZES, STATE_LIMIT, TAG_LIMIT


# --- issue 10 (h10a): whole releases: task definitions registered as AWS would accept them ----------
@contextlib.contextmanager
def task_definition_rules() -> Iterator[None]:
    """RegisterTaskDefinition refuses what AWS refuses: Fargate sizes outside the table, bad tags."""
    original = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self: Any, family: str, container_definitions: Any, *args: Any, **kwargs: Any) -> Any:
        # moto gap: moto registers any cpu/memory pair. AWS refuses a definition that requires FARGATE unless
        # task-level cpu and memory form a row of the Fargate task size table ("Invalid 'cpu' setting for task";
        # ECS developer guide, "Troubleshoot Amazon ECS task definition invalid CPU or memory errors").
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            cpu, memory = kwargs.get("cpu"), kwargs.get("memory")
            try:
                valid = int(str(memory)) in FARGATE_SIZES.get(int(str(cpu)), set())
            except ValueError:
                valid = False
            if not valid:
                raise EcsClientException("No Fargate configuration exists for given values.")
        # moto gap: moto accepts any tags. AWS allows at most 50 per resource and reserves the aws: prefix
        # ("Tagging your Amazon ECS resources", tag restrictions).
        tags = kwargs.get("tags") or []
        if len(tags) > TAG_LIMIT:
            raise InvalidParameterException(f"Too many tags: at most {TAG_LIMIT} per resource.")
        if any(str(tag.get("key", "")).lower().startswith("aws:") for tag in tags):
            raise InvalidParameterException("Tag keys with the aws: prefix are reserved for AWS use.")
        return original(self, family, container_definitions, *args, **kwargs)

    original_start = StepFunctionsParserBackend.start_execution

    # moto gap: moto starts an execution with any input. AWS's StartExecution takes at most 262,144 bytes
    # (UTF-8) of input (API reference, StartExecution, "input": length constraints) and refuses more with a
    # ValidationException, so an oversized inline task definition never starts an execution.
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, *args: Any):
        if execution_input is not None and len(str(execution_input).encode()) > STATE_LIMIT:
            raise AWSError(
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {STATE_LIMIT}",
                "ValidationException",
            )
        return original_start(self, state_machine_arn, name, execution_input, *args)

    EC2ContainerServiceBackend.register_task_definition = register_task_definition
    StepFunctionsParserBackend.start_execution = start_execution
    try:
        yield
    finally:
        EC2ContainerServiceBackend.register_task_definition = original
        StepFunctionsParserBackend.start_execution = original_start
