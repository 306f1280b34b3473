"""The first deployment of an EXTERNAL service that has no task set yet, on the emulator.

Each test asserts what a user would see afterwards: the production and test rules, the task
sets, the deployment lock; the happy path also checks, at the moment of each ModifyRule on
the production rule, that every target group production is pointed at has only healthy targets.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.elbv2.models import elbv2_backends

from bluegreen.aws import elbv2
from bluegreen_emulator.emulator import ACCOUNT, REGION, Emulator
from bluegreen_emulator.seed import NOT_LIVE_YET
from tests.integration.helpers import live_task_sets

from .helpers import MUTATING, snapshot

PRODUCTION_BEFORE = ("fixed-response", "forward")


def _health(target_group: str) -> list[str]:
    """Target states of ``target_group`` as the (emulated) load balancer reports them right now."""
    backend = elbv2_backends[ACCOUNT][REGION]
    return [status.status for status in backend.describe_target_health(target_group, [])]


def record_production_switches(emu: Emulator, rule_arn: str) -> list[dict[str, Any]]:
    """At each ModifyRule on ``rule_arn``: the target groups it will forward to and their targets' states."""
    seen: list[dict[str, Any]] = []

    def hook(call: Any) -> None:
        if call.operation != "ModifyRule" or call.params.get("RuleArn") != rule_arn:
            return
        actions = call.params["Actions"]
        if not any(action.get("Type") == "forward" for action in actions):
            seen.append({"function": call.function, "groups": {}})
            return
        groups = elbv2.receiving(elbv2.forward_weights(actions))
        seen.append({"function": call.function, "groups": {group: _health(group) for group in groups}})

    emu.recorder.before.append(hook)
    return seen


def _only_healthy(groups: dict[str, list[str]]) -> bool:
    return all(states and all(state == "healthy" for state in states) for states in groups.values())


