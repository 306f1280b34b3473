"""``bluegreen deploy`` / ``bluegreen plan`` release options -> one execution-input release shape.

``TAG`` alone is ``imageTag``; ``--image NAME=TAG`` (with or without ``TAG``) is ``images``; ``--task-definition``
is ``taskDefinition`` (a JSON file, or ``family:revision``); any of ``--set-env``, ``--unset-env``, ``--secret``,
``--cpu``, ``--memory``, ``--task-role`` makes ``taskDefinitionOverrides`` (image changes go inside it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bluegreen.domain.limits import STATE_LIMIT, STATE_RESERVE

from .common import UsageError

# The input travels twice in the state data (as given, and as green's definition in Validate's output).
MAX_INLINE_BYTES = (STATE_LIMIT - STATE_RESERVE) // 2


def add_release_arguments(parser: argparse.ArgumentParser, tag_required: bool = False) -> None:
    parser.add_argument(
        "tag", metavar="TAG", nargs=None if tag_required else "?", help="new image tag of the load-balanced container"
    )
    parser.add_argument("--digest", metavar="DIGEST", help="the sha256 digest TAG must resolve to")
    parser.add_argument(
        "--image", action="append", default=[], metavar="NAME=TAG", help="new image (tag or digest) of a container"
    )
    parser.add_argument(
        "--task-definition",
        metavar="FILE|FAMILY:REV",
        help="a whole task definition: a JSON file (register-task-definition --cli-input-json shape, or what "
        "describe-task-definition prints) or a registered family:revision / ARN",
    )
    parser.add_argument(
        "--set-env", action="append", default=[], metavar="CONTAINER:KEY=VALUE", help="set an environment variable"
    )
    parser.add_argument(
        "--unset-env", action="append", default=[], metavar="CONTAINER:KEY", help="remove an environment variable"
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="CONTAINER:NAME=ARN",
        help="add or change a secret by reference (valueFrom: a Secrets Manager or SSM ARN), never its value",
    )
    parser.add_argument("--cpu", metavar="UNITS", help="task CPU units (Fargate: 256, 512, 1024, ...)")
    parser.add_argument("--memory", metavar="MIB", help="task memory in MiB")
    parser.add_argument("--task-role", metavar="ARN", help="task role ARN (within the stack's TaskRoleNamePattern)")


def _pair(text: str, option: str, with_container: bool = True) -> tuple[str, str, str]:
    """``CONTAINER:KEY=VALUE`` -> (container, key, value); ``NAME=TAG`` -> ("", name, tag)."""
    container, key = "", text
    if with_container:
        container, sep, key = text.partition(":")
        if not sep or not container:
            raise UsageError(f"{option} '{text}' must start with CONTAINER:", f"e.g. {option} web:KEY=value")
    name, sep, value = key.partition("=")
    if not sep or not name:
        raise UsageError(f"{option} '{text}' must be {'CONTAINER:' if with_container else ''}NAME=VALUE", "")
    return container, name, value


def read_task_definition(value: str) -> Any:
    """A JSON file's contents, or the ``family:revision`` / ARN string as given."""
    path = Path(value)
    if not path.is_file():
        if value.endswith(".json"):
            raise UsageError(f"no such file {value}", "give a JSON file or a registered family:revision")
        return value
    text = path.read_text()
    if len(text.encode()) > MAX_INLINE_BYTES:
        raise UsageError(
            f"{value} is {len(text.encode()) // 1024} KiB, too large to pass inline (Step Functions keeps at most "
            f"{STATE_LIMIT // 1024} KiB of state data, and the definition travels twice)",
            f"register it first (aws ecs register-task-definition --cli-input-json file://{value}) and pass "
            f"--task-definition FAMILY:REVISION",
        )
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"{value} is not valid JSON: {error}", "fix the file") from error


def release_input(args: argparse.Namespace, container_name: str) -> dict[str, Any]:
    """The release part of the execution input (exactly one shape), from the command's options."""
    images = {}
    for text in args.image:
        _, name, ref = _pair(text, "--image", with_container=False)
        images[name] = ref
    if args.tag:
        if container_name in images:
            raise UsageError(f"TAG and --image {container_name}=... both set the image of {container_name}", "")
        images = {container_name: args.tag, **images}
    overrides: dict[str, Any] = {}
    containers: dict[str, dict[str, Any]] = {}
    for text in args.set_env:
        container, key, value = _pair(text, "--set-env")
        containers.setdefault(container, {}).setdefault("environment", {})[key] = value
    for text in args.unset_env:
        container, sep, key = text.partition(":")
        if not sep or not container or not key:
            raise UsageError(f"--unset-env '{text}' must be CONTAINER:KEY", "")
        containers.setdefault(container, {}).setdefault("removeEnvironment", []).append(key)
    for text in args.secret:
        container, key, value = _pair(text, "--secret")
        containers.setdefault(container, {}).setdefault("secrets", {})[key] = value
    for name, value in (("cpu", args.cpu), ("memory", args.memory), ("taskRoleArn", args.task_role)):
        if value is not None:
            overrides[name] = value
    if args.task_definition:
        if images or containers or overrides:
            raise UsageError(
                "--task-definition describes the whole release: it cannot be combined with TAG, --image or overrides",
                "edit the task definition instead, or deploy the changes separately",
            )
        return {"taskDefinition": read_task_definition(args.task_definition)}
    if args.digest and (set(images) != {container_name} or containers or overrides or not args.tag):
        raise UsageError("--digest goes with TAG alone", "use --image NAME=sha256:... to deploy by digest")
    if containers or overrides:
        for name, ref in images.items():
            containers.setdefault(name, {})["image"] = ref
        if containers:
            overrides["containers"] = containers
        return {"taskDefinitionOverrides": overrides}
    if set(images) == {container_name} and args.tag:
        return {"imageTag": args.tag, **({"imageDigest": args.digest} if args.digest else {})}
    if images:
        return {"images": images}
    raise UsageError(
        "nothing to deploy", "give TAG, --image NAME=TAG, --task-definition FILE|FAMILY:REV, or --set-env/--cpu/..."
    )


def label(release: dict[str, Any]) -> str:
    """A short name for the execution: the tag, or the kind of release."""
    if "imageTag" in release:
        return str(release["imageTag"])
    if "images" in release:
        return "-".join(f"{k}-{v}" for k, v in release["images"].items())[:40]
    if "taskDefinition" in release:
        value = release["taskDefinition"]
        if isinstance(value, str):
            return value.rsplit("/", 1)[-1]
        family = value.get("family") or (value.get("taskDefinition") or {}).get("family") or "taskdef"
        return f"{family}-inline"
    return "config"
