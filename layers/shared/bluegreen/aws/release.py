"""Whole releases: from the execution input and blue's task definition to green's task definition.

Pure functions decide (which way the release is described, the new definition, every refusal); the only AWS
calls are ECR and ECS reads in :class:`Registry`, passed in by Validate and by ``bluegreen plan``. Nothing here
registers or changes anything: CreateGreen registers the definition Validate computed.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code, transient_errors
from bluegreen.aws.ecs import REGISTER_FIELDS, desired_count
from bluegreen.domain.errors import (
    AmbiguousRelease,
    DigestMismatch,
    ImageNotFound,
    IncompatibleTaskDefinition,
    InvalidInput,
    InvalidServiceConfig,
    InvalidTaskDefinition,
    InvalidTaskSize,
    LoadBalancedContainerMissing,
    MutableTagRefused,
    RoleNotAllowed,
    TaskDefinitionNotFound,
    TaskDefinitionTooLarge,
    UnknownContainer,
    UnpinnedImage,
)
from bluegreen.domain.limits import STATE_LIMIT, STATE_RESERVE
from bluegreen.domain.plan import Plan, build_plan, routes
from bluegreen.domain.release_models import IMAGE_DIGEST, REGISTERED, RELEASE_FIELDS, TaskDefinitionOverrides

# Fields only DescribeTaskDefinition returns: accepted in an inline definition (CI renderers copy them) and dropped.
DESCRIBE_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)
FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?)/(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
TAG_LIMIT = 50  # tags per resource; aws:-prefixed tags are AWS's and cannot be set
# Fargate task sizes (CPU units -> allowed memory MiB), from the AWS Fargate task size table.
FARGATE_SIZES: dict[int, set[int]] = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


# --- which way the release is described --------------------------------------------------------------------
def release_kind(raw: dict[str, Any]) -> str:
    """The one field describing the release; several, or none, is an input error."""
    present = [name for name in RELEASE_FIELDS if raw.get(name) is not None]
    if len(present) > 1:
        raise AmbiguousRelease(
            f"The input describes the release in {len(present)} ways ({', '.join(present)}); give exactly one: "
            f"imageTag (one image), images (several containers), taskDefinition (a whole definition) or "
            f"taskDefinitionOverrides (a patch). Put image changes inside taskDefinitionOverrides.containers "
            f"to combine them with other changes."
        )
    if not present:
        raise InvalidInput(
            "The input does not say what to deploy: give imageTag, images, taskDefinition or "
            "taskDefinitionOverrides (see events/execution-input.schema.json)."
        )
    if raw.get("imageDigest") is not None and present[0] != "imageTag":
        raise AmbiguousRelease(
            f"imageDigest goes with imageTag only; with {present[0]}, give digests in place of tags "
            f"(e.g. images: {{container: 'sha256:...'}})."
        )
    return present[0]


# --- task definition shapes ----------------------------------------------------------------------------------
def register_shape(definition: dict[str, Any]) -> dict[str, Any]:
    """The RegisterTaskDefinition arguments of a described (or register-shaped) definition, without tags."""
    return copy.deepcopy({key: definition[key] for key in REGISTER_FIELDS if definition.get(key) not in (None, [], {})})


def _tags(raw: Any) -> dict[str, str]:
    if not isinstance(raw, list):
        return {}
    return {str(t["key"]): str(t.get("value", "")) for t in raw if isinstance(t, dict) and "key" in t}


def parse_inline(value: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """An inline task definition: ``(register arguments, tags)``; accepts what describe-task-definition prints."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise InvalidTaskDefinition(
                f"taskDefinition is not valid JSON ({error}). Give a JSON object in the shape "
                f"'aws ecs register-task-definition --cli-input-json' takes, or 'family:revision'."
            ) from error
    if not isinstance(value, dict):
        raise InvalidTaskDefinition("taskDefinition must be a JSON object (a task definition) or 'family:revision'.")
    tags = _tags(value.get("tags"))
    if isinstance(value.get("taskDefinition"), dict):  # describe-task-definition output
        value = value["taskDefinition"]
        tags = tags or _tags(value.get("tags"))
    unknown = sorted(set(value) - set(REGISTER_FIELDS) - set(DESCRIBE_ONLY) - {"tags"})
    if unknown:
        raise InvalidTaskDefinition(
            f"taskDefinition has fields a task definition does not have: {', '.join(unknown)}. "
            f"Give the shape 'aws ecs register-task-definition --cli-input-json' takes."
        )
    family = value.get("family")
    if not isinstance(family, str) or not FAMILY.match(family):
        raise InvalidTaskDefinition("taskDefinition needs a 'family' (letters, digits, '-' and '_', up to 255).")
    containers = value.get("containerDefinitions")
    if not isinstance(containers, list) or not containers:
        raise InvalidTaskDefinition("taskDefinition needs a non-empty 'containerDefinitions' list.")
    names = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not isinstance(container.get("name"), str):
            raise InvalidTaskDefinition(f"containerDefinitions[{index}] needs a 'name'.")
        if not isinstance(container.get("image"), str) or not container["image"]:
            raise InvalidTaskDefinition(f"Container '{container['name']}' needs an 'image'.")
        names.append(container["name"])
    if len(set(names)) != len(names):
        raise InvalidTaskDefinition(f"Container names must be unique; got {', '.join(names)}.")
    return register_shape(value), tags


