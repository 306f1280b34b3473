"""Validate: check everything before anything changes, and save the rules."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import ValidationError

from .. import alarms, clock, ecs, elbv2, notify, release
from ..aws import AwsClients
from ..config import load_service_config
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
from ..models import (
    DeploymentContext,
    ExecutionInput,
    SavedRules,
    ServiceConfig,
    SlackThread,
    TaskSetRef,
    ValidateEvent,
)
from ..notify import SlackNotifier
from ..plan import render
from ..release_models import RELEASE_FIELDS
from ..store import Store

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


def run(
    event: ValidateEvent, clients: AwsClients, provider: SSMProvider, store: Store, notifier: SlackNotifier
) -> DeploymentContext:
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
        os.environ.get("TASK_ROLE_NAME_PATTERN", "*"),
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
        savedRules=SavedRules(production=production, test=test),
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
