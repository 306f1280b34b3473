"""Validate: check everything before anything changes, and save the rules."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from bluegreen import probe
from bluegreen.aws import alarms, ecs, elbv2, first_deploy, hook_calls, release, routes
from bluegreen.aws import events as deployment_events
from bluegreen.aws.config import load_service_config
from bluegreen.deps import Deps
from bluegreen.domain import clock, hooks, policy
from bluegreen.domain.errors import (
    AnalysisNotSupported,
    InvalidInput,
    InvalidServiceConfig,
    MutableTagRefused,
)
from bluegreen.domain.models import (
    DeploymentContext,
    ExecutionInput,
    SavedRules,
    ServiceConfig,
    SlackThread,
    TaskSetRef,
    ValidateEvent,
)
from bluegreen.domain.plan import render
from bluegreen.domain.release_models import RELEASE_FIELDS
from bluegreen.domain.settings import get_settings
from bluegreen.domain.stickiness import refuse_sticky
from bluegreen.slack import notify

logger = Logger(child=True)


def parse_input(raw: object) -> ExecutionInput:
    if not isinstance(raw, dict):
        raise InvalidInput(
            f"Invalid execution input: expected a JSON object, got {_json_kind(raw)}. Expected "
            f'{{"service": "<name>", "imageTag": "<tag>"}} with an optional imageDigest; see '
            f"events/execution-input.schema.json."
        )
    if sum(raw.get(name) is not None for name in RELEASE_FIELDS) > 1:
        release.release_kind(raw)  # Exactly one description of the release (AmbiguousRelease)
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


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


# Step Functions ends a Standard execution after one year, without running its Catch. Every
# wait of a deployment together must end well before that, with a day left for health checks and cleanup.
EXECUTION_LIMIT_SECONDS = 365 * 86400
EXECUTION_MARGIN_SECONDS = 86400


def longest_run_seconds(config: ServiceConfig) -> int:
    """The longest a deployment can wait in total: health, approval, traffic steps, bake, keep-old."""
    steps = len(config.trafficShift.schedule()) - 1
    total = config.healthWaitTimeoutSeconds + config.bakeSeconds + steps * config.trafficShift.intervalSeconds
    if config.approval.required:
        total += config.approval.timeoutSeconds
    if config.keepOld.enabled:
        total += config.keepOld.timeoutSeconds
    return total


def check_time_limit(config: ServiceConfig) -> None:
    """Refuse a configuration whose waits could outlive the execution's one-year limit."""
    budget = EXECUTION_LIMIT_SECONDS - EXECUTION_MARGIN_SECONDS
    longest = longest_run_seconds(config)
    if longest > budget:
        raise InvalidServiceConfig(
            f"approval.timeoutSeconds + keepOld.timeoutSeconds + bake, traffic steps and health wait add up to "
            f"{longest} s, more than the {budget} s a deployment may wait (Step Functions ends an execution "
            f"after one year, without cleanup; a day is kept for the rest). Shorten approval.timeoutSeconds or "
            f"keepOld.timeoutSeconds in the service configuration."
        )


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
        {
            "imageTag": request.imageTag or kind,
            "release": kind,
            "requestedBy": request.requestedBy or "unknown",
            **_rollback_details(request),
        },
    )
    config = load_service_config(request.service, provider)
    if request.trafficShift:
        config = config.model_copy(update={"trafficShift": request.trafficShift})
    if request.rollbackOf and not request.requireApproval:  # Rollbacks skip the approval by default
        config = config.model_copy(update={"approval": config.approval.model_copy(update={"required": False})})
    if request.imageTag and not request.rollbackOf:  # a rollback deploys a digest that was live (tag may move)
        check_tag(config, request.imageTag)
    check_time_limit(config)

    service = ecs.describe_service(clients.ecs, config)
    policy.check_controller(config.service, (service.get("deploymentController") or {}).get("type", "ECS"))
    policy.check_task_set_room(config.service, service.get("taskSets") or [])

    missing = alarms.missing_alarms(clients.cloudwatch, config.alarmNames)
    if missing:
        raise InvalidServiceConfig(
            f"Alarms {', '.join(missing)} in 'alarmNames' do not exist, so the bake could not watch them. "
            f"Fix the names in the service configuration."
        )

    if config.hooks.all():  # Hooks the stack may not invoke, or that do not exist, refused now
        hooks.refuse_disallowed(config.hooks, get_settings().hookFunctionArnPattern)
        hook_calls.check_functions(deps.lambda_client, config.hooks)

    # Every route (listener rules, listener default actions) saved before anything changes
    routes.check_arns(config.production_route_arns(), config.test_route_arn(), get_settings().loadBalancerNames)
    production_routes = routes.describe_all(clients.elbv2, config.production_route_arns())
    test = routes.describe(clients.elbv2, config.test_route_arn())
    refuse_sticky(production_routes)  # cookie holders would stay on blue whatever the weights
    probe.check_routes(config.hooks, test, production_routes[0])  # Probes reach their stage's route
    probe.check_urls(
        config.hooks,
        lambda route: hook_calls.listener_protocol_port(
            clients.elbv2, test.ruleArn if route == "test" else production_routes[0].ruleArn
        ),
    )
    fixed = [route for route in production_routes if first_deploy.answers_fixed_response(route.actions)]
    if fixed:  # Production may answer a fixed response before the first deployment
        blue_group, green_group = first_deploy.routes_target_groups(config, production_routes, test)
    else:
        blue_group, green_group = routes.check_routes(
            production_routes, test, config.targetGroupArns, config.trafficShift.type
        )
    production = fixed[0] if fixed else production_routes[0]
    if config.analysis_enabled() and any(route.loadBalancerType == "network" for route in production_routes):
        # An NLB sees TCP flows, not HTTP answers: no 5xx rate, no response time to compare
        raise AnalysisNotSupported(
            f"Service {config.service} is behind a Network Load Balancer: the built-in analysis compares HTTP 5xx "
            f"rates and response times, which an NLB does not see. Remove 'analysis' from its configuration and "
            f"watch it with alarms (alarmNames), e.g. on AWS/NetworkELB TCP_Target_Reset_Count."
        )

    task_sets = ecs.live_task_sets(clients.ecs, config)
    infos = [policy.TaskSetInfo.of(ts) for ts in task_sets]
    first, launch = None, None
    if first_deploy.is_first_deployment(infos, blue_group, green_group):  # Nothing serves yet
        first = first_deploy.check(clients, config, task_sets, production, blue_group, green_group)
        config = first_deploy.first_config(config)
        launch = first_deploy.task_set_template(config, config.containerPort or first.containerPort)
        serving = []
    else:
        blue = policy.serving_task_set(infos, blue_group, green_group)
        serving = [ts for ts in task_sets if ts["id"] == blue.id]

    # Green's whole task definition, checked before anything is registered.
    registry = release.Registry(ecr=clients.ecr, ecs=clients.ecs)
    prepared, plan, blue_definition = release.plan_release(
        registry,
        config,
        request,
        kind,
        service,
        serving[0] if serving else None,
        blue_group,
        green_group,
        get_settings().taskRoleNamePattern,
        base_reference=config.taskDefinition if first else None,
        launch=launch,
    )
    if first is not None and first.productionFixedResponse:  # Production answered a fixed response
        plan.routes = [
            route.model_copy(update={"before": {}}) if route.rule == "production" else route for route in plan.routes
        ]
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
        )
        if serving
        else None,  # A first deployment
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
        firstDeployment=first,
        rollbackOf=request.rollbackOf,
        imagePushedAt=registry.pushed_at.get(prepared.main_digest),
    )
    release.check_state_size(event.input, context.dump(), kind)
    store.record_details(
        request.service,
        event.executionArn,
        {"imageTag": context.imageTag, "planSummary": plan.summary(), "planText": render(plan, 3500)},
    )
    thread = notify.start_thread(
        notifier,
        config.slackChannel,
        f"Deploying {context.service} {context.imageTag} ({context.imageDigest[:19]}…), "
        f"requested by {context.requestedBy}. Blue: {first_deploy.describe_blue(context)}. "
        f"Changes: {plan.summary()}.",
    )
    if thread:
        context.slackThread = SlackThread(channel=thread[0], ts=thread[1])
    # An execution stopped or timed out later runs no Catch; its end is cleaned up from this.
    store.record_context(context.service, context.executionArn, context.model_dump_json(exclude_none=True))
    why = f"rollback of {request.rollbackOf}" if request.rollbackOf else None
    deployment_events.emit(deps.events, deployment_events.DetailType.STARTED, context, why=why)
    return context


def _rollback_details(request: ExecutionInput) -> dict[str, object]:
    """What the history says about a rollback to an earlier release."""
    if not request.rollbackOf:
        return {}
    return {"rollbackOf": request.rollbackOf, "approvalSkipped": not request.requireApproval}