def registered_reference(value: str) -> str:
    if value.lstrip().startswith("{"):
        parse_inline(value)  # raises InvalidTaskDefinition with the JSON error
    if not REGISTERED.match(value):
        raise InvalidTaskDefinition(
            f"taskDefinition '{value[:200]}' is neither a JSON task definition nor 'family:revision' or a "
            f"task-definition ARN. Name a revision (e.g. 'web:42'): a bare family would deploy whatever is latest."
        )
    return value


def container(definition: dict[str, Any], name: str, what: str) -> dict[str, Any]:
    for candidate in definition["containerDefinitions"]:
        if candidate["name"] == name:
            return candidate
    names = ", ".join(c["name"] for c in definition["containerDefinitions"])
    raise UnknownContainer(f"{what} names container '{name}', but the task definition has only: {names}.")


def image_reference(uri: str, ref: str) -> str:
    """``repo-uri:tag`` or ``repo-uri@sha256:...`` for a tag-or-digest."""
    return f"{uri}@{ref}" if IMAGE_DIGEST.match(ref) else f"{uri}:{ref}"


def _set_pairs(items: list[dict[str, Any]] | None, key_field: str, updates: dict[str, str], value_field: str) -> list:
    pairs = {str(item[key_field]): item for item in items or []}
    for key, value in updates.items():
        pairs[key] = {key_field: key, value_field: value}
    return list(pairs.values())


def apply_overrides(definition: dict[str, Any], overrides: TaskDefinitionOverrides, image_of: Any) -> dict[str, Any]:
    """``definition`` with the patch applied; ``image_of(container, ref)`` gives the image reference."""
    result = copy.deepcopy(definition)
    for name, change in overrides.containers.items():
        target = container(result, name, "taskDefinitionOverrides")
        if change.image:
            target["image"] = image_of(name, change.image)
        env_names = {e.get("name") for e in target.get("environment") or []}
        missing = [key for key in change.removeEnvironment if key not in env_names]
        if missing:
            raise UnknownContainer(
                f"Container '{name}' has no environment variable {', '.join(missing)} to remove. Check the name "
                f"(bluegreen plan shows the current ones)."
            )
        environment = [e for e in target.get("environment") or [] if e.get("name") not in change.removeEnvironment]
        environment = _set_pairs(environment, "name", change.environment, "value")
        if environment or "environment" in target:
            target["environment"] = environment
        secret_names = {s.get("name") for s in target.get("secrets") or []}
        missing = [key for key in change.removeSecrets if key not in secret_names]
        if missing:
            raise UnknownContainer(f"Container '{name}' has no secret {', '.join(missing)} to remove.")
        secrets = [s for s in target.get("secrets") or [] if s.get("name") not in change.removeSecrets]
        secrets = _set_pairs(secrets, "name", change.secrets, "valueFrom")
        if secrets or "secrets" in target:
            target["secrets"] = secrets
    for name in ("cpu", "memory", "taskRoleArn", "executionRoleArn"):
        value = getattr(overrides, name)
        if value is not None:
            result[name] = value
    return result


