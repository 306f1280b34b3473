"""``bluegreen approve``, ``reject``, ``rollback`` and ``finish``: answer the open gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bluegreen.aws.clients import error_code
from bluegreen.aws.decisions import ACTIONS, decide
from bluegreen.domain.errors import (
    AlreadyDecided,
    GateExpired,
    UnknownGate,
)

from ..common import (
    CliError,
)
from .base import _gate_commands, describe_gate_outcome, shorten

if TYPE_CHECKING:
    from bluegreen.domain.gates import Gate


class AnswerCommands:
    """The commands of this module, a mixin of :class:`Operator`."""

    # --- gates ------------------------------------------------------------------------------------------
    def answer(self, service: str, action: str, reason: str = "") -> int:
        kinds = ACTIONS[action][0]
        gate = self.store.open_gate_of(service)
        if gate is None or gate.kind not in kinds:
            raise self._refusal(service, action, gate)
        actor = f"iam:{self.caller_arn}"
        try:
            decision = decide(self.store, gate.gateId, action, actor, reason)
        except (AlreadyDecided, GateExpired, UnknownGate) as error:
            raise CliError(shorten(error.message, 400), f"see bluegreen status {service}") from error
        decided = decision.gate
        tag = decided.imageTag or "?"
        self.print(
            {
                "approve": f"Approved {decided.gateId}: {service} {tag} goes to production (swap, then bake).",
                "reject": f"Rejected {decided.gateId}: {service} {tag} is not deployed; green is being deleted.",
                "rollback": f"Rollback of {service} {tag} requested ({decided.gateId}): production goes back to "
                f"the previous task set.",
                "finish": f"Finished {decided.gateId}: the old task set of {service} is being deleted.",
            }[action]
        )
        self.print(f"Follow: bluegreen follow {decided.executionArn}")
        return 0

    def _refusal(self, service: str, action: str, open_gate: Gate | None) -> CliError:
        """Why there is nothing to ``action`` for the service, as precisely as the records allow."""
        latest = next(iter(self.store.deployments(service, limit=1)), None)
        if latest is None and open_gate is None and not self.service_exists(service):
            return self._unknown(service)
        kinds = ACTIONS[action][0]
        wanted = " or ".join(kinds)
        message = {
            "rollback": f"nothing to roll back for '{service}': no bake or keep-old hold is open",
            "finish": f"nothing to finish for '{service}': no keep-old hold is open",
        }.get(action, f"no pending approval for '{service}'")
        past = self._last_gate(latest, kinds) if latest else None
        if past and past.status != "PENDING" and action in ("approve", "reject", "finish"):
            message = (
                f"{past.kind} {past.gateId} of {service} {past.imageTag or ''} was already "
                f"{describe_gate_outcome(past)}"
            )
        elif past and past.status in ("ROLLED_BACK", "ALARM"):
            message += f" ({past.kind} {past.gateId} was already {describe_gate_outcome(past)})"
        if open_gate:
            kind = open_gate.kind
            hint = f"it is waiting at {kind} {open_gate.gateId}: {_gate_commands(service, kind)}"
        elif latest is None:
            hint = f"no deployment of '{service}' is recorded yet"
        elif latest["status"] == "RUNNING" and self._status_of(latest["executionArn"]) == "RUNNING":
            state = self.current_state(latest["executionArn"]) or "starting"
            hint = (
                f"its deployment of {latest.get('imageTag')} is in {state}; the {wanted} gate opens later "
                f"(bluegreen follow {latest['executionArn']})"
            )
        else:
            hint = f"its last deployment ({latest.get('imageTag')}) ended {self._deployment_state(latest)}"
            if action == "rollback" and latest["status"] == "deployed":
                hint += f"; to go back to an earlier image, deploy its tag (bluegreen history {service})"
        return CliError(message, hint)

    def _last_gate(self, deployment: dict[str, Any], kinds: tuple[str, ...]) -> Gate | None:
        """The newest gate of ``kinds`` the deployment's execution opened (from its history)."""
        try:
            view = self.view(deployment["executionArn"])
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return None
            raise
        for visit in reversed(view.visits):
            if visit.gate and visit.gate.get("kind") in kinds:
                return self.store.get_gate(visit.gate["gateId"])
        return None
