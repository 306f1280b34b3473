"""The ``bluegreen`` operator commands, run in process against the emulator (the real state machine on moto).

Each test calls ``main([...])`` as a user would type the command and checks what the user sees (stdout,
stderr, exit status) and what happened in AWS (execution, production rule, task sets).
"""

from __future__ import annotations

import _thread
import contextlib
import io
import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from bluegreen.domain.gates import Gate
from bluegreen_cli.main import main
from bluegreen_cli.operator import Clients, Operator
from bluegreen_emulator.emulator import Emulator

pytestmark = pytest.mark.slow

CALLER = "arn:aws:sts::123456789012:user/moto"  # moto's GetCallerIdentity
ANSI = "\x1b["
MILESTONES = ["Validate", "CreateGreen", "WaitHealthy", "AwaitApproval", "Swap", "Bake", "DeleteOld", "Deployed"]


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is captured, not a terminal: no environment variable may force colours on."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def _attach(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("BLUEGREEN_STATE_MACHINE_ARN", emu.state_machine_arn)
    monkeypatch.setenv("BLUEGREEN_TABLE", emu.store.table.name)
    return emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The emulator without auto-approval: gates wait for the CLI."""
    with Emulator(auto_approve=False) as emulator:
        yield _attach(emulator, monkeypatch)


@pytest.fixture
def auto_emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The emulator approving every approval gate itself."""
    with Emulator() as emulator:
        yield _attach(emulator, monkeypatch)


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str, deadline: float = 60.0) -> tuple[int, str, str]:
        # A deployment that never ends must fail the test, not hang it: interrupt `follow` (exit status 130).
        watchdog = threading.Timer(deadline, _thread.interrupt_main)
        watchdog.start()
        try:
            code = main(list(argv))
        finally:
            watchdog.cancel()
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.err
        assert ANSI not in captured.out + captured.err  # not a terminal: plain text
        return code, captured.out, captured.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def execution_arn(out: str) -> str:
    match = re.search(r"^Execution: (arn:aws:states:\S+)$", out, re.MULTILINE)
    assert match, out
    return match.group(1)


