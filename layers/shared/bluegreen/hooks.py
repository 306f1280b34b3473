"""Issue 13: verification hooks — configuration models and pure verdicts (no AWS here).

A service's configuration declares hooks per stage::

    "hooks": {
      "afterGreenHealthy": [{"type": "lambda", "functionArn": "arn:aws:lambda:...:function:bluegreen-hook-smoke",
                             "timeoutSeconds": 300, "hookDetails": {"suite": "smoke"}}],
      "eachTrafficStep": [...],
      "afterCutover": [...]
    }

``type: lambda`` hooks speak the ECS native lifecycle-hook contract: the function returns
``{"hookStatus": "SUCCEEDED"|"FAILED"|"IN_PROGRESS", "callBackDelay": N, "hookDetails": {...}}`` and is
invoked again after ``callBackDelay`` seconds (default 30, as ECS) while it answers IN_PROGRESS, with the
``hookDetails`` it returned. Anything else (no valid ``hookStatus``, a function error) is a failure, as
in ECS, with the response in the cause. The step that runs them is :mod:`bluegreen.steps.run_hooks`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from .errors import HookConfigOutOfRange, HookFunctionNotAllowed, UnknownHookType

DEFAULT_CALLBACK_DELAY = 30  # seconds, as ECS
MAX_HOOK_SECONDS = 840  # one RunHooks invocation (Lambda timeout 900 s) holds a hook's whole wait
EXCERPT_CHARS = 300


class Stage(StrEnum):
    AFTER_GREEN_HEALTHY = "afterGreenHealthy"  # green behind the test rule only, before approval
    EACH_TRAFFIC_STEP = "eachTrafficStep"  # after each partial canary/linear step, before the next
    AFTER_CUTOVER = "afterCutover"  # production entirely on green, before the bake timer starts


# ECS native lifecycle stage names sent in the payload, so ported hooks can branch on them.
ECS_STAGE = {
    Stage.AFTER_GREEN_HEALTHY: "POST_TEST_TRAFFIC_SHIFT",
    Stage.EACH_TRAFFIC_STEP: "POST_PRODUCTION_TRAFFIC_SHIFT",
    Stage.AFTER_CUTOVER: "POST_PRODUCTION_TRAFFIC_SHIFT",
}


class LambdaHook(BaseModel):
    """A Lambda function speaking the ECS lifecycle-hook contract."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    type: Literal["lambda"] = "lambda"
    name: str | None = Field(default=None, max_length=64)
    functionArn: str = Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$")
    timeoutSeconds: int = Field(default=300, ge=1, le=MAX_HOOK_SECONDS)
    hookDetails: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.functionArn.rsplit(":", 1)[-1]


class EcsTaskHook(BaseModel):
    """A one-off ECS task of green's task definition with an override command; passes on exit code 0."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    type: Literal["ecsTask"]
    name: str | None = Field(default=None, max_length=64)
    command: list[str] = Field(min_length=1, max_length=50)
    container: str | None = None  # default: the service's load-balanced container
    timeoutSeconds: int = Field(default=600, ge=1, le=MAX_HOOK_SECONDS)
    pollSeconds: int = Field(default=15, ge=5, le=60)  # DescribeTasks interval, inside one RunHooks invocation

    @property
    def label(self) -> str:
        return self.name or f"task {' '.join(self.command)[:40]}"


def _hook_type(value: Any) -> str:
    return str(value.get("type", "lambda")) if isinstance(value, dict) else str(getattr(value, "type", "lambda"))


# The HTTP probe kind is not built yet (refused as an unknown type).
Hook = Annotated[
    Annotated[LambdaHook, Tag("lambda")] | Annotated[EcsTaskHook, Tag("ecsTask")], Discriminator(_hook_type)
]
HOOK_TYPES = ("lambda", "ecsTask")


class HooksConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    afterGreenHealthy: list[Hook] = Field(default_factory=list, max_length=5)
    eachTrafficStep: list[Hook] = Field(default_factory=list, max_length=5)
    afterCutover: list[Hook] = Field(default_factory=list, max_length=5)

    def at(self, stage: Stage) -> list[Hook]:
        return list(getattr(self, stage.value))

    def all(self) -> list[Hook]:
        return [*self.afterGreenHealthy, *self.eachTrafficStep, *self.afterCutover]


class HookResponse(BaseModel):
    """What an ECS-compatible hook returns."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    hookStatus: Literal["SUCCEEDED", "FAILED", "IN_PROGRESS"]
    callBackDelay: int = Field(default=DEFAULT_CALLBACK_DELAY, ge=0, le=MAX_HOOK_SECONDS)
    hookDetails: dict[str, Any] | None = None


