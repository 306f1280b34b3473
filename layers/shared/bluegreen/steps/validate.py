"""Validate: check everything before anything changes, and save the rules."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from .. import alarms, clock, ecr, ecs, elbv2, notify
from .. import events as deployment_events
from ..config import load_service_config
from ..deps import Deps
from ..errors import (
    InvalidInput,
    InvalidServiceConfig,
    ListenerRulesInvalid,
    MultipleServingTaskSets,
    MutableTagRefused,
    NoServingTaskSet,
    NotExternalController,
    TestTargetGroupBusy,
)
from ..models import DeploymentContext, ExecutionInput, SavedRules, ServiceConfig, SlackThread, ValidateEvent

logger = Logger(child=True)


def parse_input(raw: dict) -> ExecutionInput:
    try:
        return ExecutionInput.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(
            f'Invalid execution input ({problems}). Expected {{"service": "<name>", "imageTag": "<tag>"}} '
            f"with an optional imageDigest; see events/execution-input.schema.json."
        ) from error


def check_tag(config: ServiceConfig, tag: str) -> None:
    if not config.allowMutableTags and tag.lower() in {t.lower() for t in config.mutableTags}:
        raise MutableTagRefused(
            f"Tag '{tag}' is a moving tag and is refused: a deployment must name one release. "
            f"Push an immutable tag (e.g. a version or commit id), or set allowMutableTags in the "
            f"service configuration."
        )


def run(event: ValidateEvent, deps: Deps) -> DeploymentContext:
    clients, provider, store, notifier = deps.clients, deps.ssm, deps.store, deps.notifier
    request = parse_input(event.input)
    # One deployment per service: taken first, released by every end state (Cleanup, Rollback, DeleteOld).
    store.acquire_lock(request.service, event.executionArn, logger)
    store.record_start(
        request.service,
        event.executionArn,
        {"imageTag": request.imageTag, "requestedBy": request.requestedBy or "unknown", **_rollback_details(request)},
    )
    config = load_service_config(request.service, provider)
    if request.trafficShift:
        config = config.model_copy(update={"trafficShift": request.trafficShift})
    if request.rollbackOf and not request.requireApproval:  # issue #15: rollbacks skip the approval by default
        config = config.model_copy(update={"approval": config.approval.model_copy(update={"required": False})})
    if not request.rollbackOf:  # a rollback deploys a digest that was live; its tag may have moved since
        check_tag(config, request.imageTag)
    digest, repository_uri, pushed_at = ecr.resolve_image(
        clients.ecr, config.repository, request.imageTag, request.imageDigest, pinned=bool(request.rollbackOf)
    )

    service = ecs.describe_service(clients.ecs, config)
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    if controller != "EXTERNAL":
        raise NotExternalController(
            f"ECS service {config.service} uses the {controller} deployment controller. Blue/green with this "
            f"tool needs EXTERNAL, which can only be set when the service is created: recreate the service "
            f"with deploymentController type EXTERNAL."
        )

    missing = alarms.missing_alarms(clients.cloudwatch, config.alarmNames)
    if missing:
        raise InvalidServiceConfig(
            f"Alarms {', '.join(missing)} in 'alarmNames' do not exist, so the bake could not watch them. "
            f"Fix the names in the service configuration."
        )

    production = elbv2.describe_rule(clients.elbv2, config.productionRuleArn)
    test = elbv2.describe_rule(clients.elbv2, config.testRuleArn)
    production_groups = elbv2.receiving(elbv2.forward_weights(production.actions, production.ruleArn))
    configured = set(config.targetGroupArns)
    if len(production_groups) != 1 or not production_groups <= configured:
        raise ListenerRulesInvalid(
            f"The production rule must forward to exactly one of the configured target groups; it forwards to "
            f"{sorted(production_groups) or 'nothing'}. An earlier deployment may have stopped half-way: restore "
            f"the rule, or fix 'targetGroupArns'."
        )
    blue_group = next(iter(production_groups))
    green_group = next(arn for arn in config.targetGroupArns if arn != blue_group)
    test_groups = elbv2.receiving(elbv2.forward_weights(test.actions, test.ruleArn))
    if test_groups != {green_group}:
        raise ListenerRulesInvalid(
            f"The test rule must forward only to the idle target group {green_group}; it forwards to "
            f"{sorted(test_groups) or 'nothing'}. Point the test rule at the target group production does not use."
        )

    task_sets = ecs.live_task_sets(clients.ecs, config)
    busy = ecs.task_sets_on(task_sets, green_group)
    if busy:
        raise TestTargetGroupBusy(
            f"The test target group {green_group} already has task set {busy[0]['id']} "
            f"(externalId '{busy[0].get('externalId', '')}'). Another deployment is in progress or did not "
            f"finish: let it end, or delete that task set, then deploy again."
        )
    serving = ecs.task_sets_on(task_sets, blue_group)
    if len(serving) > 1:
        ids = ", ".join(ts["id"] for ts in serving)
        raise MultipleServingTaskSets(
            f"{len(serving)} task sets ({ids}) serve production through {blue_group}; expected one. "
            f"Delete the extra task sets so exactly one serves production, then deploy again."
        )
    if not serving:
        raise NoServingTaskSet(
            f"No task set serves production through {blue_group}. This tool copies the network setup of the "
            f"serving task set and takes no subnets from input, so the first task set must be created with the "
            f"service (see README, 'First deployment')."
        )

    context = DeploymentContext(
        executionArn=event.executionArn,
        executionName=event.executionName,
        service=request.service,
        imageTag=request.imageTag,
        imageDigest=digest,
        image=f"{repository_uri}@{digest}",
        config=config,
        blue=ecs.to_ref(clients.ecs, serving[0], config.containerName),
        blueTargetGroupArn=blue_group,
        greenTargetGroupArn=green_group,
        savedRules=SavedRules(production=production, test=test),
        testUrl=elbv2.rule_url(test),
        requestedBy=request.requestedBy or "unknown",
        startedAt=clock.now(),
        rollbackOf=request.rollbackOf,
        imagePushedAt=pushed_at,
    )
    thread = notify.start_thread(
        notifier,
        config.slackChannel,
        f"Deploying {context.service} {context.imageTag} ({context.imageDigest[:19]}…), "
        f"requested by {context.requestedBy}. Blue: {context.blue.image or context.blue.taskDefinition}.",
    )
    if thread:
        context.slackThread = SlackThread(channel=thread[0], ts=thread[1])
    why = f"rollback of {request.rollbackOf}" if request.rollbackOf else None
    deployment_events.emit(deps.events, deployment_events.DetailType.STARTED, context, why=why)
    return context


def _rollback_details(request: ExecutionInput) -> dict[str, object]:
    """What the history says about a rollback to an earlier release (issue #15)."""
    if not request.rollbackOf:
        return {}
    return {"rollbackOf": request.rollbackOf, "approvalSkipped": not request.requireApproval}
