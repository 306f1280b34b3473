"""RunHooks — run a stage's verification hooks against green; any failure raises HookFailed.

The state machine runs it after green is healthy (a failure ends in Cleanup: production untouched), after
each partial traffic step and after the cutover (a failure rolls back in one call, like an alarm). A hook
answering IN_PROGRESS is invoked again after its ``callBackDelay``, inside the invocation while its time allows
(no state transition). No invocation outlives the function's timeout: one runs at most one hook, and a wait longer
than the invocation has left is handed back as ``pending`` progress, which the state machine waits out (a Wait
state) before invoking RunHooks again with it; a hook that already passed is never re-run. An HTTP probe hook is
sent by the probe function (which may sit in the VPC): RunHooks resolves the stage's route to a URL and Host
header, invokes it once, and judges the answers (:mod:`bluegreen.probe`). RunHooks also runs the
``beforeDeleteOld`` hooks (after the bake, blue still there): a failure there rolls back like an alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from bluegreen import probe
from bluegreen.aws import ecs, hook_calls, routes
from bluegreen.deps import Deps
from bluegreen.domain import clock
from bluegreen.domain.errors import HookFailed, ProbeOutsideRoutes
from bluegreen.domain.hooks import (
    MAX_KEPT_RESULTS,
    EcsTaskHook,
    HookProgress,
    HookResponse,
    HookResult,
    HooksReport,
    HttpProbeHook,
    LambdaHook,
    Stage,
    auto_approve,
    ecs_payload,
    hook_execution_id,
    next_poll,
    parse_response,
)
from bluegreen.domain.hooks import excerpt as short
from bluegreen.domain.models import DeploymentContext, GreenTaskSet, StepEvent, SwapResult
from bluegreen.domain.settings import get_settings
from bluegreen.slack import notify

logger = Logger(child=True)

# Seconds an invocation keeps in hand (a hook's call, recording the results, Slack): a wait that would eat into
# them is left to the state machine's Wait state instead.
RESERVE_SECONDS = 120.0


class HooksEvent(StepEvent):
    """Payload of a RunHooks state (built by its ``Parameters``)."""

    stage: Stage
    green: GreenTaskSet


def run(event: HooksEvent, deps: Deps) -> HooksReport:
    """Run the stage's next hook (or go on with the one running) in the time ``deps.remaining_seconds`` leaves.

    An invocation runs at most one hook: when more hooks follow, or the running hook has to wait longer than the
    invocation has left, it returns ``pending`` and the state machine waits and invokes it again with it.
    """
    budget = deps.remaining_seconds
    context, stage = event.context, event.stage
    hooks = context.config.hooks.at(stage)
    earlier = event.hooks.results if event.hooks else []
    if not hooks:
        return HooksReport(stage=stage, results=earlier)
    pending = event.hooks.pending if event.hooks else None
    progress = pending if pending is not None and pending.stage is stage else HookProgress(stage=stage, index=0)
    progress = progress.model_copy(update={"index": min(progress.index, len(hooks) - 1)})
    hook = hooks[progress.index]
    if isinstance(hook, LambdaHook):
        service_arn = ecs.describe_service(deps.clients.ecs, context.config).get("serviceArn", context.config.service)
        test, production = weights(stage, context, event.green, event.swap)
        outcome = run_lambda_hook(
            deps.lambda_client,
            stage,
            hook,
            service_arn,
            event.green.arn,
            test,
            production,
            progress,
            budget,
            execution_id=hook_execution_id(context.executionArn, stage, progress.index, hook.functionArn),
            resource_arn=context.executionArn,
        )
    elif isinstance(hook, HttpProbeHook):
        outcome = run_probe_hook(deps, stage, hook, context)
    else:
        outcome = run_task_hook(deps.clients.ecs, stage, hook, context, event.green, progress, budget)
    if isinstance(outcome, HookProgress):  # the hook waits longer than this invocation has left
        return HooksReport(stage=stage, results=earlier, pending=outcome)
    results = [*progress.results, outcome]
    if len(results) < len(hooks):  # the next hook in a fresh invocation: one that passed is never re-run
        following = HookProgress(stage=stage, index=len(results), results=results)
        return HooksReport(stage=stage, results=earlier, pending=following)
    text = "\n".join(result.line() for result in results)
    deps.store.record_details(context.service, context.executionArn, {f"hooks_{stage.value}": text})
    notify.milestone(deps.notifier, context, text)
    failed = [result for result in results if not result.passed]
    if failed:
        after = "production was not changed" if stage is Stage.AFTER_GREEN_HEALTHY else "production goes back to blue"
        raise HookFailed(f"{len(failed)} of {len(results)} {stage.value} hook(s) failed, {after}. {text}")
    enabled = context.config.approval.autoApproveWhenHooksPass
    kept = [*earlier, *results][-MAX_KEPT_RESULTS:]
    return HooksReport(stage=stage, results=kept, autoApprove=auto_approve(stage, results, enabled))


def _started(progress: HookProgress) -> datetime:
    return datetime.fromisoformat(progress.startedAt) if progress.startedAt else clock.now()


def _pause(
    progress: HookProgress, started: datetime, wait: float, calls: int, budget: Callable[[], float], **fields: Any
) -> HookProgress | None:
    """The progress to hand to the state machine's Wait state, or ``None`` when this invocation can wait itself."""
    if budget() - wait >= RESERVE_SECONDS:
        return None
    update = {"waitSeconds": math.ceil(wait), "startedAt": started.isoformat(), "calls": calls, **fields}
    return progress.model_copy(update=update)


