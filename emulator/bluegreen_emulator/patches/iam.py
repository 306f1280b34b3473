"""AWS IAM: SimulatePrincipalPolicy answered from the policies the emulator enforces (bluegreen doctor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult

from .core import Patcher

# (role ARN, action, resource ARN, context keys) -> allowed | implicitDeny | explicitDeny | None (unknown role)
Simulate = Callable[[str, str, str, dict[str, str]], "str | None"]


def simulate_principal_policy(patcher: Patcher, evaluate: Simulate) -> None:
    """Answer SimulatePrincipalPolicy for the stack's roles from the policies the emulator enforces."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.responses import IamResponse

    def simulate(self: Any) -> ActionResult:
        source = self._get_param("PolicySourceArn")
        actions = self._get_param("ActionNames") or []  # moto parses IAM's query parameters by its model
        resources = self._get_param("ResourceArns") or ["*"]
        context = {
            str(entry["ContextKeyName"]): str((entry.get("ContextKeyValues") or [""])[0])
            for entry in self._get_param("ContextEntries") or []
        }
        results = []
        for action in actions:
            for resource in resources:
                decision = evaluate(source, action, resource, context)
                if decision is None:
                    raise NotFoundException(f"Role {source} is not one of the emulated stack's roles")
                results.append({"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision})
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    # moto gap: moto does not implement SimulatePrincipalPolicy (NotImplementedError); IAM evaluates the
    # principal's identity policies for each action and resource with the given context keys
    # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html). The emulator
    # answers it for its stack's roles through its own IAM engine (local/iam.py), the one that authorizes calls.
    patcher.replace(IamResponse, "simulate_principal_policy", simulate, missing=True)