# --- checks on the new definition (pure) -----------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchTarget:
    """Where green's tasks run: from the serving task set (or, first deployment, the configured network)."""

    fargate: bool
    awsvpc: bool
    label: str
    launch_type: str | None = None

    @classmethod
    def of(cls, task_set: dict[str, Any]) -> LaunchTarget:
        providers = [s.get("capacityProvider", "") for s in task_set.get("capacityProviderStrategy") or []]
        awsvpc = bool((task_set.get("networkConfiguration") or {}).get("awsvpcConfiguration"))
        if providers:
            fargate = all(p in FARGATE_PROVIDERS for p in providers)
            return cls(fargate, awsvpc, f"capacity providers {', '.join(providers)}")
        launch_type = task_set.get("launchType") or "EC2"
        return cls(launch_type == "FARGATE", awsvpc, f"launch type {launch_type}", launch_type)


def load_balanced_port(definition: dict[str, Any], name: str, port: int | None) -> None:
    try:
        target = container(definition, name, "The service configuration's containerName")
    except UnknownContainer as error:
        raise LoadBalancedContainerMissing(
            f"The new task definition has no container '{name}', the one the load balancer sends traffic to "
            f"('containerName' in the service configuration). Keep that container, or change the configuration "
            f"and the target groups first. ({error.message})"
        ) from error
    ports = [p.get("containerPort") for p in target.get("portMappings") or []]
    if port is not None and port not in ports:
        raise LoadBalancedContainerMissing(
            f"Container '{name}' in the new task definition does not expose port {port} (it exposes "
            f"{', '.join(map(str, ports)) or 'no port'}); the load balancer forwards to {name}:{port}. Add the "
            f"port mapping."
        )


def role_name(arn: str) -> tuple[str | None, str]:
    """``(account or None, role path/name)`` of a role ARN or bare name."""
    if arn.startswith("arn:"):
        parts = arn.split(":", 5)
        resource = parts[5] if len(parts) == 6 else ""
        return (parts[4] or None), resource.removeprefix("role/")
    return None, arn


def check_roles(definition: dict[str, Any], pattern: str, account: str | None) -> None:
    """Roles must fall inside the stack's pass-role scope: ``arn:...:iam::ACCOUNT:role/<pattern>``."""
    for key in ("taskRoleArn", "executionRoleArn"):
        arn = definition.get(key)
        if not arn:
            continue
        role_account, name = role_name(str(arn))
        same_account = role_account is None or account is None or role_account == account
        if not same_account or not fnmatch.fnmatchcase(name, pattern):
            raise RoleNotAllowed(
                f"{key} {arn} is outside the roles this stack may pass to ECS (role/{pattern} in account "
                f"{account or 'of the stack'}; template parameter TaskRoleNamePattern). Use a role that matches, "
                f"or widen TaskRoleNamePattern and update the stack."
            )


def units(value: Any, unit: str) -> int | None:
    """CPU units or MiB from ``512``, ``"512"``, ``"1 vCPU"``, ``"0.5 vcpu"``, ``"2 GB"``."""
    if value is None:
        return None
    text = str(value).strip().lower().replace(" ", "")
    scale = 1024 if text.endswith(("vcpu", "gb")) else 1
    number = text.removesuffix("vcpu").removesuffix("gb").removesuffix("mib").removesuffix("mb")
    try:
        return int(float(number) * scale)
    except ValueError as error:
        raise InvalidTaskSize(f"{unit} '{value}' is not a number.") from error


