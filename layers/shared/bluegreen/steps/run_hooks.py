"""Issue 13: RunHooks — run a stage's verification hooks against green; any failure raises HookFailed.

The state machine runs it after green is healthy (a failure ends in Cleanup: production untouched), after
each partial traffic step and after the cutover (a failure rolls back in one call, like an alarm). A hook
answering IN_PROGRESS is invoked again after its ``callBackDelay`` inside this one invocation, so polling
costs no state transition (a hook's timeout is at most 840 s, under the function's 900 s).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from .. import clock, ecs, hook_calls, notify
from ..deps import Deps
from ..errors import HookFailed
from ..hooks import (
    HookResponse,
    HookResult,
    HooksReport,
    LambdaHook,
    Stage,
    auto_approve,
    ecs_payload,
    next_poll,
    parse_response,
)
from ..hooks import excerpt as short
from ..models import DeploymentContext, GreenTaskSet, StepEvent, SwapResult

logger = Logger(child=True)


class HooksEvent(StepEvent):
    """Payload of a RunHooks state (built by its ``Parameters``)."""

    stage: Stage
    green: GreenTaskSet


def run(event: HooksEvent, deps: Deps) -> HooksReport:
    context, stage = event.context, event.stage
    hooks = context.config.hooks.at(stage)
    if not hooks:
        return HooksReport(stage=stage)
    service_arn = ecs.describe_service(deps.clients.ecs, context.config).get("serviceArn", context.config.service)
    test, production = weights(stage, context, event.green, event.swap)
    results = [
        run_lambda_hook(deps.lambda_client, stage, hook, service_arn, event.green.arn, test, production)
        for hook in hooks
    ]
    text = "\n".join(result.line() for result in results)
    deps.store.record_plan(context.service, context.executionArn, {f"hooks_{stage.value}": text})
    notify.milestone(deps.notifier, context, text)
    failed = [result for result in results if not result.passed]
    if failed:
        after = "production was not changed" if stage is Stage.AFTER_GREEN_HEALTHY else "production goes back to blue"
        raise HookFailed(f"{len(failed)} of {len(results)} {stage.value} hook(s) failed, {after}. {text}")
    enabled = context.config.approval.autoApproveWhenHooksPass
    return HooksReport(stage=stage, results=results, autoApprove=auto_approve(stage, results, enabled))


def weights(
    stage: Stage, context: DeploymentContext, green: GreenTaskSet, swap: SwapResult | None
) -> tuple[dict[str, int], dict[str, int]]:
    """Test and production traffic weights by task set ARN, as ECS reports them to a hook."""
    weight = 0 if stage is Stage.AFTER_GREEN_HEALTHY else (swap.weight if swap else 100)
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
) -> HookResult:
    started = clock.now()
    details: dict[str, Any] = dict(hook.hookDetails)
    calls = 0
    while True:
        payload = ecs_payload(stage, hook, service_arn, revision_arn, test, production, details)
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
        if delay is None:
            clock.sleep(max(0.0, hook.timeoutSeconds - elapsed))
            elapsed = (clock.now() - started).total_seconds()
            cause = f"still IN_PROGRESS when its {hook.timeoutSeconds}s timeout ran out: {_details(answer)}"
            return _result(stage, hook, False, elapsed, calls, cause)
        details = answer.hookDetails if answer.hookDetails is not None else details
        clock.sleep(delay)


def _details(answer: HookResponse) -> str:
    return short({"hookStatus": answer.hookStatus, "hookDetails": answer.hookDetails or {}})


def _result(stage: Stage, hook: LambdaHook, passed: bool, elapsed: float, calls: int, text: str) -> HookResult:
    result = HookResult(
        name=hook.label,
        stage=stage,
        passed=passed,
        durationSeconds=round(elapsed, 3),
        invocations=calls,
        excerpt=text,
    )
    logger.info("hook finished", extra={"hook": result.model_dump(mode="json")})
    return result
