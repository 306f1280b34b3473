"""Whole releases on the emulator: each way of describing a release deploys, and each bad input
fails in Validate with its own error name and leaves AWS exactly as it was.

The demo service is seeded with a sidecar (``log-router``, its own ECR repository), environment variables and
a secret reference (an SSM SecureString whose value must never show anywhere).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.seed import SECRET_VALUE, SIDECAR
from tests.integration.helpers import live_task_sets

from .helpers import MUTATING, snapshot

ROLE_PATTERN = "demo-*"  # the stack's TaskRoleNamePattern in these tests


@pytest.fixture
def emu() -> Any:
    with Emulator(parameters={"TaskRoleNamePattern": ROLE_PATTERN}) as emulator:
        yield emulator


def _revisions(emu: Emulator) -> list[str]:
    return emu.client("ecs").list_task_definitions()["taskDefinitionArns"]


def _green_definition(emu: Emulator, service: str) -> dict[str, Any]:
    demo = emu.services[service]
    ecs = emu.client("ecs")
    (task_set,) = live_task_sets(ecs, demo.cluster, demo.name)
    described = ecs.describe_task_definition(taskDefinition=task_set["taskDefinition"], include=["TAGS"])
    return {**described["taskDefinition"], "tags": described.get("tags", [])}


def _containers(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in definition["containerDefinitions"]}


def _blue_definition(emu: Emulator, service: str) -> dict[str, Any]:
    demo = emu.services[service]
    ecs = emu.client("ecs")
    (task_set,) = live_task_sets(ecs, demo.cluster, demo.name)
    return ecs.describe_task_definition(taskDefinition=task_set["taskDefinition"])["taskDefinition"]


def _deploy(emu: Emulator, service: str, release: dict[str, Any]):  # noqa: ANN202 - ExecutionResult
    return emu.wait(emu.start(service, "release", raw_input={"service": service, **release}))


def _assert_deployed(emu: Emulator, service: str, result: Any) -> dict[str, Any]:
    demo = emu.services[service]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    (task_set,) = emu.task_sets(service)
    assert (task_set["status"], task_set["targetGroupArn"]) == ("PRIMARY", demo.target_groups[1])
    assert emu.production_weights(service) == {demo.target_groups[1]: 100, demo.target_groups[0]: 0}
    assert emu.store.lock_holder(service) is None
    return _green_definition(emu, service)


def _assert_secret_never_shown(emu: Emulator, result: Any) -> None:
    history = json.dumps(emu.history(result.execution_arn), default=str)
    slack = json.dumps([c.args for c in emu.slack.calls], default=str) if emu.slack else ""
    logs = emu.log_stream.getvalue() if hasattr(emu.log_stream, "getvalue") else ""
    for text in (history, slack, logs, json.dumps(result.output, default=str)):
        assert SECRET_VALUE not in text


# --- the four ways of describing a release --------------------------------------------------------------------
def test_images_deploys_several_containers_each_pinned_from_its_own_repository(emu):
    # Given the demo service with a sidecar, both on their first images
    demo = emu.seed_service(sidecar=True)

    # When a release names a new image for both containers
    result = _deploy(emu, demo.name, {"images": {"web": "v2", SIDECAR: "1.1"}})

    # Then green runs both, pinned by digest, each from its own repository
    green = _containers(_assert_deployed(emu, demo.name, result))
    assert green["web"]["image"] == f"{demo.repository_uri}@{demo.digests['v2']}"
    sidecar_repo = demo.extra["sidecarRepository"]
    assert green[SIDECAR]["image"].endswith(f"/{sidecar_repo}@{demo.extra['sidecarDigests']['1.1']}")
    # ... everything else (env, secret reference) is blue's
    assert green["web"]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": demo.extra["secretArn"]}]
    # ... and the output carries the plan, naming both images by tag
    changed = {c["name"]: c for c in result.output["plan"]["containers"]}
    assert (changed["web"]["image"]["beforeTag"], changed["web"]["image"]["afterTag"]) == ("v1", "v2")
    assert (changed[SIDECAR]["image"]["beforeTag"], changed[SIDECAR]["image"]["afterTag"]) == ("1.0", "1.1")
    _assert_secret_never_shown(emu, result)


def test_inline_task_definition_from_describe_output_deploys_with_images_resolved(emu):
    # Given what `aws ecs describe-task-definition` prints for blue, edited: web on tag v3, a new env var
    demo = emu.seed_service(sidecar=True)
    described = {"taskDefinition": _blue_definition(emu, demo.name)}
    web = _containers(described["taskDefinition"])["web"]
    web["image"] = f"{demo.repository_uri}:v3"
    web["environment"].append({"name": "NEW_FLAG", "value": "1"})

    # When it is deployed inline
    result = _deploy(emu, demo.name, {"taskDefinition": described})

    # Then green runs exactly that definition with the tag resolved to its digest
    green = _containers(_assert_deployed(emu, demo.name, result))
    assert green["web"]["image"] == f"{demo.repository_uri}@{demo.digests['v3']}"
    assert {"name": "NEW_FLAG", "value": "1"} in green["web"]["environment"]
    assert result.output["imageTag"] == "v3"


def test_registered_family_revision_deploys_a_pinned_copy(emu):
    # Given a revision registered outside the tool (web by tag v2)
    demo = emu.seed_service(sidecar=True)
    base = _blue_definition(emu, demo.name)
    arguments = {k: base[k] for k in ("family", "networkMode", "requiresCompatibilities", "cpu", "memory")}
    containers = base["containerDefinitions"]
    _containers({"containerDefinitions": containers})["web"]["image"] = f"{demo.repository_uri}:v2"
    registered = emu.client("ecs").register_task_definition(
        **arguments, executionRoleArn=base["executionRoleArn"], containerDefinitions=containers
    )["taskDefinition"]
    reference = f"{registered['family']}:{registered['revision']}"

    # When family:revision is deployed
    result = _deploy(emu, demo.name, {"taskDefinition": reference})

    # Then green is a new revision of that definition, its image pinned by digest
    green = _assert_deployed(emu, demo.name, result)
    assert green["revision"] == registered["revision"] + 1
    assert _containers(green)["web"]["image"] == f"{demo.repository_uri}@{demo.digests['v2']}"


def test_overrides_patch_env_secrets_size_and_keep_the_rest(emu):
    # Given the demo service with env vars STAGE, LOG_FORMAT and the DB_PASSWORD secret
    demo = emu.seed_service(sidecar=True)
    api_key_arn = demo.extra["secretArn"].replace("db-password", "api-key")
    overrides = {
        "cpu": "512",
        "memory": "2048",
        "containers": {
            "web": {
                "environment": {"STAGE": "prod", "CHECKOUT": "v2"},
                "removeEnvironment": ["LOG_FORMAT"],
                "secrets": {"API_KEY": api_key_arn},
            }
        },
    }

    # When only those changes are released
    result = _deploy(emu, demo.name, {"taskDefinitionOverrides": overrides})

    # Then green has them, and blue's images and everything else
    green = _assert_deployed(emu, demo.name, result)
    web = _containers(green)["web"]
    assert (green["cpu"], green["memory"]) == ("512", "2048")
    assert {e["name"]: e["value"] for e in web["environment"]} == {"STAGE": "prod", "CHECKOUT": "v2"}
    assert {s["name"]: s["valueFrom"] for s in web["secrets"]} == {
        "DB_PASSWORD": demo.extra["secretArn"],
        "API_KEY": api_key_arn,
    }
    assert web["image"] == f"{demo.repository_uri}@{demo.digests['v1']}"
    # ... the plan lists the secret by name and valueFrom, and the env change with its values
    plan = {c["name"]: c for c in result.output["plan"]["containers"]}["web"]
    assert plan["secrets"] == [{"field": "API_KEY", "after": api_key_arn}]
    assert {"field": "STAGE", "before": "demo", "after": "prod"} in plan["environment"]
    # ... and green's tags are ours (no aws: tag copied)
    assert {t["key"] for t in green["tags"]} >= {"bluegreen:execution", "bluegreen:image-tag"}
    _assert_secret_never_shown(emu, result)


def test_the_slack_approval_message_shows_the_plan(emu):
    demo = emu.seed_service(sidecar=True)
    result = _deploy(emu, demo.name, {"taskDefinitionOverrides": {"memory": "1024"}})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    approval = next(c.args for c in emu.slack.calls_to("chat.postMessage") if "Approval needed" in json.dumps(c.args))
    text = json.dumps(approval["blocks"])
    assert "Plan for demo-web" in text and "task memory: 512 -&gt; 1024" in text
    # ... and the deployment record (bluegreen history) keeps the plan
    (record,) = emu.store.deployments(demo.name)
    assert record["planSummary"] == "memory 512->1024"
    assert "task memory: 512 -> 1024" in record["planText"]


# --- bad input: a distinct error in Validate, nothing changed ---------------------------------------------------
def _big_definition(emu: Emulator, service: str) -> dict[str, Any]:
    definition = _blue_definition(emu, service)
    _containers(definition)["web"]["environment"] += [{"name": f"PAD_{i}", "value": "x" * 1000} for i in range(125)]
    return definition


def _without_web(emu: Emulator, service: str) -> dict[str, Any]:
    definition = _blue_definition(emu, service)
    definition["containerDefinitions"] = [c for c in definition["containerDefinitions"] if c["name"] != "web"]
    return definition


def _bridge(emu: Emulator, service: str) -> dict[str, Any]:
    definition = _blue_definition(emu, service)
    definition.update(networkMode="bridge", requiresCompatibilities=["EC2"])
    return definition


BAD_RELEASES = [
    ("not JSON", lambda emu, s: {"taskDefinition": '{"family": "demo-web",'}, "InvalidTaskDefinition", "JSON"),
    ("not a task definition", lambda emu, s: {"taskDefinition": {"name": "x"}}, "InvalidTaskDefinition", "name"),
    ("no such revision", lambda emu, s: {"taskDefinition": "demo-web:99"}, "TaskDefinitionNotFound", "register"),
    ("unknown container", lambda emu, s: {"images": {"worker": "v2"}}, "UnknownContainer", "worker"),
    ("image not in ECR", lambda emu, s: {"images": {SIDECAR: "9.9"}}, "ImageNotFound", "9.9"),
    ("moving tag", lambda emu, s: {"images": {SIDECAR: "latest"}}, "MutableTagRefused", "latest"),
    ("load-balanced container removed", lambda emu, s: {"taskDefinition": _without_web(emu, s)},
     "LoadBalancedContainerMissing", "web"),
    ("role outside the pass-role pattern",
     lambda emu, s: {"taskDefinitionOverrides": {"taskRoleArn": "arn:aws:iam::123456789012:role/admin"}},
     "RoleNotAllowed", "TaskRoleNamePattern"),
    ("invalid Fargate size", lambda emu, s: {"taskDefinitionOverrides": {"cpu": "256", "memory": "4096"}},
     "InvalidTaskSize", "512, 1024, 2048"),
    ("not Fargate-compatible", lambda emu, s: {"taskDefinition": _bridge(emu, s)}, "IncompatibleTaskDefinition",
     "FARGATE"),
    ("unpinned image outside ECR", lambda emu, s: {"taskDefinition": _with_image(emu, s, "nginx:1.27")},
     "UnpinnedImage", "digest"),
    ("above the payload limit", lambda emu, s: {"taskDefinition": _big_definition(emu, s)},
     "TaskDefinitionTooLarge", "family:revision"),
    ("two release descriptions", lambda emu, s: {"imageTag": "v2", "images": {"web": "v3"}}, "AmbiguousRelease",
     "exactly one"),
]  # fmt: skip


def _with_image(emu: Emulator, service: str, image: str) -> dict[str, Any]:
    definition = _blue_definition(emu, service)
    _containers(definition)[SIDECAR]["image"] = image
    return definition


@pytest.mark.parametrize(("case", "make", "error", "hint"), BAD_RELEASES, ids=[b[0] for b in BAD_RELEASES])
def test_bad_release_fails_in_validate_and_changes_nothing(emu, case, make, error, hint):
    # Given the demo service with a sidecar, and what AWS holds before
    demo = emu.seed_service(sidecar=True)
    release = make(emu, demo.name)
    before, revisions = snapshot(emu, demo.name), _revisions(emu)

    # When the bad release is started
    result = _deploy(emu, demo.name, release)

    # Then it fails in Validate with its own error name and a cause that says what to do
    assert (result.status, result.error) == ("FAILED", error), result.cause
    assert hint in result.cause
    assert result.states == ["Validate", "ValidationFailed", "Failed"]
    # ... and nothing changed: no revision registered, no task set, rules identical, lock released
    assert _revisions(emu) == revisions
    assert snapshot(emu, demo.name) == before
    assert not [c for c in emu.recorder.calls if c.operation in MUTATING]
    assert emu.store.lock_holder(demo.name) is None
    # ... and the history says why (an input that names no single release is refused before it is recorded)
    records = emu.store.deployments(demo.name)
    assert [(r["status"], r["error"]) for r in records] == ([] if error == "AmbiguousRelease" else [("failed", error)])


def test_an_input_above_the_step_functions_limit_never_starts(emu):
    # Given an inline task definition larger than StartExecution accepts (256 KiB)
    demo = emu.seed_service(sidecar=True)
    definition = _blue_definition(emu, demo.name)
    _containers(definition)["web"]["environment"] += [{"name": f"P{i}", "value": "x" * 1000} for i in range(300)]
    before, revisions = snapshot(emu, demo.name), _revisions(emu)

    # When it is started, then AWS (and the emulator) refuse the input itself
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        emu.start(demo.name, "big", raw_input={"service": demo.name, "taskDefinition": definition})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    # ... and nothing changed
    assert (snapshot(emu, demo.name), _revisions(emu)) == (before, revisions)
    assert emu.store.lock_holder(demo.name) is None