def check_task_size(definition: dict[str, Any], fargate: bool) -> None:
    if not fargate and "FARGATE" not in (definition.get("requiresCompatibilities") or []):
        return
    cpu, memory = units(definition.get("cpu"), "cpu"), units(definition.get("memory"), "memory")
    if cpu is None or memory is None:
        raise InvalidTaskSize("Fargate needs task-level 'cpu' and 'memory' in the task definition; set both.")
    if memory not in FARGATE_SIZES.get(cpu, set()):
        allowed = FARGATE_SIZES.get(cpu)
        hint = (
            f"with cpu {cpu}, memory must be one of {_ranges(sorted(allowed))}"
            if allowed
            else f"cpu must be one of {', '.join(map(str, FARGATE_SIZES))}"
        )
        raise InvalidTaskSize(f"Fargate does not offer cpu {cpu} with memory {memory} MiB: {hint} (MiB).")
    for item in definition.get("containerDefinitions") or []:
        limit = units(item.get("memory"), "memory")
        if limit is not None and limit > memory:
            raise InvalidTaskSize(
                f"Container '{item['name']}' asks for {limit} MiB, more than the task's {memory} MiB. Lower it "
                f"or raise the task memory."
            )


def _ranges(values: list[int]) -> str:
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"


def check_compatibility(definition: dict[str, Any], target: LaunchTarget) -> None:
    compatibilities = definition.get("requiresCompatibilities") or []
    mode = definition.get("networkMode") or "bridge"
    if target.fargate:
        if "FARGATE" not in compatibilities:
            raise IncompatibleTaskDefinition(
                f"The service runs on Fargate ({target.label}) but the new task definition does not require "
                f'FARGATE compatibility ({", ".join(compatibilities) or "none set"}). Add "requiresCompatibilities": '
                f'["FARGATE"].'
            )
        if mode != "awsvpc":
            raise IncompatibleTaskDefinition(
                f"Fargate tasks need networkMode 'awsvpc'; the new task definition has '{mode}'."
            )
        return
    wanted = target.launch_type if target.launch_type in ("EC2", "EXTERNAL") else "EC2"
    if compatibilities and wanted not in compatibilities:
        raise IncompatibleTaskDefinition(
            f"The service runs with {target.label} but the new task definition requires "
            f"{', '.join(compatibilities)}. Add {wanted} to requiresCompatibilities."
        )
    if target.awsvpc != (mode == "awsvpc"):
        raise IncompatibleTaskDefinition(
            f"The serving task set {'uses' if target.awsvpc else 'has no'} an awsvpc network configuration but the "
            f"new task definition's networkMode is '{mode}'. Keep the network mode of the serving task definition."
        )


def check_state_size(raw_input: dict[str, Any], context: dict[str, Any], kind: str) -> None:
    size = len(json.dumps(raw_input, default=str).encode()) + len(json.dumps(context, default=str).encode())
    if size + STATE_RESERVE <= STATE_LIMIT:
        return
    how = (
        "Register it first (aws ecs register-task-definition --cli-input-json file://taskdef.json) and deploy "
        "taskDefinition 'family:revision' (bluegreen deploy SERVICE --task-definition family:revision)."
        if kind == "taskDefinition"
        else "Register the task definition first and deploy it as taskDefinition 'family:revision'."
    )
    raise TaskDefinitionTooLarge(
        f"The release makes the execution's state data {size // 1024} KiB (the input plus the new task definition "
        f"Validate carries), above what Step Functions allows ({STATE_LIMIT // 1024} KiB, "
        f"{STATE_RESERVE // 1024} KiB kept for later states). {how}"
    )


