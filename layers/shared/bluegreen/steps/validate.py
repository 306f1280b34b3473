"""Validate: check everything before anything changes, and save the rules."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import ValidationError

from .. import alarms, clock, ecr, ecs, elbv2, first_deploy, notify
from ..aws import AwsClients
from ..config import load_service_config
from ..errors import (
    InvalidInput,
    InvalidServiceConfig,
    MultipleServingTaskSets,
    MutableTagRefused,
    NotExternalController,
    TestTargetGroupBusy,
)
from ..models import DeploymentContext, ExecutionInput, SavedRules, ServiceConfig, SlackThread, ValidateEvent
from ..notify import SlackNotifier
from ..store import Store

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


def run(
    event: ValidateEvent, clients: AwsClients, provider: SSMProvider, store: Store, notifier: SlackNotifier
) -> DeploymentContext:
    request = parse_input(event.input)
    # One deployment per service: taken first, released by every end state (Cleanup, Rollback, DeleteOld).
    store.acquire_lock(request.service, event.executionArn, logger)
    store.record_start(
        request.service,
        event.executionArn,
        {"imageTag": request.imageTag, "requestedBy": request.requestedBy or "unknown"},
    )
    config = load_service_config(request.service, provider)
    if request.trafficShift:
        config = config.model_copy(update={"trafficShift": request.trafficShift})
    check_tag(config, request.imageTag)
    digest, repository_uri = ecr.resolve_digest(clients.ecr, config.repository, request.imageTag, request.imageDigest)

    service = ecs.describe_service(clients.ecs, config)
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    if controller != "EXTERNAL":
        raise NotExternalController(
            f"ECS service {config.service} uses the {controller} deployment controller. Blue/green with this "
            f"tool needs EXTERNAL, which can only be set when the service is created: move it without downtime "
            f"with 'bluegreen adopt {config.service}' (see README, 'Adopting an existing service'), or create "
            f"the service with deploymentController type EXTERNAL."
        )

    missing = alarms.missing_alarms(clients.cloudwatch, config.alarmNames)
    if missing:
        raise InvalidServiceConfig(
            f"Alarms {', '.join(missing)} in 'alarmNames' do not exist, so the bake could not watch them. "
            f"Fix the names in the service configuration."
        )

    production = elbv2.describe_rule(clients.elbv2, config.productionRuleArn)
    test = elbv2.describe_rule(clients.elbv2, config.testRuleArn)
    blue_group, green_group = first_deploy.target_groups(config, production, test)

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
    first = None
    if not serving:  # issue #10: a first deployment, from the configured network (else NoServingTaskSet)
        first = first_deploy.check(clients, config, task_sets, production, blue_group, green_group)
        config = first_deploy.first_config(config)

    context = DeploymentContext(
        executionArn=event.executionArn,
        executionName=event.executionName,
        service=request.service,
        imageTag=request.imageTag,
        imageDigest=digest,
        image=f"{repository_uri}@{digest}",
        config=config,
        blue=ecs.to_ref(clients.ecs, serving[0], config.containerName) if serving else None,
        blueTargetGroupArn=blue_group,
        greenTargetGroupArn=green_group,
        savedRules=SavedRules(production=production, test=test),
        testUrl=elbv2.rule_url(test),
        requestedBy=request.requestedBy or "unknown",
        startedAt=clock.now(),
        firstDeployment=first,
    )
    thread = notify.start_thread(
        notifier,
        config.slackChannel,
        f"Deploying {context.service} {context.imageTag} ({context.imageDigest[:19]}…), "
        f"requested by {context.requestedBy}. Blue: {first_deploy.describe_blue(context)}.",
    )
    if thread:
        context.slackThread = SlackThread(channel=thread[0], ts=thread[1])
    return context
