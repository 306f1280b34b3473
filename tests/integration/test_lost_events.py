"""Lost events on the emulator: kept failures and their replay, the reconciler, each leftover it repairs."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from bluegreen_cli.replay import replay
from bluegreen_emulator.dataplane import Timing
from bluegreen_emulator.emulator import ACCOUNT, REGION, Emulator
from bluegreen_emulator.seed import push_image
from tests.integration.helpers import snapshot, wait_for_gate, wait_until

FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)
PAST_GRACE = 600  # simulated seconds: an end older than the reconciler's grace, a push older than its wait


@pytest.fixture
def manual():
    with Emulator(auto_approve=False, timing=FAST) as emu:
        yield emu


def _end_events(status: str = "any") -> Any:
    """A fault: every status-change event of an end is answered ``status`` for ExecutionEnded."""

    def fault(function: str, event: dict[str, Any]) -> str | None:
        if function != "ExecutionEndedFunction":
            return None
        return None if event.get("detail", {}).get("status") == "RUNNING" else status

    return fault


def _stop_waiting_for_approval(emu: Emulator, service: str) -> str:
    arn = emu.start(service, "v2")
    gate = wait_for_gate(emu, service, "approval")
    wait_until(lambda: emu.store.get_gate(gate.gateId).ts)
    emu.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped")
    assert emu.wait(arn).status == "ABORTED"
    return arn


class _LambdaThroughTheEmulator:
    """``lambda.invoke`` as the operator's CLI makes it, run by the emulator's dispatcher.

    (moto's own Invoke is routed to the state machine's path, which checks the state machine role.)
    """

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        assert InvocationType == "RequestResponse"
        headers: dict[str, str] = {}
        raw = self.emu.dispatcher.invoke(FunctionName, Payload, headers)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(raw)}
        if headers.get("x-amz-function-error"):
            response["FunctionError"] = headers["x-amz-function-error"]
        return response


def _kept(emu: Emulator) -> list[dict[str, Any]]:
    sqs = emu.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=emu.failed_events_queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return [{"visible": int(attributes["ApproximateNumberOfMessages"])}]


# --- the reconciler --------------------------------------------------------------------------------
def test_a_lost_end_event_leaves_lock_gate_and_green_until_the_reconciler_repairs_them(manual):
    # Given a deployment waiting for approval, stopped, whose status-change event never reaches ExecutionEnded
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    manual.async_lambda.faults.append(_end_events("drop"))
    arn = _stop_waiting_for_approval(manual, demo.name)

    # Then green, the lock and the open gate are left behind
    assert len(snapshot(manual, demo.name)["taskSets"]) == 2
    assert manual.store.lock_holder(demo.name) == arn
    assert manual.store.open_gate_of(demo.name) is not None

    # When the reconciler runs after the grace period
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then it ran the execution-ended path: everything is as before the deployment, and it says what it did
    assert snapshot(manual, demo.name) == before
    assert manual.store.lock_holder(demo.name) is None
    assert manual.store.open_gate_of(demo.name) is None
    kinds = {r["kind"] for r in report["repairs"] if r["executionArn"] == arn}
    assert {"deployment", "green", "lock", "gate"} <= kinds
    assert manual.store.deployment_of(demo.name, arn)["status"] != "RUNNING"
    assert {r["kind"] for r in manual.store.repairs_of(demo.name, limit=10)} >= {"green", "lock", "gate"}
    repaired = [e for e in manual.deployment_events() if e["detail-type"] == "Leftover Repaired"]
    assert {e["detail"]["kind"] for e in repaired} >= {"green", "lock", "gate"}

    # And a second run finds nothing left to do
    assert manual.reconcile()["repairs"] == []


def test_the_reconciler_never_touches_a_running_deployment(manual):
    # Given a deployment waiting for approval (running, green up, gate open, lock held)
    demo = manual.seed_service()
    arn = manual.start(demo.name, "v2")
    gate = wait_for_gate(manual, demo.name, "approval")
    during = snapshot(manual, demo.name)

    # When the reconciler runs
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then it left it alone: nothing repaired, everything as it was, and the deployment can still finish
    assert report["repairs"] == []
    assert arn in report["leftAlone"]
    assert snapshot(manual, demo.name) == during
    assert manual.store.lock_holder(demo.name) == arn
    assert manual.store.open_gate_of(demo.name).gateId == gate.gateId
    manual.client("stepfunctions").stop_execution(executionArn=arn)
    manual.wait(arn)


def test_a_pending_release_behind_a_lost_end_is_started_by_the_reconciler(manual):
    # Given a push queued behind a running deployment, and that deployment's end event lost
    demo = manual.seed_service(config_overrides={"tagPattern": r"v\d+"})
    manual.async_lambda.faults.append(_end_events("drop"))
    arn = manual.start(demo.name, "v2")
    wait_for_gate(manual, demo.name, "approval")
    push_image(manual.client("ecr"), demo.repository, "v5")
    wait_until(lambda: manual.store.pending_of(demo.name) is not None)
    manual.client("stepfunctions").stop_execution(executionArn=arn)
    manual.wait(arn)
    assert manual.store.pending_of(demo.name) is not None

    # When the reconciler runs
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then the stopped deployment was cleaned up and the pending release started
    (pending,) = [r for r in report["repairs"] if r["kind"] == "pending"]
    assert manual.store.pending_of(demo.name) is None
    started = pending["executionArn"]
    assert started != arn
    described = manual.client("stepfunctions").describe_execution(executionArn=started)
    assert json.loads(described["input"])["imageTag"] == "v5"
    manual.wait(started)


def test_a_gate_whose_execution_is_gone_is_closed_and_its_deployment_cleaned_up(manual):
    # Given a deployment waiting for approval whose execution then disappears (its history is gone)
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    manual.async_lambda.faults.append(_end_events("drop"))
    arn = _stop_waiting_for_approval(manual, demo.name)
    for machine in stepfunctions_parser_backends[ACCOUNT][REGION].state_machines:
        machine.executions[:] = [e for e in machine.executions if e.exec_arn != arn]

    # When the reconciler runs
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then it was cleaned up from its saved context: the gate is closed, the lock released, green deleted
    assert {r["kind"] for r in report["repairs"] if r["executionArn"] == arn} >= {"green", "lock", "gate"}
    assert manual.store.open_gate_of(demo.name) is None
    assert manual.store.lock_holder(demo.name) is None
    assert snapshot(manual, demo.name) == before


def test_an_unseen_push_is_reported_once(manual):
    # Given a service that auto-deploys v-tags, deployed once, and a push whose ECR event is lost
    demo = manual.seed_service(config_overrides={"tagPattern": r"v\d+", "approval": {"required": False}})
    manual.auto_approve = True
    manual.run(demo.name, "v2")
    manual.async_lambda.faults.append(lambda function, event: "drop" if function == "EcrTriggerFunction" else None)
    digest = push_image(manual.client("ecr"), demo.repository, "v9")
    assert manual.store.lock_holder(demo.name) is None  # nothing started

    # When the reconciler runs a few minutes later
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then it reports the push (event, record for bluegreen status), and only once
    (push,) = [r for r in report["repairs"] if r["kind"] == "unseen-push"]
    assert (push["imageTag"], push["imageDigest"]) == ("v9", digest)
    assert "bluegreen deploy" in push["action"]
    unseen = [e for e in manual.deployment_events() if e["detail-type"] == "Image Push Unseen"]
    assert [e["detail"]["imageDigest"] for e in unseen] == [digest]
    assert manual.store.repairs_of(demo.name, limit=1)[0]["kind"] == "unseen-push"
    notes = [c.args.get("text", "") for c in manual.slack.calls_to("chat.postMessage")]
    assert [n for n in notes if "push of v9 was not deployed" in n], notes
    assert [r for r in manual.reconcile()["repairs"] if r["kind"] == "unseen-push"] == []


# --- kept failures and their replay -------------------------------------------------------------------
def test_an_end_event_failing_past_its_retries_is_kept_and_replayed_once(manual):
    # Given a stopped deployment whose ExecutionEnded invocation fails on every attempt
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    fault = _end_events("fail")
    manual.async_lambda.faults.append(fault)
    arn = _stop_waiting_for_approval(manual, demo.name)

    # Then the invocation record (AWS's shape) is kept in the failed-events queue
    (record,) = [r for r in manual.async_lambda.kept if "requestContext" in r]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"]["executionArn"] == arn
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert set(record["responsePayload"]) >= {"errorType", "errorMessage"}
    assert _kept(manual) == [{"visible": 1}]
    manual.async_lambda.faults.remove(fault)

    # When the operator lists, then replays them
    sqs, lam = manual.client("sqs"), _LambdaThroughTheEmulator(manual)
    listed = replay(sqs, lam, manual.failed_events_queue, dry_run=True)
    assert [(f.function_name, f.kind) for f in listed.listed] == [
        (manual.function_name("ExecutionEndedFunction"), "invocation record")
    ]
    assert listed.replayed == [] and _kept(manual) == [{"visible": 1}]
    done = replay(sqs, lam, manual.failed_events_queue)

    # Then the end was handled, the message removed, and a second replay does nothing
    assert len(done.replayed) == 1 and done.failed == []
    assert snapshot(manual, demo.name) == before
    assert manual.store.lock_holder(demo.name) is None
    assert manual.store.open_gate_of(demo.name) is None
    assert _kept(manual) == [{"visible": 0}]
    again = replay(sqs, lam, manual.failed_events_queue)
    assert again.listed == [] and again.replayed == []


def test_an_undeliverable_event_goes_to_the_rule_dead_letter_queue_and_replays(manual):
    # Given EventBridge cannot invoke ExecutionEnded for a stopped deployment
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    fault = _end_events("undeliverable")
    manual.async_lambda.faults.append(fault)
    _stop_waiting_for_approval(manual, demo.name)
    manual.async_lambda.faults.remove(fault)

    # When the operator replays the kept events
    report = replay(manual.client("sqs"), _LambdaThroughTheEmulator(manual), manual.failed_events_queue)

    # Then the dead letter was re-delivered to its target and nothing is left behind
    assert [f.kind for f in report.replayed] == ["dead letter"]
    assert json.dumps(report.replayed[0].event).count("Step Functions Execution Status Change") == 1
    assert snapshot(manual, demo.name) == before
    assert manual.store.lock_holder(demo.name) is None


def test_a_duplicated_end_event_is_handled_once(manual):
    # Given every end event delivered twice
    demo = manual.seed_service()
    before = snapshot(manual, demo.name)
    manual.async_lambda.faults.append(_end_events("duplicate"))

    # When a deployment is stopped
    _stop_waiting_for_approval(manual, demo.name)

    # Then the second delivery changed nothing and failed nothing
    assert snapshot(manual, demo.name) == before
    assert manual.async_lambda.kept == []
    assert manual.dispatcher.invocations["ExecutionEndedFunction"] >= 2


def test_while_another_deployment_runs_an_old_lost_end_restores_nothing(manual):
    # Given a stopped deployment whose end event was lost (its green and gate still there) ...
    demo = manual.seed_service()
    manual.async_lambda.faults.append(_end_events("drop"))
    old = _stop_waiting_for_approval(manual, demo.name)
    # ... and since then another deployment of the service runs and holds the lock (it never advances here)
    from moto.stepfunctions.models import StepFunctionBackend

    backend = stepfunctions_parser_backends[ACCOUNT][REGION]
    running = StepFunctionBackend.start_execution(
        backend, manual.state_machine_arn, "demo-web-newer", json.dumps({"service": demo.name})
    ).execution_arn
    manual.store.acquire_lock(demo.name, running)
    during = snapshot(manual, demo.name)

    # When the reconciler runs
    manual.clock.advance(PAST_GRACE)
    report = manual.reconcile()

    # Then the old deployment's end is recorded and its gate closed, but no route or task set is touched and
    # the new lock stays
    assert snapshot(manual, demo.name) == during
    assert manual.store.lock_holder(demo.name) == running
    assert running in report["leftAlone"]
    assert manual.store.deployment_of(demo.name, old)["status"] != "RUNNING"
    assert manual.store.open_gate_of(demo.name) is None
    assert {r["kind"] for r in report["repairs"] if r["executionArn"] == old} == {"deployment", "gate"}