def weights(
    stage: Stage, context: DeploymentContext, green: GreenTaskSet, swap: SwapResult | None
) -> tuple[dict[str, int], dict[str, int]]:
    """Test and production traffic weights by task set ARN, as ECS reports them to a hook."""
    weight = 0 if stage is Stage.AFTER_GREEN_HEALTHY else (swap.weight if swap else 100)
    if context.blue is None:  # a first deployment: green is the only task set
        return {green.arn: 100}, {green.arn: weight}
    test = {green.arn: 100} if weight < 100 else {context.blue.arn: 100}
    return test, {context.blue.arn: 100 - weight, green.arn: weight}


def run_lambda_hook(
    client: Any,
    stage: Stage,
    hook: LambdaHook,
    service_arn: str,
    revision_arn: str,
    test: dict[str, int],
    production: dict[str, int],
    progress: HookProgress | None = None,
    budget: Callable[[], float] = lambda: math.inf,
    execution_id: str = "",
    resource_arn: str = "",
) -> HookResult | HookProgress:
    progress = progress or HookProgress(stage=stage, index=0)
    started = _started(progress)
    details: dict[str, Any] = dict(hook.hookDetails) if progress.details is None else dict(progress.details)
    calls = progress.calls
    if progress.expired:  # the Wait state ran to the hook's timeout
        elapsed = (clock.now() - started).total_seconds()
        cause = f"still IN_PROGRESS when its {hook.timeoutSeconds}s timeout ran out: {_in_progress(details)}"
        return _result(stage, hook, False, elapsed, calls, cause)
    while True:
        if calls > progress.calls and budget() < RESERVE_SECONDS:  # no time left for another call here
            return progress.model_copy(
                update={"waitSeconds": 0, "startedAt": started.isoformat(), "calls": calls, "details": details}
            )
        payload = ecs_payload(
            stage, hook, service_arn, revision_arn, test, production, details, execution_id, resource_arn
        )
        raw, function_error = hook_calls.invoke(client, hook.functionArn, payload)
        calls += 1
        elapsed = (clock.now() - started).total_seconds()
        answer = parse_response(raw, function_error)
        if isinstance(answer, str):
            return _result(stage, hook, False, elapsed, calls, answer)
        if elapsed > hook.timeoutSeconds:
            return _result(stage, hook, False, elapsed, calls, f"no answer within {hook.timeoutSeconds}s")
        if answer.hookStatus != "IN_PROGRESS":
            return _result(stage, hook, answer.hookStatus == "SUCCEEDED", elapsed, calls, _details(answer))
        delay = next_poll(answer, elapsed, hook.timeoutSeconds)
        details = answer.hookDetails if answer.hookDetails is not None else details
        wait = delay if delay is not None else max(0.0, hook.timeoutSeconds - elapsed)
        paused = _pause(progress, started, wait, calls, budget, details=details, expired=delay is None)
        if paused is not None:
            return paused
        clock.sleep(wait)
        if delay is None:
            elapsed = (clock.now() - started).total_seconds()
            cause = f"still IN_PROGRESS when its {hook.timeoutSeconds}s timeout ran out: {_details(answer)}"
            return _result(stage, hook, False, elapsed, calls, cause)