@pytest.mark.parametrize("production_before", PRODUCTION_BEFORE)
def test_first_deployment_goes_live_only_once_green_is_healthy(emulator, production_before):
    # Given an EXTERNAL service with no task set, its network in the configuration, and a production
    # rule that answers "not live yet" (or forwards to an empty target group)
    demo = emulator.seed_service("fresh", first_task_set=False, production_action=production_before)
    idle_group, green_group = demo.target_groups
    assert emulator.task_sets(demo.name) == []
    switches = record_production_switches(emulator, demo.production_rule_arn)

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then the execution went through the usual gates and succeeded
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.states[:7] == [
        "Validate",
        "CreateGreen",
        "WaitHealthy",
        "GreenHooks",
        "ApprovalRequired",
        "AwaitApproval",
        "Swap",
    ]
    # ... production was switched once, to green only, when every green target was healthy
    assert len(switches) == 1
    assert list(switches[0]["groups"]) == [green_group]
    assert _only_healthy(switches[0]["groups"]), switches
    assert elbv2.receiving(emulator.production_weights(demo.name)) == {green_group}
    # ... the only task set runs v2 behind green, from the configured network, and is primary
    (task_set,) = emulator.task_sets(demo.name)
    assert (task_set["imageTag"], task_set["status"], task_set["targetGroupArn"]) == ("v2", "PRIMARY", green_group)
    described = live_task_sets(emulator.client("ecs"), demo.cluster, demo.name)[0]
    assert described["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == demo.config["network"]["subnets"]
    assert described["launchType"] == "FARGATE"
    # ... the test rule points at the other (empty) target group, ready for the next release
    assert elbv2.forward_weights(emulator.rule_actions(demo.test_rule_arn)) == {idle_group: 1}
    # ... nothing was deleted (there was no blue) and the lock is free
    assert result.output["taskSet"] == task_set["id"]
    assert "deletedTaskSet" not in result.output
    assert emulator.store.lock_holder(demo.name) is None

    # And the next release is an ordinary blue/green deployment onto the other target group
    second = emulator.run(demo.name, "v3")
    assert second.status == "SUCCEEDED", second.cause
    (task_set,) = emulator.task_sets(demo.name)
    assert (task_set["imageTag"], task_set["targetGroupArn"]) == ("v3", idle_group)


def test_first_deployment_whose_green_never_gets_healthy_changes_nothing(emulator):
    # Given an empty EXTERNAL service whose production rule answers "not live yet"
    demo = emulator.seed_service("fresh", first_task_set=False, production_action="fixed-response")
    before = snapshot(emulator, demo.name)

    # When a release that never passes its health checks is deployed
    result = emulator.run(demo.name, "v2-broken")

    # Then it ends in Cleanup with HealthCheckTimeout
    assert result.outcome == "cleaned_up"
    assert result.error == "HealthCheckTimeout"
    # ... the production rule was never modified and both rules are as before; no task set is left
    assert not [c for c in emulator.recorder.calls if c.operation == "ModifyRule"]
    assert snapshot(emulator, demo.name) == before
    assert emulator.rule_actions(demo.production_rule_arn) == [NOT_LIVE_YET]
    # ... and the lock is released
    assert emulator.store.lock_holder(demo.name) is None


def test_first_deployment_rolled_back_by_an_alarm_restores_the_saved_rules_exactly():
    with Emulator() as emulator:
        # Given an empty EXTERNAL service whose production rule answers "not live yet"
        demo = emulator.seed_service("fresh", first_task_set=False, production_action="fixed-response")
        before = snapshot(emulator, demo.name)

        # When a release that fires the 5xx alarm once it serves production is deployed
        result = emulator.run(demo.name, "v2-5xx")

        # Then it is rolled back
        assert result.outcome == "rolled_back", (result.error, result.cause)
        assert "AlarmTriggered" in result.cause
        # ... both rules are exactly as saved (production answers the fixed response again)
        assert snapshot(emulator, demo.name) == before
        assert emulator.rule_actions(demo.production_rule_arn) == [NOT_LIVE_YET]
        # ... green is gone and the lock is free
        assert emulator.task_sets(demo.name) == []
        assert emulator.store.lock_holder(demo.name) is None


def test_first_deployment_without_network_is_refused_with_a_pointer_to_the_option(emulator):
    # Given an empty EXTERNAL service whose configuration has no network block
    demo = emulator.seed_service(
        "fresh", first_task_set=False, config_overrides={"network": None, "taskDefinition": None}
    )
    before = snapshot(emulator, demo.name)

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then Validate refuses with NoServingTaskSet, naming the option to add
    assert result.error == "NoServingTaskSet"
    assert "'network'" in result.cause and "First deployment" in result.cause
    # ... and nothing changed
    assert snapshot(emulator, demo.name) == before
    assert not [c for c in emulator.recorder.calls if c.operation in MUTATING]
    assert emulator.store.lock_holder(demo.name) is None


def test_first_deployment_of_a_rolling_service_is_refused_with_a_pointer_to_adopt(emulator):
    # Given a service on the ECS (rolling) controller with a network in its configuration
    legacy = emulator.seed_service(
        "legacy",
        deployment_controller="ECS",
        config_overrides={
            "network": {"subnets": ["subnet-1"], "securityGroups": [], "launchType": "FARGATE"},
            "taskDefinition": "legacy",
        },
    )
    before = snapshot(emulator, legacy.name)

    # When v2 is deployed
    result = emulator.run(legacy.name, "v2")

    # Then Validate refuses with NotExternalController (not NoServingTaskSet) and points to bluegreen adopt
    assert result.error == "NotExternalController"
    assert "bluegreen adopt legacy" in result.cause
    # ... and nothing changed
    assert snapshot(emulator, legacy.name) == before
    assert not [c for c in emulator.recorder.calls if c.operation in MUTATING]
    assert emulator.store.lock_holder(legacy.name) is None


def _register_bridge_mode(emu: Emulator, family: str) -> None:
    emu.client("ecs").register_task_definition(
        family=family,
        networkMode="bridge",
        containerDefinitions=[{"name": "web", "image": "web:v1", "memory": 256}],
    )


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"taskDefinition": "no-such-family"}, "InvalidServiceConfig", "does not exist"),
        ({"containerName": "api"}, "InvalidServiceConfig", "no container named 'api'"),
        ({"taskDefinition": "bridge-web"}, "InvalidServiceConfig", "awsvpc"),
    ],
)
def test_first_deployment_with_an_unusable_base_task_definition_is_refused(emulator, overrides, error, words):
    # Given an empty EXTERNAL service whose base task definition cannot carry the first task set
    _register_bridge_mode(emulator, "bridge-web")
    demo = emulator.seed_service("fresh", first_task_set=False, config_overrides=overrides)
    before = snapshot(emulator, demo.name)

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then Validate refuses with a cause that says what to fix, and nothing changed
    assert result.error == error and words in result.cause
    assert snapshot(emulator, demo.name) == before
    assert not [c for c in emulator.recorder.calls if c.operation in MUTATING]
    assert emulator.store.lock_holder(demo.name) is None


def test_first_deployment_onto_a_test_target_group_with_foreign_targets_is_refused(emulator):
    # Given an empty EXTERNAL service whose test target group has a target registered by someone else
    demo = emulator.seed_service("fresh", first_task_set=False)
    emulator.client("elbv2").register_targets(TargetGroupArn=demo.target_groups[1], Targets=[{"Id": "10.0.9.9"}])
    before = snapshot(emulator, demo.name)

    # When v2 is deployed
    result = emulator.run(demo.name, "v2")

    # Then it is refused (green would share its target group) and nothing changed
    assert result.error == "TestTargetGroupBusy"
    assert "not task sets of this service" in result.cause
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None


def test_first_deployment_takes_a_whole_release_patched_onto_the_base_task_definition(emulator):
    # Given an empty EXTERNAL service (production answers 503)
    demo = emulator.seed_service("fresh", first_task_set=False, production_action="fixed-response")
    release = {"images": {"web": "v3"}}

    # When its first release names images (not imageTag)
    result = emulator.wait(emulator.start(demo.name, "", raw_input={"service": demo.name, **release}))

    # Then it goes live on a revision of the base task definition with that image, pinned by digest
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    (task_set,) = emulator.task_sets(demo.name)
    assert task_set["image"].endswith("@" + demo.digests["v3"]) and task_set["status"] == "PRIMARY"
    ecs = emulator.client("ecs")
    described = live_task_sets(ecs, demo.cluster, demo.name)[0]
    assert (
        ecs.describe_task_definition(taskDefinition=described["taskDefinition"])["taskDefinition"]["family"] == "fresh"
    )
    assert elbv2.receiving(emulator.production_weights(demo.name)) == {task_set["targetGroupArn"]}