class HookResult(BaseModel):
    """One hook's outcome: in the execution data, the Slack thread and ``bluegreen status``/``history``."""

    name: str
    stage: Stage
    kind: str = "lambda"  # or ecsTask
    passed: bool
    durationSeconds: float
    invocations: int
    excerpt: str = ""

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        calls = f"{self.invocations} poll(s)" if self.kind == "ecsTask" else f"{self.invocations} call(s)"
        text = f"{self.stage.value} hook {self.name} {verdict} in {self.durationSeconds:g}s ({calls})"
        return f"{text}: {self.excerpt}" if self.excerpt else text


MAX_KEPT_RESULTS = 20  # the state data keeps the latest results only (a linear shift has up to 99 steps)


class HooksReport(BaseModel):
    """Output of RunHooks at ``$.hooks``: the results of every stage so far (the latest ones)."""

    stage: Stage
    results: list[HookResult] = Field(default_factory=list, max_length=MAX_KEPT_RESULTS)
    autoApprove: bool = False  # approval.autoApproveWhenHooksPass and every pre-approval hook passed

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- pure verdicts ----------------------------------------------------------------------------------
def excerpt(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str, sort_keys=True)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def parse_response(payload: bytes | str, function_error: str | None) -> HookResponse | str:
    """The hook's answer, or why it is a failure (a function error, not JSON, no valid ``hookStatus``)."""
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    if function_error:
        return f"the function failed ({function_error}): {excerpt(text)}"
    try:
        return HookResponse.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return f"no valid hookStatus in the response: {excerpt(text)}"


def next_poll(response: HookResponse, elapsed: float, timeout: float) -> float | None:
    """Seconds to wait before invoking again, or ``None`` when the hook's timeout comes first."""
    delay = float(response.callBackDelay)
    return None if elapsed + delay >= timeout else delay


def auto_approve(stage: Stage, results: list[HookResult], enabled: bool) -> bool:
    """Skip the person only when asked, before approval, with at least one hook and all passed."""
    return enabled and stage is Stage.AFTER_GREEN_HEALTHY and bool(results) and all(r.passed for r in results)


def ecs_payload(
    stage: Stage,
    hook: LambdaHook,
    service_arn: str,
    revision_arn: str,
    test_weights: dict[str, int],
    production_weights: dict[str, int],
    details: dict[str, Any],
) -> dict[str, Any]:
    """Close to what ECS sends a lifecycle hook (``executionDetails`` plus the stage and ``hookDetails``)."""
    return {
        "executionDetails": {
            "serviceArn": service_arn,
            "targetServiceRevisionArn": revision_arn,
            "testTrafficWeights": test_weights,
            "productionTrafficWeights": production_weights,
        },
        "lifecycleStage": ECS_STAGE[stage],
        "bluegreenStage": stage.value,
        "hookDetails": details,
    }


# --- configuration refusals -------------------------------------------------------------------------
def refuse_invalid(error: ValidationError, where: str) -> None:
    """A configuration's validation problem under ``hooks`` becomes its own error name (else nothing)."""
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        if not loc or loc[0] != "hooks":
            continue
        path = ".".join(loc)
        if problem["type"] == "union_tag_invalid":
            raise UnknownHookType(
                f"{where}: {path}.type is {(problem.get('ctx') or {}).get('tag')!r}; the hook types are "
                f"{', '.join(HOOK_TYPES)} (see README, 'Verification hooks')."
            )
        raise HookConfigOutOfRange(f"{where}: {path}: {problem['msg']} (got {problem.get('input')!r}).")


def refuse_disallowed(hooks: HooksConfig, allowed_pattern: str) -> None:
    """Every hook function must match the ARN pattern the stack may invoke (its IAM policy)."""
    for hook in hooks.all():
        if not isinstance(hook, LambdaHook):
            continue
        if not fnmatchcase(hook.functionArn, allowed_pattern):
            raise HookFunctionNotAllowed(
                f"Hook function {hook.functionArn} is outside what the stack may invoke ({allowed_pattern}). "
                f"Name the function to match it or redeploy the stack with HookFunctionArnPattern widened."
            )


def hook_lines(item: dict[str, Any]) -> list[str]:
    """The hook results RunHooks recorded on a deployment's history item, stage by stage."""
    return [line for stage in Stage for line in str(item.get(f"hooks_{stage.value}") or "").splitlines() if line]