def green_tags(base: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
    """Tags for green: the base's (no aws: prefix, which is AWS's), ours on top, at most 50."""
    tags = {k: v for k, v in base.items() if not k.lower().startswith("aws:") and k not in ours}
    room = TAG_LIMIT - len(ours)
    return {**dict(list(tags.items())[: max(room, 0)]), **ours}


# --- ECR and ECS reads ------------------------------------------------------------------------------------------
@dataclass
class Registry:
    """The reads a release needs (ECR images, registered task definitions); tests pass moto-backed clients."""

    ecr: Any
    ecs: Any
    _uris: dict[str, str] = field(default_factory=dict)
    pushed_at: dict[str, datetime] = field(default_factory=dict)  # digest -> imagePushedAt (lead time)

    def uri(self, repository: str) -> str:
        if repository not in self._uris:
            try:
                with transient_errors():
                    found = self.ecr.describe_repositories(repositoryNames=[repository])["repositories"]
            except ClientError as error:
                if error_code(error) == "RepositoryNotFoundException":
                    raise ImageNotFound(
                        f"ECR repository '{repository}' does not exist. Check the service configuration's "
                        f"repository settings."
                    ) from error
                raise
            self._uris[repository] = found[0]["repositoryUri"]
        return self._uris[repository]

    def image(self, repository: str, tag: str | None, digest: str | None) -> tuple[str, list[str]]:
        """``(digest, tags)`` of an image; ImageNotFound if absent."""
        image_id = {"imageTag": tag} if tag else {"imageDigest": digest}
        label = f"{repository}:{tag}" if tag else f"{repository}@{digest}"
        try:
            with transient_errors():
                details = self.ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"]
        except ClientError as error:
            if error_code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise ImageNotFound(
                    f"Image {label} was not found in ECR ({error_code(error)}). Push the image first, or check "
                    f"the tag and the repository."
                ) from error
            raise
        if not details:
            raise ImageNotFound(f"Image {label} was not found in ECR. Push the image first.")
        found = details[0]["imageDigest"]
        if isinstance(details[0].get("imagePushedAt"), datetime):
            self.pushed_at[found] = details[0]["imagePushedAt"]
        if tag and digest and found != digest:
            raise DigestMismatch(
                f"Tag {tag} in {repository} points to {found}, not to the requested {digest}. The tag was moved "
                f"after the build; deploy by the right tag or by digest."
            )
        return found, list(details[0].get("imageTags") or [])

    def tag_of(self, image: str) -> str | None:
        """Best effort, for the plan: a tag of an ECR image pinned by digest (None if unknown or unreadable)."""
        match = ECR_IMAGE.match(image)
        if not match or not match["digest"]:
            return match["tag"] if match else None
        try:
            _, tags = self.image(match["repository"], None, match["digest"])
        except (ImageNotFound, ClientError):
            return None
        return tags[0] if tags else None

    def task_definition(self, reference: str) -> tuple[dict[str, Any], dict[str, str]]:
        try:
            with transient_errors():
                described = self.ecs.describe_task_definition(taskDefinition=reference, include=["TAGS"])
        except ClientError as error:
            if error_code(error) in ("ClientException", "InvalidParameterException"):
                raise TaskDefinitionNotFound(
                    f"Task definition {reference} does not exist ({error_code(error)}). Register it first "
                    f"(aws ecs register-task-definition --cli-input-json file://taskdef.json) and pass the "
                    f"family:revision it prints."
                ) from error
            raise
        return described["taskDefinition"], _tags(described.get("tags"))


# --- putting it together ----------------------------------------------------------------------------------------
@dataclass
class PreparedRelease:
    kind: str
    definition: dict[str, Any]  # RegisterTaskDefinition arguments (no tags), every changed image pinned
    tags: dict[str, str]  # tags to copy onto green (before ours are added)
    image_tags: dict[str, str]  # pinned image -> the tag it was resolved from (for the plan)
    main_image: str
    main_digest: str
    main_tag: str


def check_tag(config: Any, tag: str) -> None:
    if not config.allowMutableTags and tag.lower() in {t.lower() for t in config.mutableTags}:
        raise MutableTagRefused(
            f"Tag '{tag}' is a moving tag and is refused: a deployment must name one release. Push an immutable "
            f"tag (e.g. a version or commit id), or set allowMutableTags in the service configuration."
        )


def _configured_image(registry: Registry, config: Any, definition: dict[str, Any], name: str, ref: str) -> str:
    container(definition, name, "The release")
    repository = config.repository_of(name)
    if repository is None:
        raise InvalidServiceConfig(
            f"Container '{name}' has no ECR repository in the service configuration, so its image '{ref}' cannot "
            f'be checked. Add "repositories": {{"{name}": "<repository>"}} to the configuration.'
        )
    return image_reference(registry.uri(repository), ref)


def pin_images(
    registry: Registry, config: Any, definition: dict[str, Any], blue: dict[str, Any] | None
) -> dict[str, str]:
    """Resolve every image that differs from blue's to a digest, in place; returns pinned image -> tag."""
    before = {c["name"]: c.get("image") for c in (blue or {}).get("containerDefinitions") or []}
    tags: dict[str, str] = {}
    for item in definition["containerDefinitions"]:
        name, image = item["name"], item["image"]
        if before.get(name) == image:
            continue
        match = ECR_IMAGE.match(image)
        if match is None:
            if "@sha256:" in image:
                continue  # outside ECR but pinned: nothing to resolve
            raise UnpinnedImage(
                f"Container '{name}' uses image '{image}', which is not in ECR and not pinned by digest, so this "
                f"release would not name one image. Pin it (image@sha256:...) or push it to ECR."
            )
        repository = config.repository_of(name)
        if repository is not None and match["repository"] != repository:
            raise ImageNotFound(
                f"Container '{name}' uses an image from repository '{match['repository']}', but the service "
                f"configuration says its repository is '{repository}'. Use an image from '{repository}' or fix the "
                f"configuration."
            )
        if match["tag"]:
            check_tag(config, match["tag"])
        digest, found_tags = registry.image(match["repository"], match["tag"], match["digest"])
        pinned = f"{match['registry']}/{match['repository']}@{digest}"
        item["image"] = pinned
        tag = match["tag"] or (found_tags[0] if found_tags else None)
        if tag:
            tags[pinned] = tag
    return tags


def prepare(
    registry: Registry,
    config: Any,
    request: Any,
    kind: str,
    blue: dict[str, Any] | None,
    blue_tags: dict[str, str] | None = None,
) -> PreparedRelease:
    """Green's task definition for the release ``request`` on top of ``blue`` (a described task definition)."""
    base = register_shape(blue) if blue else None
    tags = dict(blue_tags or {})
    if kind == "taskDefinition":
        if isinstance(request.taskDefinition, dict) or str(request.taskDefinition).lstrip().startswith("{"):
            definition, inline_tags = parse_inline(request.taskDefinition)
            tags = inline_tags or tags
        else:
            described, registered_tags = registry.task_definition(registered_reference(request.taskDefinition))
            definition, tags = register_shape(described), registered_tags or tags
    else:
        if base is None:
            raise InvalidInput(
                f"{kind} changes the serving task definition, and there is none yet: deploy a whole taskDefinition "
                f"for the first release."
            )
        definition = copy.deepcopy(base)
        if kind == "imageTag":
            rollback = bool(getattr(request, "rollbackOf", None) and request.imageDigest)
            if not rollback:  # A rollback deploys the digest that was live; its tag may have moved since
                check_tag(config, request.imageTag)
            ref = request.imageDigest if rollback else f"{request.imageTag}"
            target = _configured_image(registry, config, definition, config.containerName, ref)
            container(definition, config.containerName, "containerName")["image"] = target
        elif kind == "images":
            for name, ref in request.images.items():
                if not IMAGE_DIGEST.match(ref):
                    check_tag(config, ref)
                image = _configured_image(registry, config, definition, name, ref)
                container(definition, name, "images")["image"] = image
        else:
            overrides: TaskDefinitionOverrides = request.taskDefinitionOverrides
            if overrides.is_empty():
                raise InvalidInput("taskDefinitionOverrides changes nothing; say what to change.")

            def image_of(name: str, ref: str) -> str:
                if not IMAGE_DIGEST.match(ref):
                    check_tag(config, ref)
                return _configured_image(registry, config, definition, name, ref)

            definition = apply_overrides(definition, overrides, image_of)
    image_tags = pin_images(registry, config, definition, base)
    if kind == "imageTag" and request.imageDigest:
        main = container(definition, config.containerName, "containerName")["image"]
        if not main.endswith("@" + request.imageDigest):
            raise DigestMismatch(
                f"Tag {request.imageTag} in {config.repository} points to {main.rsplit('@', 1)[-1]}, not to the "
                f"requested {request.imageDigest}. The tag was moved after the build; deploy by the right tag or "
                f"omit imageDigest."
            )
    main_image = (
        container(definition, config.containerName, "containerName")["image"]
        if any(c["name"] == config.containerName for c in definition["containerDefinitions"])
        else definition["containerDefinitions"][0]["image"]
    )
    main_tag = image_tags.get(main_image) or registry.tag_of(main_image) or main_image.rsplit("@", 1)[-1][:19]
    if main_image not in image_tags and main_tag and "@" in main_image:
        image_tags[main_image] = main_tag
    green_images = {c["image"] for c in definition["containerDefinitions"]}
    for item in (blue or {}).get("containerDefinitions") or []:  # blue's changed images, named by tag in the plan
        if item["image"] not in image_tags and item["image"] not in green_images:
            tag = registry.tag_of(item["image"])
            if tag:
                image_tags[item["image"]] = tag
    if kind == "imageTag" and getattr(request, "rollbackOf", None):
        image_tags[main_image] = main_tag = request.imageTag  # The rolled-back release's own tag
    digest = main_image.rsplit("@", 1)[-1] if "@" in main_image else ""
    return PreparedRelease(kind, definition, tags, image_tags, main_image, digest, main_tag)


def check_definition(
    definition: dict[str, Any],
    config: Any,
    target: LaunchTarget,
    port: int | None,
    role_pattern: str,
    account: str | None,
) -> None:
    """Every refusal about the new definition itself, before anything is registered."""
    load_balanced_port(definition, config.containerName, port)
    check_roles(definition, role_pattern, account)
    check_compatibility(definition, target)
    check_task_size(definition, target.fargate)


def plan_release(
    registry: Registry,
    config: Any,
    request: Any,
    kind: str,
    service: dict[str, Any],
    serving: dict[str, Any] | None,
    blue_group: str | None,
    green_group: str,
    role_pattern: str,
    *,
    base_reference: str | None = None,
    launch: dict[str, Any] | None = None,
) -> tuple[PreparedRelease, Plan, dict[str, Any] | None]:
    """Green's checked definition and the release's plan (Validate and ``bluegreen plan``); reads only.

    ``serving`` is the task set serving production. For a first deployment (``serving`` None) the release
    patches ``base_reference`` (a registered task definition) if given, and ``launch`` (a task-set-like dict:
    launchType or capacityProviderStrategy, networkConfiguration) says where green will run.
    Returns ``(prepared release, plan, blue's described task definition or None)``.
    """
    blue_definition: dict[str, Any] | None = None
    base, base_tags = None, None
    if serving is not None:
        blue_definition, base_tags = registry.task_definition(serving["taskDefinition"])
        base = blue_definition
    elif base_reference:
        base, base_tags = registry.task_definition(base_reference)
    prepared = prepare(registry, config, request, kind, base, base_tags)
    template = serving if serving is not None else (launch or {})
    balancer = (template.get("loadBalancers") or [{}])[0]
    check_definition(
        prepared.definition,
        config,
        LaunchTarget.of(template),
        config.containerPort or balancer.get("containerPort"),
        role_pattern,
        service.get("serviceArn", "::::").split(":")[4] or None,
    )
    plan = build_plan(
        request.service or config.service,
        register_shape(blue_definition) if blue_definition else None,
        prepared.definition,
        tags=prepared.image_tags,
        route_plans=routes(
            # The first production route stands for all of them (they move together)
            config.production_route_arns()[0],
            config.test_route_arn(),
            blue_group,
            green_group,
            config.trafficShift.schedule(),
        ),
        blue_tasks=desired_count(service, serving) if serving else 0,
        green_tasks=desired_count(service, {}),
        release=kind,
        blue_arn=serving["taskDefinition"] if serving else None,
    )
    return prepared, plan, blue_definition