@contextlib.contextmanager
def gate_open(emu: Emulator, service: str, kind: str, timeout: float = 30.0) -> Iterator[Gate]:
    """Wait (real time) for the service's pending gate of ``kind``.

    Simulated time stands still inside the block, as the emulator does for a Slack click: the gate's
    timeout would otherwise pass in a fraction of a second of real time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with emu.clock.hold():
            gate = emu.store.open_gate_of(service)
            if gate and gate.kind == kind:
                yield gate
                return
        time.sleep(0.005)
    raise AssertionError(f"no {kind} gate opened for {service} within {timeout}s")


def in_order(milestones: list[str], states: list[str]) -> bool:
    """``milestones`` appear in ``states`` in this order (other states may come between them)."""
    remaining = iter(states)
    return all(milestone in remaining for milestone in milestones)


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ")
    return err.strip()


def serving(emu: Emulator, service: str) -> tuple[str, dict[str, int]]:
    """(image tag of the only task set, production weights)."""
    (task_set,) = emu.task_sets(service)
    return task_set["imageTag"], emu.production_weights(service)


def test_deploy_then_approve_puts_v2_in_production(emu, cli):
    demo = emu.seed_service()
    blue, green = demo.target_groups

    code, out, err = cli("deploy", demo.name, "v2")

    assert (code, err) == (0, "")
    arn = execution_arn(out)
    assert f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/{arn}" in out
    started = json.loads(emu.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    assert started == {
        "service": demo.name,
        "imageTag": "v2",
        "imageDigest": demo.digests["v2"],
        "requestedBy": CALLER,
    }

    with gate_open(emu, demo.name, "approval") as gate:
        code, out, _ = cli("status")
        assert code == 0
        assert re.search(rf"{demo.name}\s+running: AwaitApproval\s+v2\s+user/moto", out), out
        assert f"{gate.gateId} approval, expires" in out
        assert f"bluegreen approve {demo.name}" in out

        code, out, err = cli("approve", demo.name, "--reason", "checked on the test URL")

    assert (code, err) == (0, "")
    assert gate.gateId in out and arn in out
    result = emu.wait(arn)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert in_order(MILESTONES, result.states), result.states
    assert serving(emu, demo.name) == ("v2", {green: 100, blue: 0})
    decided = emu.store.get_gate(gate.gateId)
    assert (decided.status, decided.decidedBy, decided.reason) == (
        "APPROVED",
        f"iam:{CALLER}",
        "checked on the test URL",
    )

    # A second approval is refused: nothing is sent to Step Functions again.
    code, _, err = cli("approve", demo.name)
    assert code == 1
    line = one_line(err)
    assert f"approval {gate.gateId} of {demo.name} v2 was already approved by iam:{CALLER}" in line

    code, out, _ = cli("status", demo.name)
    assert code == 0
    assert re.search(rf"{demo.name}\s+deployed\s+v2\s+user/moto", out), out

    code, out, _ = cli("history", demo.name, "--limit", "5")
    assert code == 0
    assert re.search(r"v2\s+deployed\s+\S+\s+user/moto\s+" + re.escape(arn.rsplit(":", 1)[-1]), out), out


def test_reject_with_a_reason_fails_the_deployment_and_leaves_production_alone(emu, cli):
    demo = emu.seed_service()
    before = serving(emu, demo.name)
    code, out, _ = cli("deploy", demo.name, "v2")
    arn = execution_arn(out)
    with gate_open(emu, demo.name, "approval") as gate:
        # Production was not switched yet: there is nothing to roll back, and the user is told what to do.
        code, _, err = cli("rollback", demo.name)
        assert code == 1
        line = one_line(err)
        assert f"nothing to roll back for '{demo.name}'" in line
        assert f"approval {gate.gateId}" in line and f"bluegreen reject {demo.name}" in line

        code, out, err = cli("reject", demo.name, "--reason", "wrong build")

    assert (code, err) == (0, "")
    assert f"Rejected {gate.gateId}" in out
    result = emu.wait(arn)
    assert (result.status, result.error) == ("FAILED", "Rejected")
    assert f"Rejected by iam:{CALLER}: wrong build" in result.cause
    assert serving(emu, demo.name) == before

    code, out, _ = cli("history", demo.name)
    assert code == 0 and "cleaned up" in out and "Rejected" in out


def test_rollback_during_the_bake_puts_v1_back(emu, cli):
    demo = emu.seed_service(config_overrides={"bakeSeconds": 3600})
    before = serving(emu, demo.name)
    _, out, _ = cli("deploy", demo.name, "v2")
    arn = execution_arn(out)
    with gate_open(emu, demo.name, "approval"):
        assert cli("approve", demo.name)[0] == 0
    with gate_open(emu, demo.name, "bake") as bake:
        code, out, err = cli("status", demo.name)
        assert code == 0 and "running: Bake" in out and f"{bake.gateId} bake" in out

        code, out, err = cli("rollback", demo.name, "--reason", "p99 latency doubled")

    assert (code, err) == (0, "")
    assert bake.gateId in out
    result = emu.wait(arn)
    assert (result.status, result.error) == ("FAILED", "RolledBack")
    assert "ManualRollback" in result.cause and "p99 latency doubled" in result.cause
    assert serving(emu, demo.name) == before  # v1 alone, production forwarding to it only

    code, _, err = cli("rollback", demo.name)
    assert code == 1
    line = one_line(err)
    assert f"nothing to roll back for '{demo.name}'" in line
    assert f"bake {bake.gateId} was already rolled back by iam:{CALLER}" in line


def test_usage_errors_are_one_line_with_a_hint(emu, cli):
    demo = emu.seed_service()
    sfn = emu.client("stepfunctions")

    code, out, err = cli("deploy", "nope", "v2")
    assert (code, out) == (2, "")
    assert one_line(err) == (
        "error: unknown service 'nope' (no SSM parameter /bluegreen/services/nope); "
        "check the name or create its configuration"
    )

    code, _, err = cli("deploy", demo.name, "v9")
    assert code == 2
    assert one_line(err).startswith(f"error: image {demo.name}:v9 not found in ECR")

    code, _, err = cli("deploy", demo.name, "latest")
    assert code == 2 and "moving tag" in one_line(err)

    code, _, err = cli("deploy", demo.name, "v2", "--digest", demo.digests["v3"])
    assert code == 2 and f"points to {demo.digests['v2']}" in one_line(err)

    code, _, err = cli("approve", "nope")
    assert code == 2 and "unknown service 'nope'" in one_line(err)

    code, _, err = cli("history", "nope")
    assert code == 2 and "unknown service 'nope'" in one_line(err)

    code, _, err = cli("status", "nope")
    assert code == 2 and "unknown service 'nope'" in one_line(err)

    code, _, err = cli("follow", "not-an-arn")
    assert code == 2 and "is not an execution ARN" in one_line(err)
    unknown = emu.state_machine_arn.replace(":stateMachine:", ":execution:") + ":never-started"
    code, _, err = cli("follow", unknown)
    assert code == 2 and f"no execution {unknown}" in one_line(err)

    code, _, err = cli("deploy", demo.name)  # argparse: missing TAG
    assert code == 2 and "TAG" in err

    # Nothing to answer: refused with exit status 1
    code, _, err = cli("rollback", demo.name)
    assert code == 1
    assert one_line(err).startswith(f"error: nothing to roll back for '{demo.name}': no bake or keep-old hold is open")
    code, _, err = cli("finish", demo.name)
    assert code == 1 and "nothing to finish" in one_line(err)

    assert sfn.list_executions(stateMachineArn=emu.state_machine_arn)["executions"] == []


def test_state_machine_and_table_come_from_the_stack_outputs(emu, cli, monkeypatch):
    demo = emu.seed_service()
    monkeypatch.delenv("BLUEGREEN_STATE_MACHINE_ARN")
    monkeypatch.delenv("BLUEGREEN_TABLE")
    monkeypatch.delenv("BLUEGREEN_STACK", raising=False)
    outputs = {"DeploymentStateMachineArn": emu.state_machine_arn, "DeploymentsTableName": emu.store.table.name}
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    emu.client("cloudformation").create_stack(StackName="ecs-bluegreen", TemplateBody=json.dumps(template))

    code, out, _ = cli("deploy", demo.name, "v2")  # the default stack name
    assert code == 0
    assert execution_arn(out).startswith(emu.state_machine_arn.replace(":stateMachine:", ":execution:"))
    with gate_open(emu, demo.name, "approval"):
        code, out, _ = cli("status", "--stack", "ecs-bluegreen")  # AWS options after the command, too
        assert code == 0 and "running: AwaitApproval" in out
        assert cli("reject", demo.name)[0] == 0

    code, out, err = cli("--stack", "other", "status")
    assert (code, out) == (2, "")
    assert one_line(err) == (
        "error: stack 'other' not found; pass --stack (or set BLUEGREEN_STACK), "
        "or set BLUEGREEN_STATE_MACHINE_ARN and BLUEGREEN_TABLE"
    )
    monkeypatch.setenv("BLUEGREEN_STACK", "other")
    assert cli("history", demo.name)[0] == 2


def test_finish_ends_the_keep_old_hold(auto_emu, cli):
    demo = auto_emu.seed_service(config_overrides={"keepOld": {"enabled": True, "timeoutSeconds": 86400}})
    _, out, _ = cli("deploy", demo.name, "v2")
    arn = execution_arn(out)

    with gate_open(auto_emu, demo.name, "keep-old") as hold:
        assert {ts["imageTag"] for ts in auto_emu.task_sets(demo.name)} == {"v1", "v2"}  # old kept on the test rule
        code, out, err = cli("finish", demo.name)

    assert (code, err) == (0, "")
    assert f"Finished {hold.gateId}" in out
    result = auto_emu.wait(arn)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert "HoldOld" in result.states
    assert serving(auto_emu, demo.name)[0] == "v2"
    assert auto_emu.store.get_gate(hold.gateId).decidedBy == f"iam:{CALLER}"


def test_deploy_follow_shows_the_states_and_the_outcome(auto_emu, cli):
    demo = auto_emu.seed_service()

    code, out, err = cli("deploy", demo.name, "v2-broken", "--follow", "--interval", "0.05")

    assert code == 1, out
    assert "Execution FAILED" in out and "HealthCheckTimeout" in out and "Target.ResponseCodeMismatch" in out
    assert "waiting for green to become healthy (timeout 5m00s)" in out

    code, out, err = cli("deploy", demo.name, "v2", "--follow", "--interval", "0.05")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    entered = [line.split("] ", 1)[1] for line in lines if re.match(r"^\s+\[\+\s*\S+\] ", line)]
    arn = execution_arn(out)
    assert entered == auto_emu.wait(arn).states  # every state, in order
    assert in_order(MILESTONES, entered)
    assert f"Following {demo.name} v2: {arn}" in out
    assert "Execution SUCCEEDED" in out
    assert serving(auto_emu, demo.name)[0] == "v2"


def test_follow_on_a_terminal_draws_a_live_view(auto_emu):
    demo = auto_emu.seed_service()
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, highlight=False, markup=False)
    operator = Operator(
        Clients(auto_emu.session),
        out=terminal,
        store=auto_emu.store,
        state_machine_arn=auto_emu.state_machine_arn,
        interval=0.02,
    )

    code = operator.follow(operator.deploy(demo.name, "v3"))

    assert code == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "✓  Deployed" in text and "Execution SUCCEEDED" in text
    assert ANSI in screen.getvalue()  # colours and cursor movement on a terminal
