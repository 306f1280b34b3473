"""One module per state of the deployment state machine, named like the Lambda function it runs in.

Every step module exposes ``run(event, deps) -> Model`` (``deps``: :class:`bluegreen.deps.Deps`); the
handler in ``functions/<module>/app.py`` parses the event, calls ``run`` and returns the model.
:data:`STATES` is the one table from an ASL state to its function and module; a test checks it
against ``statemachine/deployment.asl.json`` and ``template.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.domain.gates import GateKind


@dataclass(frozen=True)
class Step:
    state: str  # the ASL state name
    function: str  # the template's logical id of the Lambda function the state invokes
    gate: GateKind | None = None  # a waitForTaskToken state: the kind of gate it opens

    @property
    def module(self) -> str:
        """``bluegreen.steps.<module>`` and ``functions/<module>/``: the function's name in snake case."""
        return function_module(self.function)


def function_module(function: str) -> str:
    """``CheckHealthFunction`` -> ``check_health``."""
    name = function.removesuffix("Function")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


VALIDATE = Step("Validate", "ValidateFunction")
VALIDATION_FAILED = Step("ValidationFailed", "CleanupFunction")
CREATE_GREEN = Step("CreateGreen", "CreateGreenFunction")
WAIT_HEALTHY = Step("WaitHealthy", "CheckHealthFunction")
AWAIT_APPROVAL = Step("AwaitApproval", "OpenGateFunction", GateKind.APPROVAL)
SWAP = Step("Swap", "SwapFunction")
WATCH_STEP = Step("WatchStep", "BakeFunction", GateKind.BAKE)  # after a partial traffic step
SHIFT_TRAFFIC = Step("ShiftTraffic", "SwapFunction")
BAKE = Step("Bake", "BakeFunction", GateKind.BAKE)
HOLD_OLD = Step("HoldOld", "OpenGateFunction", GateKind.KEEP_OLD)
DELETE_OLD = Step("DeleteOld", "DeleteOldFunction")
CLEANUP = Step("Cleanup", "CleanupFunction")
ROLLBACK = Step("Rollback", "RollbackFunction")
ROLLBACK_AFTER_DRAIN = Step("RollbackAfterDrain", "RollbackFunction")  # NLB: green deleted after the drain wait
# The verification hooks of each stage
GREEN_HOOKS = Step("GreenHooks", "RunHooksFunction")
GREEN_HOOKS_RESUME = Step("GreenHooksResume", "RunHooksFunction")  # the afterGreenHealthy hooks after a wait
STEP_HOOKS = Step("StepHooks", "RunHooksFunction")
CUTOVER_HOOKS = Step("CutoverHooks", "RunHooksFunction")
DELETE_OLD_HOOKS = Step("DeleteOldHooks", "RunHooksFunction")  # the beforeDeleteOld stage

# Every Task state of the state machine, in the order of the definition.
STATES: dict[str, Step] = {
    step.state: step
    for step in (
        VALIDATE,
        VALIDATION_FAILED,
        CREATE_GREEN,
        WAIT_HEALTHY,
        GREEN_HOOKS,
        GREEN_HOOKS_RESUME,
        AWAIT_APPROVAL,
        SWAP,
        WATCH_STEP,
        STEP_HOOKS,
        SHIFT_TRAFFIC,
        CUTOVER_HOOKS,
        BAKE,
        HOLD_OLD,
        DELETE_OLD_HOOKS,
        DELETE_OLD,
        CLEANUP,
        ROLLBACK,
        ROLLBACK_AFTER_DRAIN,
    )
}
# Functions started by events (or invoked by another function) rather than by a state, and the module each calls.
EVENT_FUNCTIONS: dict[str, str] = {
    "AlarmEventFunction": "bluegreen.steps.alarm_event",
    "ExecutionEndedFunction": "bluegreen.steps.execution_ended",
    "EcrTriggerFunction": "bluegreen.trigger",
    "SlackCallbackFunction": "bluegreen.slack.interactions",
    "ReconcilerFunction": "bluegreen.reconcile",  # scheduled: repairs what lost events left behind
    "ProbeFunction": "bluegreen.probe",  # Invoked by RunHooks for an HTTP probe hook
}
# The states that wait on a gate a person (or an alarm) answers, and its kind.
GATE_STATES: dict[str, GateKind] = {step.state: step.gate for step in STATES.values() if step.gate}
