"""``bluegreen adopt`` moves a rolling (ECS controller) service to a new EXTERNAL service, on the emulator.

The old service's tasks run behind the production target group (the data plane simulates a rolling
service); the adoption must never leave production forwarding to a target group without healthy
targets, and the old service goes to zero only on --confirm, once production is on the new one.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from bluegreen.aws import elbv2
from bluegreen.aws.config import parameter_name
from bluegreen_cli.adopt import Adopter
from bluegreen_cli.common import CliError
from bluegreen_cli.main import main
from bluegreen_cli.operator import Clients, Operator
from bluegreen_emulator.emulator import Emulator

from .test_first_deploy import _health, _only_healthy, record_production_switches


def _operator(emu: Emulator) -> Operator:
    console = Console(file=io.StringIO(), width=200)
    return Operator(Clients(emu.session), store=emu.store, state_machine_arn=emu.state_machine_arn, out=console)


def _production_health(emu: Emulator, rule_arn: str) -> dict[str, list[str]]:
    groups = elbv2.receiving(elbv2.forward_weights(emu.rule_actions(rule_arn)))
    return {group: _health(group) for group in groups}


def test_adopt_moves_a_rolling_service_side_by_side_without_dropping_traffic():
    with Emulator() as emu:
        # Given a rolling service whose two healthy tasks serve production through target group A
        legacy = emu.seed_service("legacy", deployment_controller="ECS")
        old_group, idle_group = legacy.target_groups
        assert _production_health(emu, legacy.production_rule_arn) == {old_group: ["healthy", "healthy"]}
        emu.watch_adopted("legacy", "legacy-bg")
        switches = record_production_switches(emu, legacy.production_rule_arn)
        ecs = emu.client("ecs")

        # When it is adopted
        arn = Adopter(_operator(emu)).start("legacy", legacy.cluster, legacy.production_rule_arn, legacy.test_rule_arn)
        result = emu.wait(arn)

        # Then a new EXTERNAL service got a first deployment of the image the old one runs
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        (new,) = ecs.describe_services(cluster=legacy.cluster, services=["legacy-bg"])["services"]
        assert new["deploymentController"]["type"] == "EXTERNAL"
        (task_set,) = emu.task_sets("legacy-bg")
        assert (task_set["imageTag"], task_set["targetGroupArn"], task_set["status"]) == ("v1", idle_group, "PRIMARY")
        # ... its configuration document copies the old service's network and task definition
        config = json.loads(emu.client("ssm").get_parameter(Name=parameter_name("legacy-bg"))["Parameter"]["Value"])
        assert config["targetGroupArns"] == [old_group, idle_group]
        assert config["network"]["subnets"] == legacy.extra["network"]["subnets"]
        assert config["taskDefinition"].split("/")[-1] == "legacy:1"
        # ... production moved in one ModifyRule, to the new task set only, when all its targets were healthy
        assert len(switches) == 1 and list(switches[0]["groups"]) == [idle_group]
        assert _only_healthy(switches[0]["groups"]), switches
        # ... and the old service still runs (testers reach it through the test rule) until confirmed
        (old,) = ecs.describe_services(cluster=legacy.cluster, services=["legacy"])["services"]
        assert old["desiredCount"] == 2
        assert _health(old_group) == ["healthy", "healthy"]
        assert elbv2.forward_weights(emu.rule_actions(legacy.test_rule_arn)) == {old_group: 1}

        # When the adoption is confirmed
        assert Adopter(_operator(emu)).confirm("legacy", legacy.cluster) == 0
        emu.plane.reconcile()

        # Then the old service is scaled to 0 and its targets drain, while production stays on healthy targets
        (old,) = ecs.describe_services(cluster=legacy.cluster, services=["legacy"])["services"]
        assert old["desiredCount"] == 0
        assert set(_health(old_group)) <= {"draining"}
        production = _production_health(emu, legacy.production_rule_arn)
        assert list(production) == [idle_group] and _only_healthy(production)
        # ... and the new service takes the next release as an ordinary blue/green deployment
        second = emu.run("legacy-bg", "v2")
        assert second.status == "SUCCEEDED", second.cause
        (task_set,) = emu.task_sets("legacy-bg")
        assert (task_set["imageTag"], task_set["targetGroupArn"]) == ("v2", old_group)


def test_adopt_refuses_a_test_rule_on_the_production_target_group_and_changes_nothing(emulator):
    # Given a rolling service whose test rule points at the production target group
    legacy = emulator.seed_service("legacy", deployment_controller="ECS")
    old_group = legacy.target_groups[0]
    elbv2_client = emulator.client("elbv2")
    elbv2_client.modify_rule(RuleArn=legacy.test_rule_arn, Actions=[{"Type": "forward", "TargetGroupArn": old_group}])

    # When it is adopted
    with pytest.raises(CliError) as refused:
        Adopter(_operator(emulator)).start("legacy", legacy.cluster, legacy.production_rule_arn, legacy.test_rule_arn)

    # Then it is refused with a hint, and no service, configuration or execution was created
    assert "test rule" in refused.value.message and "idle target group" in refused.value.hint
    services = emulator.client("ecs").describe_services(cluster=legacy.cluster, services=["legacy-bg"])["services"]
    assert [s for s in services if s.get("status") == "ACTIVE"] == []
    assert emulator.client("ssm").get_parameters(Names=[parameter_name("legacy-bg")])["Parameters"] == []
    assert (
        emulator.client("stepfunctions").list_executions(stateMachineArn=emulator.state_machine_arn)["executions"] == []
    )


def test_adopt_confirm_before_production_moved_keeps_the_old_service(emulator):
    # Given a rolling service and a new service configured but not yet deployed
    legacy = emulator.seed_service("legacy", deployment_controller="ECS")
    config = dict(legacy.config, service="legacy-bg", network={"subnets": legacy.extra["network"]["subnets"]})
    config["taskDefinition"] = "legacy"
    emulator.client("ssm").put_parameter(Name=parameter_name("legacy-bg"), Type="String", Value=json.dumps(config))
    emulator.client("ecs").create_service(
        cluster=legacy.cluster, serviceName="legacy-bg", desiredCount=2, deploymentController={"type": "EXTERNAL"}
    )

    # When the adoption is confirmed
    with pytest.raises(CliError) as refused:
        Adopter(_operator(emulator)).confirm("legacy", legacy.cluster)

    # Then it is refused and the old service keeps its tasks
    assert "keeps running" in refused.value.message
    (old,) = emulator.client("ecs").describe_services(cluster=legacy.cluster, services=["legacy"])["services"]
    assert old["desiredCount"] == 2


def test_adopt_rerun_after_the_first_deployment_points_to_confirm(emulator):
    # Given a rolling service already adopted (the new service serves production)
    legacy = emulator.seed_service("legacy", deployment_controller="ECS")
    emulator.watch_adopted("legacy", "legacy-bg")
    adopter = Adopter(_operator(emulator))
    assert (
        emulator.wait(adopter.start("legacy", legacy.cluster, legacy.production_rule_arn, legacy.test_rule_arn)).status
        == "SUCCEEDED"
    )
    executions = emulator.client("stepfunctions").list_executions(stateMachineArn=emulator.state_machine_arn)[
        "executions"
    ]

    # When adopt is run again
    with pytest.raises(CliError) as refused:
        adopter.start("legacy", legacy.cluster, legacy.production_rule_arn, legacy.test_rule_arn)

    # Then it is refused, pointing to --confirm, and starts nothing
    assert "already has a task set" in refused.value.message and "--confirm" in refused.value.hint
    sfn = emulator.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=emulator.state_machine_arn)["executions"] == executions
    assert len(executions) == 1


def test_bluegreen_adopt_command_from_start_to_confirm(monkeypatch, capsys):
    with Emulator() as emu:
        monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emu.state_machine_arn)
        monkeypatch.setenv("BLUEGREEN_TABLE", emu.store.table.name)
        legacy = emu.seed_service("legacy", deployment_controller="ECS")
        emu.watch_adopted("legacy", "legacy-web")
        base = ["adopt", "legacy", "--cluster", legacy.cluster, "--new-name", "legacy-web"]

        # When adopt is called without the rules, it is a usage error
        assert main(base) == 2
        assert "--production-rule and --test-rule" in capsys.readouterr().err

        # When it is called as documented and followed
        rules = ["--production-rule", legacy.production_rule_arn, "--test-rule", legacy.test_rule_arn]
        assert main([*base, *rules, "--follow", "--interval", "0.05"]) == 0
        out = capsys.readouterr().out
        # Then it printed the configuration document, created the service and deployed it
        assert '"service": "legacy-web"' in out and "Created EXTERNAL service legacy-web" in out
        (task_set,) = emu.task_sets("legacy-web")
        assert task_set["status"] == "PRIMARY"

        # When the adoption is confirmed, the old service goes to zero
        assert main([*base, "--confirm"]) == 0
        assert "legacy scaled to 0" in capsys.readouterr().out
        (old,) = emu.client("ecs").describe_services(cluster=legacy.cluster, services=["legacy"])["services"]
        assert old["desiredCount"] == 0
