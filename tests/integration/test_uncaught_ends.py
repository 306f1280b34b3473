"""Ends no Catch sees (StopExecution, time limit), odd inputs, unnamed starts, pushes during a deployment."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bluegreen import trigger
from bluegreen.aws.decisions import decide
from bluegreen.domain.models import ExecutionInput
from bluegreen_emulator.dataplane import Timing
from bluegreen_emulator.emulator import Emulator
from bluegreen_emulator.seed import push_image
from tests.integration.helpers import MUTATING, fail_call, snapshot, wait_for_gate, wait_until

FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)
DAY = 86400


@pytest.fixture
def manual():
    with Emulator(auto_approve=False, timing=FAST) as emu:
        yield emu


def _stop(emu: Emulator, arn: str):
    emu.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped from the console")
    return emu.wait(arn)


def _assert_ends_at_the_stop(result) -> None:  # noqa: ANN001 - the emulator's result
    """As in AWS, nothing of the interrupted state is recorded after the stop: the history ends ExecutionAborted."""
    assert result.events[-1]["type"] == "ExecutionAborted"
    assert not [e["type"] for e in result.events if e["type"] in ("TaskFailed", "TaskTimedOut")]


def _assert_clean(emu: Emulator, service: str, before: dict) -> None:
    """Nothing left behind: rules and task sets as before the deployment, lock released, no open gate."""
    assert snapshot(emu, service) == before
    assert emu.store.lock_holder(service) is None
    assert emu.store.open_gate_of(service) is None


# --- StopExecution -------------------------------------------------------------------------------
def test_stopping_a_deployment_waiting_for_approval_deletes_green_and_closes_the_gate(manual):
    # Given a deployment holding green behind the test rule, waiting for approval (Slack message posted)
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    arn = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")
    wait_until(lambda: manual.store.get_gate(gate.gateId).ts)
    assert len(snapshot(manual, demo.name)["taskSets"]) == 2

    # When someone stops the execution (console / CLI)
    result = _stop(manual, arn)

    # Then it ends ABORTED, no further state ran, and the execution-ended path left nothing behind
    assert result.status == "ABORTED"
    assert result.states[-1] == "AwaitApproval"
    _assert_ends_at_the_stop(result)
    _assert_clean(manual, demo.name, before)
    closed = manual.store.get_gate(gate.gateId)
    assert closed.status == "EXPIRED"
    message = manual.slack.message(closed.channel, closed.ts)
    assert not any(block.get("type") == "actions" for block in message["blocks"])  # buttons removed
    assert manual.store.deployments(demo.name)[0]["status"] == "cleaned_up"
    assert manual.store.deployments(demo.name)[0]["error"] == "ExecutionAborted"
    # ... and the event bus learns how it ended: the stop is the last milestone
    ended = manual.deployment_events(arn)[-1]
    assert (ended["detail-type"], ended["detail"]["error"]) == ("Deployment Failed", "ExecutionAborted")
    assert ended["detail"]["outcome"] == "cleaned_up"
    # And the next deployment is not refused (TestTargetGroupBusy / DeploymentInProgress)
    follow = manual.start(demo.name, "v3")
    gate = wait_for_gate(manual, demo.name, "approval")
    decide(manual.store, gate.gateId, "approve", "iam:ops")
    assert manual.wait(follow).status == "SUCCEEDED"


def test_stopping_a_deployment_during_the_bake_restores_production(manual):
    # Given production already on green, baking for an hour
    demo = manual.seed_service(config_overrides={"approval": {"required": False}, "bakeSeconds": 3600})
    before = snapshot(manual, demo.name)
    arn = manual.start(demo.name, "v2")
    wait_for_gate(manual, demo.name, "bake")
    assert snapshot(manual, demo.name)["production"] != before["production"]  # production moved

    # When the execution is stopped
    result = _stop(manual, arn)

    # Then production is restored to the saved rules, blue is primary again, green is gone
    assert result.status == "ABORTED"
    assert "Rollback" not in result.states
    _assert_ends_at_the_stop(result)
    _assert_clean(manual, demo.name, before)
    assert [ts["status"] for ts in manual.task_sets(demo.name)] == ["PRIMARY"]
    assert manual.store.deployments(demo.name)[0]["status"] == "rolled_back"
    restores = [
        c for c in manual.recorder.calls if c.function == "ExecutionEndedFunction" and c.operation == "ModifyRule"
    ]
    assert restores and restores[0].params["RuleArn"] == demo.production_rule_arn  # production first


def test_an_execution_reaching_the_time_limit_ends_timed_out_and_is_cleaned_up():
    # Given an emulator whose executions time out after an hour (AWS: a year), and a two-hour approval
    with Emulator(auto_approve=False, timing=FAST, execution_timeout=3600) as emu:
        demo = emu.seed_service(config_overrides={"approval": {"timeoutSeconds": 7200}})
        before = snapshot(emu, demo.name)

        # When nobody answers
        result = emu.run(demo.name, "v2")

        # Then Step Functions ends it TIMED_OUT (no Catch ran) and nothing is left behind
        assert result.status == "TIMED_OUT"
        assert "Cleanup" not in result.states
        _assert_clean(emu, demo.name, before)
        assert emu.store.deployments(demo.name)[0]["error"] == "ExecutionTimedOut"


def test_an_execution_already_cleaned_by_its_catch_is_left_alone(manual):
    # Given a rejected deployment (FAILED through Cleanup)
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    arn = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")
    decide(manual.store, gate.gateId, "reject", "iam:ops")
    result = manual.wait(arn)
    assert (result.status, result.error) == ("FAILED", "Rejected")

    # Then the execution-ended path ran and changed nothing more (idempotent)
    ended = [c for c in manual.recorder.calls if c.function == "ExecutionEndedFunction"]
    assert manual.dispatcher.invocations["ExecutionEndedFunction"] >= 1
    assert not [c for c in ended if c.operation in MUTATING]
    _assert_clean(manual, demo.name, before)
    assert manual.store.deployments(demo.name)[0]["status"] == "cleaned_up"


def test_a_deployment_whose_waits_could_outlive_a_year_is_refused_before_anything_changes(manual):
    demo = manual.seed_service(
        config_overrides={
            "approval": {"timeoutSeconds": 300 * DAY},
            "keepOld": {"enabled": True, "timeoutSeconds": 100 * DAY},
        }
    )
    before = snapshot(manual, demo.name)

    result = manual.run(demo.name, "v2")

    assert (result.status, result.error) == ("FAILED", "InvalidServiceConfig")
    assert "one year" in result.cause and "approval.timeoutSeconds" in result.cause
    _assert_clean(manual, demo.name, before)


# --- inputs and names ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["[]", '["web", "v2"]', '"web"', "42", "null", "true"])
def test_an_input_that_is_not_an_object_fails_with_invalid_input(manual, raw):
    sfn = manual.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=manual.state_machine_arn, input=raw)["executionArn"]

    result = manual.wait(arn)

    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert "expected a JSON object" in result.cause
    assert result.states == ["Validate", "ValidationFailed", "Failed"]


def test_start_execution_without_a_name_gets_a_generated_one_each_time(manual):
    demo = manual.seed_service()
    sfn = manual.client("stepfunctions")
    payload = json.dumps({"service": demo.name, "imageTag": "v2"})

    first = sfn.start_execution(stateMachineArn=manual.state_machine_arn, input=payload)["executionArn"]
    second = sfn.start_execution(stateMachineArn=manual.state_machine_arn, input=payload)["executionArn"]

    names = [arn.rsplit(":", 1)[-1] for arn in (first, second)]
    assert names[0] != names[1] and all(len(name) == 36 for name in names)  # UUIDs

    # Both ran: whichever took the service's lock first deploys, the other was refused (nothing lost by a name)
    def status(arn: str) -> str:
        return sfn.describe_execution(executionArn=arn)["status"]

    wait_until(lambda: "FAILED" in (status(first), status(second)))
    refused, running = (first, second) if status(first) == "FAILED" else (second, first)
    assert manual.wait(refused).error == "DeploymentInProgress"
    _stop(manual, running)


# --- pushes during a deployment ------------------------------------------------------------------
def _executions(emu: Emulator) -> list[dict]:
    sfn = emu.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=emu.state_machine_arn)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_a_push_during_a_deployment_waits_for_it_then_deploys(manual):
    # Given a service deployed on push, with a deployment of v4 waiting for approval
    demo = manual.seed_service(config_overrides={"tagPattern": r"v\d+"})
    ecr = manual.client("ecr")
    push_image(ecr, demo.repository, "v4")
    first = wait_for_gate(manual, demo.name, "approval")

    # When v5 is pushed meanwhile
    digest5 = push_image(ecr, demo.repository, "v5")

    # Then no second execution starts now (nothing fails, no execution name is used up) ...
    assert len(_executions(manual)) == 1
    assert manual.store.pending_of(demo.name)["imageTag"] == "v5"
    # ... and once v4 is deployed, v5 deploys after it
    decide(manual.store, first.gateId, "approve", "iam:ops")
    second = wait_for_gate(manual, demo.name, "approval")
    assert second.executionArn != first.executionArn
    decide(manual.store, second.gateId, "approve", "iam:ops")
    wait_until(lambda: all(e["status"] == "SUCCEEDED" for e in _executions(manual)), timeout=60)
    manual.wait_idle()
    executions = _executions(manual)
    assert len(executions) == 2 and all(e["status"] == "SUCCEEDED" for e in executions)
    (live,) = manual.task_sets(demo.name)
    assert live["image"].endswith(digest5) and live["status"] == "PRIMARY"
    assert manual.store.pending_of(demo.name) is None
    assert manual.store.lock_holder(demo.name) is None


def test_a_newer_push_supersedes_a_waiting_one_and_says_so(manual):
    # Given v4 deploying and v5 waiting for it
    demo = manual.seed_service(config_overrides={"tagPattern": r"v\d+"})
    ecr = manual.client("ecr")
    push_image(ecr, demo.repository, "v4")
    first = wait_for_gate(manual, demo.name, "approval")
    push_image(ecr, demo.repository, "v5")

    # When v6 is pushed before v4 ends
    digest6 = push_image(ecr, demo.repository, "v6")

    # Then v6 replaces v5 in the queue, Slack is told, and after v4 is rejected v6 deploys (v5 never)
    assert manual.store.pending_of(demo.name)["imageTag"] == "v6"
    notes = [c.args.get("text", "") for c in manual.slack.calls_to("chat.postMessage")]
    assert any("supersedes v5" in text for text in notes)
    decide(manual.store, first.gateId, "reject", "iam:ops")
    second = wait_for_gate(manual, demo.name, "approval")
    decide(manual.store, second.gateId, "approve", "iam:ops")
    wait_until(lambda: any(e["status"] == "SUCCEEDED" for e in _executions(manual)), timeout=60)
    manual.wait_idle()
    tags = sorted(json.loads(e["input"])["imageTag"] for e in _executions(manual))
    assert tags == ["v4", "v6"]
    (live,) = manual.task_sets(demo.name)
    assert live["image"].endswith(digest6)


def test_a_push_that_lost_the_race_for_the_lock_is_queued_not_lost(manual):
    # Given a deployment of v4 holding the lock, and a start of v5 by push that raced past the trigger's check
    demo = manual.seed_service(config_overrides={"tagPattern": r"v\d+"})
    ecr = manual.client("ecr")
    push_image(ecr, demo.repository, "v4")
    first = wait_for_gate(manual, demo.name, "approval")
    digest5 = push_image(ecr, demo.repository, "v5-raced")  # no tagPattern match: started by hand below
    request = ExecutionInput(service=demo.name, imageTag="v5-raced", imageDigest=digest5, requestedBy="ecr-push")
    started, _, raced = trigger.start_deployment(manual.client("stepfunctions"), manual.state_machine_arn, request)
    assert started and manual.wait(raced).error == "DeploymentInProgress"

    # Then the release is pending, and deploys after v4 under a fresh name
    assert manual.store.pending_of(demo.name)["imageDigest"] == digest5
    decide(manual.store, first.gateId, "approve", "iam:ops")
    second = wait_for_gate(manual, demo.name, "approval")
    assert second.executionArn != raced
    decide(manual.store, second.gateId, "approve", "iam:ops")
    wait_until(lambda: manual.store.lock_holder(demo.name) is None and not manual.store.pending_of(demo.name))
    manual.wait_idle()
    (live,) = manual.task_sets(demo.name)
    assert live["image"].endswith(digest5)


# --- end tasks that fail for good ----------------------------------------------------------------
def test_a_rollback_that_fails_for_good_ends_at_rollback_and_the_ended_path_restores_production():
    with Emulator(timing=FAST) as emu:
        # Given a deployment whose bake alarm fires, and a Rollback whose rule changes are refused
        demo = emu.seed_service(config_overrides={"approval": {"required": False}, "bakeSeconds": 3600})
        before = snapshot(emu, demo.name)
        fail_call(emu, "ModifyRule", "AccessDenied", function="RollbackFunction")

        # When the execution rolls back
        result = emu.run(demo.name, "v2-5xx")

        # Then it ends FAILED at the Rollback task itself (a redrive resumes there and runs Rollback again) ...
        assert (result.status, result.error) == ("FAILED", "RollbackFailed")
        assert result.states[-1] == "Rollback"
        assert "redrive" in result.cause
        # ... and the execution-ended path, not refused, restored production and left nothing behind
        _assert_clean(emu, demo.name, before)
        assert emu.store.deployments(demo.name)[0]["status"] == "rolled_back"


# --- redrive -----------------------------------------------------------------------------
def test_a_redrive_after_a_rollback_that_failed_for_good_runs_rollback_again():
    with Emulator(timing=FAST) as emu:
        # Given a bake alarm, and rule changes refused to Rollback and to the execution-ended path alike
        demo = emu.seed_service(config_overrides={"approval": {"required": False}, "bakeSeconds": 3600})
        before = snapshot(emu, demo.name)
        installed = list(emu.recorder.before)
        for function in ("RollbackFunction", "ExecutionEndedFunction"):
            fail_call(emu, "ModifyRule", "AccessDenied", function=function)
        failed = emu.run(demo.name, "v2-5xx")
        emu.wait_idle()
        assert (failed.status, failed.error, failed.states[-1]) == ("FAILED", "RollbackFailed", "Rollback")
        assert emu.store.deployments(demo.name)[0]["status"] == "RUNNING"  # nobody could end it
        assert emu.production_weights(demo.name) == {demo.target_groups[0]: 0, demo.target_groups[1]: 100}

        # When the operator fixes the permission and redrives the execution
        emu.recorder.before[:] = installed
        emu.client("stepfunctions").redrive_execution(executionArn=failed.execution_arn)
        redriven = emu.wait(failed.execution_arn)

        # Then Rollback ran again from its own input: production is back on blue and nothing is left behind
        assert (redriven.status, redriven.error) == ("FAILED", "RolledBack"), redriven.cause
        assert [e["type"] for e in redriven.events].count("ExecutionRedriven") == 1
        _assert_clean(emu, demo.name, before)
        assert emu.store.deployments(demo.name)[0]["status"] == "rolled_back"


def test_a_redrive_of_a_deployment_already_cleaned_up_is_stopped_at_once(manual):
    # Given a deployment stopped while it waited for approval: the execution-ended path cleaned it up
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    arn = manual.start(demo.name, "v2")
    wait_for_gate(manual, demo.name, "approval")
    assert _stop(manual, arn).status == "ABORTED"
    manual.wait_idle()
    _assert_clean(manual, demo.name, before)

    # When someone redrives it (AWS allows redriving an aborted execution)
    manual.client("stepfunctions").redrive_execution(executionArn=arn)
    redriven = manual.wait(arn)
    manual.wait_idle()

    # Then it is stopped at once, says why, and nothing came back: no green, no gate, no lock
    assert redriven.status == "ABORTED"

    def aborted_cause() -> str:
        events = manual.history(arn)
        redriven_at = max(i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven")
        ends = [e for e in events[redriven_at:] if e["type"] == "ExecutionAborted"]
        return ends[0]["executionAbortedEventDetails"].get("cause", "") if ends else ""

    wait_until(lambda: "Redrive refused" in aborted_cause())  # (the history is written as the worker ends)
    _assert_clean(manual, demo.name, before)
    assert manual.store.deployments(demo.name)[0]["status"] == "cleaned_up"


def test_a_running_or_succeeded_execution_cannot_be_redriven(manual):
    demo = manual.seed_service()
    arn = manual.start(demo.name, "v2")
    wait_for_gate(manual, demo.name, "approval")
    with pytest.raises(ClientError) as refused:
        manual.client("stepfunctions").redrive_execution(executionArn=arn)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    _stop(manual, arn)
