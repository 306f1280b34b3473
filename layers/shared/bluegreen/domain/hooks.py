"""Verification hooks — configuration models and pure verdicts (no AWS here).

A service's configuration declares hooks per stage::

    "hooks": {
      "afterGreenHealthy": [{"type": "lambda", "functionArn": "arn:aws:lambda:...:function:bluegreen-hook-smoke",
                             "timeoutSeconds": 300, "hookDetails": {"suite": "smoke"}}],
      "eachTrafficStep": [...],
      "afterCutover": [...],
      "beforeDeleteOld": [{"type": "http", "path": "/checkout", "expectedStatus": "200-299", "requests": 20}]
    }

``type: lambda`` hooks speak the ECS native lifecycle-hook contract: the function returns
``{"hookStatus": "SUCCEEDED"|"FAILED"|"IN_PROGRESS", "callBackDelay": N, "hookDetails": {...}}`` and is
invoked again after ``callBackDelay`` seconds (default 30, as ECS) while it answers IN_PROGRESS, with the
``hookDetails`` it returned. Anything else (no valid ``hookStatus``, a function error) is a failure, as
in ECS, with the response in the cause. ``type: http`` hooks are HTTP probes sent through the stage's route by
the probe function (:mod:`bluegreen.probe`). The step that runs them is :mod:`bluegreen.steps.run_hooks`.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from bluegreen.domain.errors import HookConfigOutOfRange, HookFunctionNotAllowed, UnknownHookType

DEFAULT_CALLBACK_DELAY = 30  # seconds, as ECS
MAX_HOOK_SECONDS = 840  # a hook's timeout; its polls may span several RunHooks invocations (Lambda timeout 900 s)
EXCERPT_CHARS = 300


class Stage(StrEnum):
    AFTER_GREEN_HEALTHY = "afterGreenHealthy"  # green behind the test rule only, before approval
    EACH_TRAFFIC_STEP = "eachTrafficStep"  # after each partial canary/linear step, before the next
    AFTER_CUTOVER = "afterCutover"  # production entirely on green, before the bake timer starts
    BEFORE_DELETE_OLD = "beforeDeleteOld"  # after the bake (and keep-old), production on green, blue still there


# ECS native lifecycle stage names sent in the payload, so ported hooks can branch on them.
ECS_STAGE = {
    Stage.AFTER_GREEN_HEALTHY: "POST_TEST_TRAFFIC_SHIFT",
    Stage.EACH_TRAFFIC_STEP: "POST_PRODUCTION_TRAFFIC_SHIFT",
    Stage.AFTER_CUTOVER: "POST_PRODUCTION_TRAFFIC_SHIFT",
    Stage.BEFORE_DELETE_OLD: "POST_PRODUCTION_TRAFFIC_SHIFT",  # ECS has no stage between the bake and clean-up
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
    pollSeconds: int = Field(default=15, ge=5, le=60)  # DescribeTasks interval (a long wait spans invocations)

    @property
    def label(self) -> str:
        return self.name or f"task {' '.join(self.command)[:40]}"


_STATUS_RANGE = re.compile(r"^(\d{3})-(\d{3})$")


class HttpProbeHook(BaseModel):
    """No code to write: GET requests through the stage's route (the test route before the cutover, production's
    after it), judged on status, body and latency (:mod:`bluegreen.probe`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    type: Literal["http"]
    name: str | None = Field(default=None, max_length=64)
    # The test (or production) URL as people know it, instead of host and path; its scheme and port, if it names
    # one, must be the route's listener's (the probe always goes to the route's listener).
    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[!-~]*)?$")
    path: str = Field(default="/", max_length=2048, pattern=r"^/[!-~]*$")  # path and query, printable ASCII
    host: str | None = Field(default=None, max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
    expectedStatus: int | list[int] | str = 200  # 200, [200, 204] or "200-299"
    bodyPattern: str | None = Field(default=None, min_length=1, max_length=1000)  # a regular expression (search)
    requests: int = Field(default=10, ge=1, le=100)
    successRatio: float = Field(default=1.0, gt=0, le=1)  # share of the requests that must pass
    maxLatencyMs: int | None = Field(default=None, ge=1, le=60_000)  # a slower answer counts as a failed request
    requestTimeoutSeconds: float = Field(default=5.0, gt=0, le=60)
    timeoutSeconds: int = Field(default=300, ge=1, le=MAX_HOOK_SECONDS)

    @field_validator("expectedStatus")
    @classmethod
    def _statuses(cls, value: int | list[int] | str) -> int | list[int] | str:
        _status_ranges(value)
        return value

    @field_validator("bodyPattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"bodyPattern is not a regular expression: {error}") from error
        return value

    @model_validator(mode="after")
    def _fits(self) -> HttpProbeHook:
        if self.url is not None and (self.host is not None or self.path != "/"):
            raise ValueError("give either url or host and path, not both")
        if "#" in self.path:
            raise ValueError("path must not hold a fragment ('#')")
        if self.requests * self.requestTimeoutSeconds > self.timeoutSeconds:
            raise ValueError(
                f"requests x requestTimeoutSeconds ({self.requests} x {self.requestTimeoutSeconds:g}s) must fit in "
                f"timeoutSeconds ({self.timeoutSeconds}s)"
            )
        return self

    @property
    def target_host(self) -> str | None:
        """The Host header the hook names (``url``'s host, or ``host``); ``None``: the route's."""
        return urlsplit(self.url).hostname if self.url is not None else self.host

    @property
    def target_path(self) -> str:
        """Path and query string (``url``'s, or ``path``)."""
        if self.url is None:
            return self.path
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def url_listener(self) -> tuple[str | None, int | None]:
        """The scheme and the port the hook's ``url`` names (``None`` where it names none)."""
        if self.url is None:
            return None, None
        parts = urlsplit(self.url)
        return parts.scheme, parts.port

    @property
    def statuses(self) -> list[tuple[int, int]]:
        """The expected status codes as inclusive ranges."""
        return _status_ranges(self.expectedStatus)

    @property
    def label(self) -> str:
        return self.name or f"GET {self.target_path}"[:64]


def _status_ranges(value: int | list[int] | str) -> list[tuple[int, int]]:
    if isinstance(value, str):
        match = _STATUS_RANGE.match(value.strip())
        ranges = [(int(match[1]), int(match[2]))] if match else []
        if not ranges and value.strip().isdigit():
            ranges = [(int(value), int(value))]
        if not ranges:
            raise ValueError(f"expectedStatus {value!r} is not a status code, a list of them or a range like '200-299'")
    else:
        codes = value if isinstance(value, list) else [value]
        if not 1 <= len(codes) <= 20:
            raise ValueError("expectedStatus lists 1 to 20 status codes")
        ranges = [(code, code) for code in codes]
    for low, high in ranges:
        if not 100 <= low <= high <= 599:
            raise ValueError(f"expectedStatus must be HTTP status codes from 100 to 599 (low to high), got {value!r}")
    return ranges


def _hook_type(value: Any) -> str:
    return str(value.get("type", "lambda")) if isinstance(value, dict) else str(getattr(value, "type", "lambda"))


Hook = Annotated[
    Annotated[LambdaHook, Tag("lambda")]
    | Annotated[EcsTaskHook, Tag("ecsTask")]
    | Annotated[HttpProbeHook, Tag("http")],
    Discriminator(_hook_type),
]
HOOK_TYPES = ("lambda", "ecsTask", "http")


class HooksConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    afterGreenHealthy: list[Hook] = Field(default_factory=list, max_length=5)
    eachTrafficStep: list[Hook] = Field(default_factory=list, max_length=5)
    afterCutover: list[Hook] = Field(default_factory=list, max_length=5)
    beforeDeleteOld: list[Hook] = Field(default_factory=list, max_length=5)

    def at(self, stage: Stage) -> list[Hook]:
        return list(getattr(self, stage.value))

    def all(self) -> list[Hook]:
        return [hook for stage in Stage for hook in self.at(stage)]


class HookResponse(BaseModel):
    """What an ECS-compatible hook returns."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    hookStatus: Literal["SUCCEEDED", "FAILED", "IN_PROGRESS"]
    callBackDelay: int = Field(default=DEFAULT_CALLBACK_DELAY, ge=0, le=MAX_HOOK_SECONDS)
    hookDetails: dict[str, Any] | None = None


class HookResult(BaseModel):
    """One hook's outcome: in the execution data, the Slack thread and ``bluegreen status``/``history``."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    name: str
    stage: Stage
    kind: str = "lambda"  # or ecsTask, http
    passed: bool
    durationSeconds: float
    invocations: int
    excerpt: str = ""

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        unit = {"ecsTask": "poll(s)", "http": "request(s)"}.get(self.kind, "call(s)")
        calls = f"{self.invocations} {unit}"
        text = f"{self.stage.value} hook {self.name} {verdict} in {self.durationSeconds:g}s ({calls})"
        return f"{text}: {self.excerpt}" if self.excerpt else text


MAX_KEPT_RESULTS = 20  # the state data keeps the latest results only (a linear shift has up to 99 steps)


class HookProgress(BaseModel):
    """Where a stage's hooks stand between two RunHooks invocations (``$.hooks.pending``).

    One invocation runs at most one hook and stops early when the Lambda timeout comes near; the state
    machine waits ``waitSeconds`` (a Wait state) and invokes RunHooks again with this progress, so no
    invocation outlives the function, a retried invocation never re-runs a hook that already passed, and a
    hook's one-off task is polled, not started twice.
    """

    model_config = ConfigDict(defer_build=True)

    stage: Stage
    index: int = Field(ge=0)  # the hook running (or next to run) in the stage's list
    results: list[HookResult] = Field(default_factory=list, max_length=5)  # this stage's hooks done so far
    waitSeconds: int = Field(default=0, ge=0, le=MAX_HOOK_SECONDS)  # the Wait state before the next invocation
    startedAt: str | None = None  # ISO time the running hook started (its timeout counts from it)
    calls: int = 0  # invocations (Lambda hooks) or DescribeTasks polls (ecsTask hooks) so far
    details: dict[str, Any] | None = None  # the hookDetails a Lambda hook returned with IN_PROGRESS
    taskArn: str | None = None  # the one-off task an ecsTask hook started
    expired: bool = False  # the wait runs to the hook's timeout: on the next invocation it fails


class HooksReport(BaseModel):
    """Output of RunHooks at ``$.hooks``: the results of every stage so far (the latest ones)."""

    model_config = ConfigDict(defer_build=True)  # built on first use (cold start)

    stage: Stage
    results: list[HookResult] = Field(default_factory=list, max_length=MAX_KEPT_RESULTS)
    autoApprove: bool = False  # approval.autoApproveWhenHooksPass and every pre-approval hook passed
    pending: HookProgress | None = None  # the stage's hooks are not done: the state machine waits and loops

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


def hook_execution_id(execution_arn: str, stage: Stage, index: int, function_arn: str) -> str:
    """A stable id of one hook run: the same for every re-invocation of the run, another for any other run.

    Derived (not random) so a retried RunHooks step (a lost response, a redrive) sends the hook the same id.
    """
    digest = hashlib.sha256(f"{execution_arn}|{stage.value}|{index}|{function_arn}".encode()).hexdigest()[:20]
    return f"{ECS_STAGE[stage]}_{index}_{digest}"


def ecs_payload(
    stage: Stage,
    hook: LambdaHook,
    service_arn: str,
    revision_arn: str,
    test_weights: dict[str, int],
    production_weights: dict[str, int],
    details: dict[str, Any],
    execution_id: str = "",
    resource_arn: str = "",
) -> dict[str, Any]:
    """Close to what ECS sends a lifecycle hook: ``executionDetails``, ``executionId``, ``lifecycleStage`` and
    ``resourceArn`` at the top level (the payload example of "Lifecycle hooks for Amazon ECS service
    deployments", ECS developer guide), plus ``hookDetails`` and our own ``bluegreenStage``.

    ECS's ``resourceArn`` is the ARN of the service deployment the hook runs in; ours is the deployment's
    Step Functions execution ARN. ``executionId`` names one run of one hook and stays the same across its
    IN_PROGRESS re-invocations (:func:`hook_execution_id`).
    """
    return {
        "executionDetails": {
            "serviceArn": service_arn,
            "targetServiceRevisionArn": revision_arn,
            "testTrafficWeights": test_weights,
            "productionTrafficWeights": production_weights,
        },
        "executionId": execution_id,
        "resourceArn": resource_arn,
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
