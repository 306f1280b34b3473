"""Event chaos: EventBridge deliveries dropped, duplicated, delayed, undeliverable, or failing past their retries.

AWS delivers ``Step Functions Execution Status Change`` and ECR pushes on a best-effort basis, an
asynchronous invocation that keeps failing is dropped after two retries (here: kept in the stack's
failed-events queue), and any event may arrive twice or late. Each case below runs one deployment with
one kind of loss on one kind of event, then does what operators and the stack do about it: the held
(delayed) deliveries arrive, ``bluegreen events replay`` re-delivers what was kept, the reconciler runs
after its grace period. Then nothing may be left behind (no lock, no gate, one primary task set that
production forwards to) and no release may stay in production while its alarm is in ALARM.

A lost *alarm* event is caught by Bake's end-of-bake re-read of the alarms (the alarms-safe change);
without it such a release goes through, and the check below counts it in
``releases left in production with an alarm in ALARM`` (its test is marked expected-to-fail until then).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from bluegreen_cli.replay import replay

from .dataplane import Timing
from .emulator import ACCOUNT, REGION, Emulator
from .faults import Invariants
from .seed import push_image

FAST = Timing(task_start=2, healthy_after=2, alarm_delay=2)
PAST_GRACE = 600.0  # simulated seconds before the reconciler's run: past its grace and its push wait


def _ends(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.states" and event.get("detail", {}).get("status") != "RUNNING"


def _any(event: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Case:
    function: str  # whose deliveries are lost
    fault: str  # drop, duplicate, delay, fail, undeliverable (see async_invoke)
    how: str  # "stop": stopped while waiting for approval; "deploy": a full release; "push": an ECR push
    tag: str = "v2"
    expected: str = "cleaned_up"  # the outcome the deployment must end with ("" for a push)
    match: Callable[[dict[str, Any]], bool] = _any
    alarm: bool = False  # the release fires its alarm during the bake


CASES: dict[str, Case] = {
    "stopped / end event dropped": Case("ExecutionEndedFunction", "drop", "stop", match=_ends),
    "stopped / end event failing past its retries": Case("ExecutionEndedFunction", "fail", "stop", match=_ends),
    "stopped / end event undeliverable": Case("ExecutionEndedFunction", "undeliverable", "stop", match=_ends),
    "stopped / end event duplicated": Case("ExecutionEndedFunction", "duplicate", "stop", match=_ends),
    "stopped / end event delayed": Case("ExecutionEndedFunction", "delay", "stop", match=_ends),
    "deployed / end event dropped": Case("ExecutionEndedFunction", "drop", "deploy", expected="deployed", match=_ends),
    "deployed / end event duplicated": Case(
        "ExecutionEndedFunction", "duplicate", "deploy", expected="deployed", match=_ends
    ),
    "push / ECR event dropped": Case("EcrTriggerFunction", "drop", "push", tag="v7", expected=""),
    "push / ECR event duplicated": Case("EcrTriggerFunction", "duplicate", "push", tag="v7", expected="deployed"),
    "push / ECR event failing past its retries": Case("EcrTriggerFunction", "fail", "push", tag="v7", expected=""),
}
ALARM_CASES: dict[str, Case] = {
    "alarm / alarm event dropped": Case(
        "AlarmEventFunction", "drop", "deploy", tag="v2-5xx", expected="rolled_back", alarm=True
    ),
    "alarm / alarm event failing past its retries": Case(
        "AlarmEventFunction", "fail", "deploy", tag="v2-5xx", expected="rolled_back", alarm=True
    ),
}


@dataclass
class LostEventsReport:
    runs: int = 0
    lost: int = 0  # deliveries dropped, failed past their retries or undeliverable
    replayed: int = 0
    repaired: int = 0
    unseen_reported: int = 0
    alarm_in_production: list[str] = field(default_factory=list)
    debris: list[str] = field(default_factory=list)
    wrong_outcome: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"events lost: {self.lost}, releases left in production with an alarm in ALARM: "
            f"{len(self.alarm_in_production)}, debris left: {len(self.debris)}"
        )


class _Through:
    """``lambda.invoke`` of the operator's CLI, run by the emulator's dispatcher (see test_lost_events)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        headers: dict[str, str] = {}
        raw = self.emu.dispatcher.invoke(FunctionName, Payload, headers)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(raw)}
        if headers.get("x-amz-function-error"):
            response["FunctionError"] = headers["x-amz-function-error"]
        return response


