"""``bluegreen doctor`` against the emulator: the real reads, and SimulatePrincipalPolicy answered from the
stack's template policies (the same engine that authorizes every call of the functions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_cli.main import main
from bluegreen_emulator.emulator import STACK, Emulator
from tests.fast import aws_inventory

pytestmark = pytest.mark.slow


def _list_tasks_on_star() -> bool:
    """Whether template.yaml grants ecs:ListTasks on "*" (how AWS authorizes it without containerInstance)."""
    grants = aws_inventory.template_grants(aws_inventory.yaml_template())
    return all("*" in g["resources"] for g in grants if g["action"] == "ecs:ListTasks")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.setenv("COLUMNS", "400")  # one line per check
    with Emulator() as emulator:
        emulator.seed_service()
        monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emulator.state_machine_arn)
        monkeypatch.setenv("BLUEGREEN_TABLE", emulator.store.table.name)
        monkeypatch.setenv("BLUEGREEN_STACK", STACK)
        yield emulator


def failed_checks(out: str) -> list[str]:
    return [line.split("  FAIL  ")[0].strip() for line in out.splitlines() if "  FAIL  " in line]


def test_doctor_passes_on_the_demo_service(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the seeded demo service, when doctor checks it
    code = main(["doctor", "demo-web"])
    out = capsys.readouterr().out
    # Then every check passes: the controller, routes, target groups, alarm, image and the IAM of each call
    for name in ("deployment controller", "task sets", "production route", "stickiness", "alarm demo-web-5xx"):
        assert name in out
    assert "IAM SwapFunction elasticloadbalancing:ModifyRule" in out
    assert _list_tasks_on_star()  # the template grants ListTasks on "*" scoped by ecs:cluster, as AWS authorizes it
    assert failed_checks(out) == [] and code == 0, out


def test_doctor_fails_when_the_production_rule_is_sticky(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Given stickiness turned on for the production rule's forward action
    demo = emu.services["demo-web"]
    elbv2 = emu.client("elbv2")
    (rule,) = elbv2.describe_rules(RuleArns=[demo.production_rule_arn])["Rules"]
    actions = rule["Actions"]
    forward = next(a for a in actions if a["Type"] == "forward")
    groups = (forward.get("ForwardConfig") or {}).get("TargetGroups") or [
        {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}
    ]
    forward.pop("TargetGroupArn", None)
    forward["ForwardConfig"] = {
        "TargetGroups": groups,
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600},
    }
    elbv2.modify_rule(RuleArn=demo.production_rule_arn, Actions=actions)
    # When doctor checks the service
    code = main(["doctor", "demo-web"])
    out = capsys.readouterr().out
    # Then it fails, and says stickiness defeats the switch
    assert code == 1
    assert any(name.startswith("stickiness ") for name in failed_checks(out)), out
    assert "stickiness is on (3600 s)" in out
    assert "TargetGroupStickinessConfig off" in out


def test_doctor_fails_for_a_missing_alarm(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the demo service's alarm deleted
    emu.client("cloudwatch").delete_alarms(AlarmNames=["demo-web-5xx"])
    # When doctor checks it, then the alarm check fails
    assert main(["doctor", "demo-web"]) == 1
    assert "alarm demo-web-5xx" in failed_checks(capsys.readouterr().out)


def test_doctor_of_an_unknown_service_is_a_usage_error(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "no-such-service"]) == 2
    assert "unknown service 'no-such-service'" in capsys.readouterr().err
