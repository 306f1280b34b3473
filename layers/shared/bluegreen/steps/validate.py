"""Validate: check everything before anything changes, and save the rules."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from .. import alarms, clock, ecs, elbv2, notify, policy, release, routes
from ..config import load_service_config
from ..deps import Deps
from ..errors import (
    InvalidInput,
    InvalidServiceConfig,
    MutableTagRefused,
)
from ..models import (
    DeploymentContext,
    ExecutionInput,
    SavedRules,
    ServiceConfig,
    SlackThread,
    TaskSetRef,
    ValidateEvent,
)
from ..plan import render
from ..release_models import RELEASE_FIELDS
from ..settings import get_settings

logger = Logger(child=True)


def parse_input(raw: dict) -> ExecutionInput:
    if isinstance(raw, dict) and sum(raw.get(name) is not None for name in RELEASE_FIELDS) > 1:
        release.release_kind(raw)  # issue 10: exactly one description of the release (AmbiguousRelease)
    try:
        request = ExecutionInput.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(
            f'Invalid execution input ({problems}). Expected {{"service": "<name>", "imageTag": "<tag>"}} '
            f"with an optional imageDigest, or images, taskDefinition or taskDefinitionOverrides in place of "
            f"imageTag; see events/execution-input.schema.json."
        ) from error
    release.release_kind(raw)  # none given: InvalidInput saying what to give
    return request


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
    kind = release.release_kind(event.input)
    # One deployment per service: taken first, released by every end state (Cleanup, Rollback, DeleteOld).
    store.acquire_lock(request.service, event.executionArn, logger)
    store.record_start(
        request.service,
        event.executionArn,
        {"imageTag": request.imageTag or kind, "release": kind, "requestedBy": request.requestedBy or "unknown"},
    )
    config = load_service_config(request.service, provider)
    if request.trafficShift:
        config = config.model_copy(update={"trafficShift": request.trafficShift})
    if request.imageTag:
        check_tag(config, request.imageTag)

    service = ecs.describe_service(clients.ecs, config)
    policy.check_controller(config.service, (service.get("deploymentController") or {}).get("type", "ECS"))

    missing = alarms.missing_alarms(clients.cloudwatch, config.alarmNames)
    if missing:
        raise InvalidServiceConfig(
            f"Alarms {', '.join(missing)} in 'alarmNames' do not exist, so the bake could not watch them. "
            f"Fix the names in the service configuration."
        )

    # issue #14: every route (listener rules, listener default actions) saved before anything changes
    routes.check_arns(config.production_route_arns(), config.test_route_arn(), get_settings().loadBalancerNames)
    production_routes = routes.describe_all(clients.elbv2, config.production_route_arns())
    test = routes.describe(clients.elbv2, config.test_route_arn())
    blue_group, green_group = routes.check_routes(
        production_routes, test, config.targetGroupArns, config.trafficShift.type
    )
    production = production_routes[0]

    task_sets = ecs.live_task_sets(clients.ecs, config)
    blue = policy.serving_task_set([policy.TaskSetInfo.of(ts) for ts in task_sets], blue_group, green_group)
    serving = [ts for ts in task_sets if ts["id"] == blue.id]

    # issue 10: green's whole task definition, checked before anything is registered.
    registry = release.Registry(ecr=clients.ecr, ecs=clients.ecs)
    prepared, plan, blue_definition = release.plan_release(
        registry,
        config,
        request,
        kind,
        service,
        serving[0],
        blue_group,
        green_group,
        get_settings().taskRoleNamePattern,
    )
    blue_image = next(
        (
            c["image"]
            for c in (blue_definition or {}).get("containerDefinitions", [])
            if c["name"] == config.containerName
        ),
        None,
    )

    context = DeploymentContext(
        executionArn=event.executionArn,
        executionName=event.executionName,
        service=request.service,
        imageTag=prepared.main_tag,
        imageDigest=prepared.main_digest,
        image=prepared.main_image,
        config=config,
        blue=TaskSetRef(
            id=serving[0]["id"],
            arn=serving[0]["taskSetArn"],
            taskDefinition=serving[0]["taskDefinition"],
            targetGroupArn=blue_group,
            image=blue_image,
        ),
        blueTargetGroupArn=blue_group,
        greenTargetGroupArn=green_group,
        savedRules=SavedRules(production=production, test=test, moreProduction=production_routes[1:]),
        testUrl=elbv2.rule_url(test),
        requestedBy=request.requestedBy or "unknown",
        startedAt=clock.now(),
        release=kind,
        greenDefinition=prepared.definition,
        greenTags={k: v for k, v in prepared.tags.items() if not k.lower().startswith("aws:")},
        plan=plan,
    )
    release.check_state_size(event.input, context.dump(), kind)
    store.record_plan(
        request.service,
        event.executionArn,
        {"imageTag": context.imageTag, "planSummary": plan.summary(), "planText": render(plan, 3500)},
    )
    thread = notify.start_thread(
        notifier,
        config.slackChannel,
        f"Deploying {context.service} {context.imageTag} ({context.imageDigest[:19]}…), "
        f"requested by {context.requestedBy}. Blue: {context.blue.image or context.blue.taskDefinition}. "
        f"Changes: {plan.summary()}.",
    )
    if thread:
        context.slackThread = SlackThread(channel=thread[0], ts=thread[1])
    return context