def _wait_for_approval(emu: Emulator, service: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gate = emu.store.open_gate_of(service)
        if gate and gate.kind == "approval" and gate.ts:
            return
        time.sleep(0.005)
    raise TimeoutError(f"{service}: no approval gate")


def _run_case(emu: Emulator, index: int, label: str, case: Case, report: LostEventsReport) -> str:
    config: dict[str, Any] = {"bakeSeconds": 60 if case.alarm else 20}
    if case.how != "stop":
        config["approval"] = {"required": False}
    if case.how == "push":
        config["tagPattern"] = r"v\d+"
    demo = emu.seed_service(f"lost{index}", config_overrides=config)
    invariants = Invariants(emu, demo.name)
    kept_before, lost_before = len(emu.async_lambda.kept), len(emu.async_lambda.lost)

    def fault(function: str, event: dict[str, Any]) -> str | None:
        if function != case.function or not case.match(event):
            return None
        if case.function == "EcrTriggerFunction" and event.get("detail", {}).get("repository-name") != demo.repository:
            return None
        if case.function == "AlarmEventFunction" and event.get("detail", {}).get("alarmName") != demo.alarm_name:
            return None
        return case.fault

    emu.async_lambda.faults.append(fault)
    outcome = ""
    try:
        if case.how == "push":
            emu.run(demo.name, "v2")  # deployed once: the push that follows is the newest thing
            push_image(emu.client("ecr"), demo.repository, case.tag)
            emu.wait_idle(60)
            arns = [
                d["executionArn"] for d in emu.store.deployments(demo.name, limit=5) if d.get("imageTag") == case.tag
            ]
            if len(arns) > 1:
                report.wrong_outcome.append(f"{label}: the push started {len(arns)} deployments")
            outcome = emu.wait(arns[0]).outcome if arns else ""
        elif case.how == "stop":
            arn = emu.start(demo.name, case.tag)
            _wait_for_approval(emu, demo.name)
            emu.client("stepfunctions").stop_execution(executionArn=arn, error="Chaos", cause="stopped")
            outcome = emu.wait(arn).outcome
            outcome = "cleaned_up" if outcome == "aborted" else outcome
        else:
            outcome = emu.run(demo.name, case.tag).outcome
    finally:
        emu.async_lambda.faults.remove(fault)
    # What the stack and its operators do about lost events: late ones arrive, kept ones are replayed,
    # the reconciler runs after its grace period.
    emu.async_lambda.flush()
    done = replay(emu.client("sqs"), _Through(emu), emu.failed_events_queue)
    report.replayed += len(done.replayed)
    emu.wait_idle(60)
    emu.clock.advance(PAST_GRACE)
    repairs = emu.reconcile()["repairs"]
    report.repaired += sum(1 for r in repairs if r["kind"] != "unseen-push")
    report.unseen_reported += sum(1 for r in repairs if r["kind"] == "unseen-push")
    emu.wait_idle(60)
    report.lost += len(emu.async_lambda.kept) - kept_before + len(emu.async_lambda.lost) - lost_before

    if case.expected and outcome != case.expected:
        report.wrong_outcome.append(f"{label}: ended {outcome}, expected {case.expected}")
    reported = any(r["kind"] == "unseen-push" and r.get("imageTag") == case.tag for r in repairs)
    if case.how == "push" and case.fault in ("drop", "fail") and not outcome and not reported and not done.replayed:
        report.debris.append(f"{label}: the lost push was neither replayed nor reported")
    if case.alarm and outcome == "deployed":
        alarm = cloudwatch_backends[ACCOUNT][REGION].alarms.get(demo.alarm_name)
        if alarm is not None and alarm.state_value == "ALARM":
            report.alarm_in_production.append(f"{label}: deployed while {demo.alarm_name} is in ALARM")
    before = len(invariants.violations)
    invariants.at_end(label)
    report.debris += invariants.violations[before:]
    if emu.store.open_gate_of(demo.name):
        report.debris.append(f"{label}: a gate is still open")
    if emu.store.pending_of(demo.name):
        report.debris.append(f"{label}: a pending release is still waiting")
    emu.plane.unwatch(demo.name)
    report.runs += 1
    return outcome


def run_suite(progress: Callable[[str], None] | None = None, cases: dict[str, Case] | None = None) -> LostEventsReport:
    report = LostEventsReport()
    with Emulator(timing=FAST, auto_approve=False) as emu:
        for index, (label, case) in enumerate((cases or CASES).items()):
            outcome = _run_case(emu, index, label, case, report)
            if progress:
                progress(f"{label}: {outcome or 'nothing deployed'}")
    return report