def run_task_hook(
    ecs_client: Any,
    stage: Stage,
    hook: EcsTaskHook,
    context: DeploymentContext,
    green: GreenTaskSet,
    progress: HookProgress | None = None,
    budget: Callable[[], float] = lambda: math.inf,
) -> HookResult | HookProgress:
    """RunTask of green's task definition with the hook's command; passes on exit code 0 within the timeout.

    The task is started once: its ARN travels in the progress, so a later invocation polls it, and the task is
    tagged (``startedBy``, ``group``) so Cleanup, Rollback and the execution-ended path stop it if it still runs.
    """
    config = context.config
    progress = progress or HookProgress(stage=stage, index=0)
    started = _started(progress)
    container = hook.container or config.containerName
    task_arn = progress.taskArn
    if task_arn is None:
        # A task an earlier attempt started before it timed out (its ARN never reached the state machine) stops.
        hook_calls.stop_hook_tasks(ecs_client, config.cluster, context.executionName, "bluegreen hook retried")
        task_set = next((ts for ts in ecs.live_task_sets(ecs_client, config) if ts["id"] == green.id), None)
        if task_set is None:
            return _result(stage, hook, False, 0.0, 0, f"green task set {green.id} no longer exists", "ecsTask")
        task_arn, why = hook_calls.run_task(
            ecs_client, config.cluster, task_set, container, hook.command, hook_calls.task_group(context.executionName)
        )
        if task_arn is None:
            return _result(stage, hook, False, 0.0, 1, why, "ecsTask")
    definition = ecs_client.describe_task_definition(taskDefinition=green.taskDefinition)["taskDefinition"]
    stream = hook_calls.log_stream(definition, container, task_arn)
    where = f"task {task_arn.rsplit('/', 1)[-1]}" + (f", log stream {stream}" if stream else "")
    polls = progress.calls
    waited = progress.taskArn is not None  # resumed after the state machine's Wait state: poll at once
    while True:
        elapsed = (clock.now() - started).total_seconds()
        expire = progress.expired if waited else elapsed + hook.pollSeconds > hook.timeoutSeconds
        if not waited:
            wait = max(0.0, hook.timeoutSeconds - elapsed) if expire else float(hook.pollSeconds)
            paused = _pause(progress, started, wait, polls, budget, taskArn=task_arn, expired=expire)
            if paused is not None:
                return paused
            clock.sleep(wait)
        waited = False
        if expire:
            hook_calls.stop_task(ecs_client, config.cluster, task_arn, f"bluegreen hook timeout ({hook.label})")
            elapsed = (clock.now() - started).total_seconds()
            cause = f"still running when its {hook.timeoutSeconds}s timeout ran out; stopped ({where})"
            return _result(stage, hook, False, elapsed, polls, cause, "ecsTask")
        polls += 1
        task = hook_calls.describe_task(ecs_client, config.cluster, task_arn)
        if task.get("lastStatus") != "STOPPED":
            continue
        elapsed = (clock.now() - started).total_seconds()
        code = next((c.get("exitCode") for c in task.get("containers", []) if c.get("name") == container), None)
        reason = task.get("stoppedReason") or ""
        text = f"exit code {code}" + (f" ({reason})" if reason else "") + f"; {where}"
        return _result(stage, hook, code == 0, elapsed, polls, text, "ecsTask")


def run_probe_hook(deps: Deps, stage: Stage, hook: HttpProbeHook, context: DeploymentContext) -> HookResult:
    """Send the probe's requests through the stage's live route (by the probe function) and judge the answers."""
    config = context.config
    started = clock.now()
    route_arn = config.test_route_arn() if probe.probe_route(stage) == "test" else config.production_route_arns()[0]
    protocol, dns_name, port = hook_calls.listener_endpoint(deps.clients.elbv2, route_arn)
    try:
        host = probe.probe_host(hook, stage, routes.describe(deps.clients.elbv2, route_arn))
        probe.check_listener(hook, stage, protocol, port)
    except ProbeOutsideRoutes as error:  # the route changed since Validate checked it
        return _result(stage, hook, False, 0.0, 0, str(error), "http")
    request = probe.ProbeRequest(
        url=probe.probe_url(protocol, dns_name, port, hook.target_path),
        host=host,
        requests=hook.requests,
        requestTimeoutSeconds=hook.requestTimeoutSeconds,
        bodyPattern=hook.bodyPattern,
    )
    where = f"GET {request.url}" + (f" (Host {host})" if host else "")
    raw, function_error = hook_calls.invoke(deps.lambda_client, get_settings().probeFunctionName, request.model_dump())
    elapsed = (clock.now() - started).total_seconds()
    if function_error:
        return _result(
            stage,
            hook,
            False,
            elapsed,
            0,
            f"the probe function failed ({function_error}): {short(raw.decode(errors='replace'))}",
            "http",
        )
    try:
        answer = probe.ProbeAnswer.model_validate_json(raw)
    except ValidationError:
        return _result(
            stage,
            hook,
            False,
            elapsed,
            0,
            f"the probe function answered garbage: {short(raw.decode(errors='replace'))}",
            "http",
        )
    passed, text = probe.verdict(hook, answer.samples)
    if elapsed > hook.timeoutSeconds:
        passed, text = False, f"{text}; took {elapsed:.0f}s, over its {hook.timeoutSeconds}s timeout"
    return _result(stage, hook, passed, elapsed, len(answer.samples), f"{where}: {text}", "http")


def _details(answer: HookResponse) -> str:
    return short({"hookStatus": answer.hookStatus, "hookDetails": answer.hookDetails or {}})


def _in_progress(details: dict[str, Any]) -> str:
    return short({"hookStatus": "IN_PROGRESS", "hookDetails": details})


def _result(
    stage: Stage,
    hook: LambdaHook | EcsTaskHook | HttpProbeHook,
    passed: bool,
    elapsed: float,
    calls: int,
    text: str,
    kind: str = "lambda",
) -> HookResult:
    result = HookResult(
        name=hook.label,
        stage=stage,
        kind=kind,
        passed=passed,
        durationSeconds=round(elapsed, 3),
        invocations=calls,
        excerpt=text,
    )
    logger.info("hook finished", extra={"hook": result.model_dump(mode="json")})
    return result
