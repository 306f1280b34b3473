"""``bluegreen rollback SERVICE --to-previous``: the previous release again, with one swap."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bluegreen.aws import elbv2
from bluegreen_cli.main import main
from bluegreen_emulator.emulator import Emulator
from tests.integration.helpers import live_task_sets, wait_until

pytestmark = pytest.mark.slow


def _attach(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emu.state_machine_arn)
    monkeypatch.setenv("BLUEGREEN_TABLE", emu.store.table.name)
    return emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield _attach(emulator, monkeypatch)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def executions(emu: Emulator) -> list[dict]:
    return emu.client("stepfunctions").list_executions(stateMachineArn=emu.state_machine_arn)["executions"]


def test_to_previous_restores_the_earlier_digest_with_one_swap_and_no_approval(emu, capsys):
    # Given v1 -> v2 deployed (approved) and finished: v2 is live
    demo = emu.seed_service()
    deployed = emu.run(demo.name, "v2")
    assert deployed.outcome == "deployed"
    calls_before = len(emu.recorder.calls)
    approvals_before = len(emu.approvals)

    # When the operator rolls back to the previous release
    code, out, err = cli(capsys, "rollback", demo.name, "--to-previous", "--reason", "checkout slow", "--follow")

    # Then a new deployment put v1's digest back in production, through health gate, swap and bake
    assert (code, err) == (0, ""), out
    assert "back from v2 to v1" in out and "approval skipped" in out
    (task_set,) = emu.task_sets(demo.name)
    assert task_set["image"].endswith("@" + demo.digests["v1"])
    assert task_set["status"] == "PRIMARY"
    blue, green = demo.target_groups
    assert emu.production_weights(demo.name) == {blue: 100, green: 0}
    assert elbv2.forward_weights(emu.rule_actions(demo.test_rule_arn)) == {green: 1}
    rollback = next(e for e in executions(emu) if e["executionArn"] != deployed.execution_arn)
    result = emu.wait(rollback["executionArn"])
    assert "AwaitApproval" not in result.states and {"WaitHealthy", "Swap", "Bake"} <= set(result.states)
    assert len(emu.approvals) == approvals_before
    # ... in exactly one ModifyRule on the production rule
    production_calls = [
        c
        for c in emu.recorder.calls[calls_before:]
        if c.operation == "ModifyRule" and c.params.get("RuleArn") == demo.production_rule_arn
    ]
    assert len(production_calls) == 1
    # ... the history states it was a rollback with the approval skipped, and marks it live
    (item,) = [i for i in emu.store.deployments(demo.name) if i["executionArn"] == rollback["executionArn"]]
    assert (item["status"], item["rollbackOf"], item["approvalSkipped"]) == ("deployed", deployed.execution_arn, True)
    assert item["imageDigest"] == demo.digests["v1"]
    code, out, _ = cli(capsys, "history", demo.name)
    assert code == 0
    rollback_row = next(line for line in out.splitlines() if rollback["name"] in line)
    assert "LIVE, rollback of" in rollback_row, out
    assert "approval skipped" in out
    # ... and the events tell the story of a rollback
    started = emu.deployment_events(rollback["executionArn"])[0]["detail"]
    assert started["rollbackOf"] == deployed.execution_arn
    # ... and the stats count v2 as a change failure restored by the rollback
    code, out, _ = cli(capsys, "stats", demo.name, "--json")
    assert code == 0
    stats = json.loads(out)["services"][demo.name]
    assert (stats["succeeded"], stats["reachedProduction"], stats["changeFailures"]) == (2, 2, 1)
    assert stats["changeFailureRate"] == 0.5 and stats["rollbacksToPrevious"] == 1
    assert stats["timeToRestoreSeconds"]["count"] == 1 and stats["timeToRestoreSeconds"]["median"] > 0
    assert stats["approvalWaitSeconds"]["count"] == 1  # v2 was approved; the rollback skipped it


def _environment(emu: Emulator, service: str) -> tuple[str, dict[str, str]]:
    demo = emu.services[service]
    ecs = emu.client("ecs")
    (task_set,) = live_task_sets(ecs, demo.cluster, demo.name)
    definition = ecs.describe_task_definition(taskDefinition=task_set["taskDefinition"])["taskDefinition"]
    (web,) = [c for c in definition["containerDefinitions"] if c["name"] == demo.config["containerName"]]
    return web["image"], {e["name"]: e["value"] for e in web.get("environment", [])}


def test_to_previous_after_a_configuration_change_restores_the_previous_task_definition(emu, capsys):
    # Given v2 deployed, then only its environment changed (same image): the change is live
    demo = emu.seed_service()
    assert emu.run(demo.name, "v2").outcome == "deployed"
    image_v2, environment_v2 = _environment(emu, demo.name)
    change = {"containers": {demo.config["containerName"]: {"environment": {"STAGE": "broken"}}}}
    changed = emu.wait(
        emu.start(demo.name, "config", raw_input={"service": demo.name, "taskDefinitionOverrides": change})
    )
    assert changed.outcome == "deployed"
    assert _environment(emu, demo.name) == (image_v2, {**environment_v2, "STAGE": "broken"})

    # When the operator rolls back to the previous release
    code, out, err = cli(capsys, "rollback", demo.name, "--to-previous", "--follow")

    # Then v2's whole task definition runs again: its image and its environment
    assert (code, err) == (0, ""), out
    assert _environment(emu, demo.name) == (image_v2, environment_v2)
    rollback = next(e for e in executions(emu) if e["executionArn"] not in (changed.execution_arn,) and
                    "rollback" in e["name"])  # fmt: skip
    started = json.loads(emu.client("stepfunctions").describe_execution(executionArn=rollback["executionArn"])["input"])
    assert started["taskDefinition"].startswith("arn:aws:ecs:") and "imageTag" not in started


def test_history_marks_live_and_what_to_previous_restores(emu, capsys):
    demo = emu.seed_service()
    first = emu.run(demo.name, "v2")
    second = emu.run(demo.name, "v3")
    assert (first.outcome, second.outcome) == ("deployed", "deployed")

    code, out, _ = cli(capsys, "history", demo.name)

    assert code == 0
    row = {
        arn.rsplit(":", 1)[-1]: line
        for line in out.splitlines()
        for arn in (first.execution_arn, second.execution_arn)
        if arn.rsplit(":", 1)[-1] in line
    }
    assert "LIVE" in row[second.execution_arn.rsplit(":", 1)[-1]]
    assert "previous (rollback --to-previous)" in row[first.execution_arn.rsplit(":", 1)[-1]]


def test_no_earlier_release_is_refused_and_starts_nothing(emu, capsys):
    # Given a service never deployed with bluegreen
    demo = emu.seed_service()
    # When rolling back to the previous release
    code, out, err = cli(capsys, "rollback", demo.name, "--to-previous")
    # Then one line says why, exit 1, and no execution was started
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: cannot roll")
    assert "no successful release" in err
    assert executions(emu) == []


def test_a_running_deployment_is_named_and_nothing_starts(emu, capsys):
    # Given a deployment of v2 waiting for its approval
    emu.auto_approve = False
    demo = emu.seed_service()
    arn = emu.start(demo.name, "v2")
    from .helpers import wait_for_gate

    wait_for_gate(emu, demo.name, "approval")
    # When rolling back to the previous release
    code, _, err = cli(capsys, "rollback", demo.name, "--to-previous")
    # Then it is refused, naming the running deployment
    assert code == 1 and arn in err and err.count("\n") == 1
    assert len(executions(emu)) == 1
    # (let the waiting deployment end)
    from bluegreen.aws.decisions import decide

    decide(emu.store, emu.store.open_gate_of(demo.name).gateId, "reject", "test", "done")
    emu.wait(arn)


def _to_previous_button(emu: Emulator) -> tuple[dict, dict]:
    """(the chat.postMessage call, its button) of the message with a Roll back to previous button."""
    for call in emu.slack.calls_to("chat.postMessage"):
        for block in call.args.get("blocks") or []:
            for element in block.get("elements", []):
                if element.get("action_id") == "to_previous":
                    return call, element
    raise AssertionError("no Roll back to previous button was posted")


def click(emu: Emulator, call, value: str, user: str = "U0DEMO") -> dict:
    import json as _json

    from bluegreen_emulator import patches
    from bluegreen_emulator.fake_slack import http_api_event, signed_interaction

    response_url = emu.slack.response_url()
    body, headers = signed_interaction(
        emu.slack_secrets["signingSecret"], user, "to_previous", value, channel=call.args["channel"],
        ts="1700000000.000200", response_url=response_url,
    )  # fmt: skip
    with emu.clock.hold():
        _json.loads(
            emu.dispatcher.invoke(
                emu.function_name("SlackCallbackFunction"), _json.dumps(http_api_event(body, headers)), {}
            )
        )
    # the reply is sent asynchronously after the answer
    assert patches.DELIVERIES.wait_idle(timeout=60), "an asynchronous invocation is still running after 60 s"
    replies = lambda: [c.args for c in emu.slack.responses(response_url.rsplit("/", 1)[-1])]  # noqa: E731
    wait_until(replies, timeout=30)  # the reply reaches the fake Slack over HTTP, on a loaded machine later
    return {"replies": replies()}


def test_the_deployed_message_has_a_roll_back_to_previous_button_that_restores_v1(emu):
    # Given v1 -> v2 deployed: the "deployed" message carries a button back to v1
    demo = emu.seed_service()
    deployed = emu.run(demo.name, "v2")
    call, button = _to_previous_button(emu)
    assert button["value"] == f"{demo.name}|{deployed.execution_arn.rsplit(':', 1)[-1]}"
    # (v1 ran before the first recorded release: its tag is unknown, its digest is not)
    assert button["text"]["text"] == f"Roll back to {demo.digests['v1'][:19]}…"

    # When someone not on the approvers list clicks it, nothing starts
    refused = click(emu, call, button["value"], user="U0INTRUDER")
    assert "not allowed" in str(refused["replies"])
    assert len(executions(emu)) == 1

    # When an approver clicks it
    started = click(emu, call, button["value"])
    assert "Rolling" in str(started["replies"]) and "approval skipped" in str(started["replies"])
    rollback = next(e for e in executions(emu) if e["executionArn"] != deployed.execution_arn)
    result = emu.wait(rollback["executionArn"])

    # Then v1's digest is back in production, without an approval, and the release says who asked
    assert result.status == "SUCCEEDED" and "AwaitApproval" not in result.states
    (task_set,) = emu.task_sets(demo.name)
    assert task_set["image"].endswith("@" + demo.digests["v1"])
    (item,) = [i for i in emu.store.deployments(demo.name) if i["executionArn"] == rollback["executionArn"]]
    assert item["requestedBy"] == "slack:U0DEMO" and item["rollbackOf"] == deployed.execution_arn

    # And a second click on the old message is refused: v2 is no longer the live release
    again = click(emu, call, button["value"])
    assert "no longer the live release" in str(again["replies"])
    assert len(executions(emu)) == 2
