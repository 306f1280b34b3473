"""``bluegreen selftest`` on the emulator: three releases on throwaway resources, then nothing left behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_cli.main import main
from bluegreen_cli.selftest import PREFIX
from bluegreen_emulator.emulator import STACK, Emulator

pytestmark = pytest.mark.slow


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    # Gates wait for the selftest's answers; waiting runs 60 simulated seconds per real one (as local serve does)
    with Emulator(auto_approve=False, pace=60.0) as emulator:
        emulator.seed_service()
        monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emulator.state_machine_arn)
        monkeypatch.setenv("BLUEGREEN_TABLE", emulator.store.table.name)
        monkeypatch.setenv("BLUEGREEN_STACK", STACK)
        yield emulator


def selftest_arguments(emu: Emulator) -> list[str]:
    demo = emu.services["demo-web"]
    elbv2 = emu.client("elbv2")
    listener = demo.production_rule_arn.replace("listener-rule/", "listener/").rsplit("/", 1)[0]
    balancer_arn = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["LoadBalancerArn"]
    balancer = elbv2.describe_load_balancers(LoadBalancerArns=[balancer_arn])["LoadBalancers"][0]
    subnets = ",".join(zone["SubnetId"] for zone in balancer["AvailabilityZones"])
    return [
        "selftest",
        "--listener-arn", listener,
        "--cluster", demo.cluster,
        "--subnets", subnets,
        "--security-groups", ",".join(balancer.get("SecurityGroups", [])),
        "--image", "demo-web:v1",
        "--image", "demo-web:v2",
        "--task-definition", "demo-web",
        "--interval", "0.05",
    ]  # fmt: skip


def leftovers(emu: Emulator) -> list[Any]:
    ecs, elbv2 = emu.client("ecs"), emu.client("elbv2")
    demo = emu.services["demo-web"]
    services = ecs.list_services(cluster=demo.cluster)["serviceArns"]
    left: list[Any] = [
        s["serviceName"]
        for s in ecs.describe_services(cluster=demo.cluster, services=services)["services"]
        if s["serviceName"].startswith(PREFIX) and s["status"] == "ACTIVE"
    ]
    left += [
        g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"] if PREFIX in g["TargetGroupName"]
    ]
    left += [
        r["repositoryName"]
        for r in emu.client("ecr").describe_repositories()["repositories"]
        if PREFIX in r["repositoryName"]
    ]
    left += [p["Name"] for p in emu.client("ssm").describe_parameters()["Parameters"] if PREFIX in p["Name"]]
    listener = demo.production_rule_arn.replace("listener-rule/", "listener/").rsplit("/", 1)[0]
    left += [
        r["RuleArn"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if PREFIX in str(r["Conditions"])
    ]
    return left


def test_selftest_runs_three_releases_and_leaves_nothing_behind(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the emulator's stack and the demo service's load balancer, when selftest runs
    code = main(selftest_arguments(emu))
    out = capsys.readouterr().out
    # Then a first release and a full one succeed, the third is rolled back, and everything is deleted
    assert code == 0, out
    assert out.count("succeeded; production on") == 2
    assert "rolled back" in out and "production still on" in out
    assert "deleted everything it created" in out
    assert leftovers(emu) == []


def test_selftest_deletes_everything_when_a_release_fails(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a second image that does not exist (the first release works, creating it all; the second fails)
    arguments = selftest_arguments(emu)
    arguments[arguments.index("demo-web:v2")] = "demo-web:no-such-tag"
    # When selftest runs, then it fails saying why, and still leaves nothing behind
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert "image demo-web:no-such-tag not found in ECR" in captured.err
    assert "deleted everything it created" in captured.out
    assert leftovers(emu) == []
