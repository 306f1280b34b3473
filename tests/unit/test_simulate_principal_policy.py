"""The emulator answers iam:SimulatePrincipalPolicy for its stack's roles from the template policies it enforces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from bluegreen_emulator.emulator import ACCOUNT, REGION, STACK, Emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def decision(emu: Emulator, function: str, action: str, resource: str, context: dict[str, str] | None = None) -> str:
    role = emu.client("lambda").get_function_configuration(FunctionName=emu.function_name(function))["Role"]
    entries = [
        {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"} for k, v in (context or {}).items()
    ]
    answer = emu.client("iam").simulate_principal_policy(
        PolicySourceArn=role, ActionNames=[action], ResourceArns=[resource], ContextEntries=entries
    )
    (result,) = answer["EvaluationResults"]
    assert (result["EvalActionName"], result["EvalResourceName"]) == (action, resource)
    return str(result["EvalDecision"])


def test_each_function_has_its_own_role(emu: Emulator) -> None:
    lam = emu.client("lambda")
    roles = {
        lam.get_function_configuration(FunctionName=emu.function_name(f))["Role"]
        for f in ("SwapFunction", "BakeFunction")
    }
    assert roles == {
        f"arn:aws:iam::{ACCOUNT}:role/{STACK}-SwapFunctionRole",
        f"arn:aws:iam::{ACCOUNT}:role/{STACK}-BakeFunctionRole",
    }


def test_a_granted_action_is_allowed_and_another_functions_is_not(emu: Emulator) -> None:
    service = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/demo/web"
    context = {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/demo", "ecs:service": service}
    # Given Swap's policy (it moves the primary task set) and Bake's (it does not)
    assert decision(emu, "SwapFunction", "ecs:UpdateServicePrimaryTaskSet", service, context) == "allowed"
    assert decision(emu, "BakeFunction", "ecs:UpdateServicePrimaryTaskSet", service, context) == "implicitDeny"


def test_an_unknown_role_is_no_such_entity(emu: Emulator) -> None:
    with pytest.raises(ClientError) as raised:
        emu.client("iam").simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/someone-else", ActionNames=["ecs:ListTasks"]
        )
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"
