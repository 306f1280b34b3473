"""Read the SAM template the emulator deploys: functions, globals and state machine substitutions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
# The template's scoping parameters have no default (a stack is scoped to what it deploys). The emulator seeds
# several services, each on its own cluster, load balancer, repository and roles, so its stack opts in to "*"
# explicitly, as a deployment may (the stack's ScopeWarning output then names them).
LOCAL_SCOPE: dict[str, str] = {
    "EcsClusterName": "*",
    "LoadBalancerName": "*",
    "RepositoryNamePattern": "*",
    "TaskRoleNamePattern": "*",
    "TaskDefinitionFamilyPattern": "*",
}


LAMBDA_FUNCTION_NAME_MAX = 64
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def physical_name(stack: str, logical_id: str, max_length: int = LAMBDA_FUNCTION_NAME_MAX) -> str:
    """The name CloudFormation generates for a resource the template does not name: ``<stack>-<logical id>-<suffix>``.

    "If you don't specify a name, AWS CloudFormation generates a unique physical ID to name the resource"
    (CloudFormation user guide, "Name type"): the stack name, the logical id and a random suffix, each part cut
    so the whole fits the resource type's limit (a Lambda function name: 64). A pattern built from
    ``${AWS::StackName}-<LogicalId>*`` therefore stops matching once the stack name is long. The suffix here is
    derived from the two names (the emulator is deterministic), 12 characters as CloudFormation's.
    """
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()
    suffix = "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:12])
    budget = max_length - len(suffix) - 2  # two dashes
    if len(stack) + len(logical_id) > budget:
        # The stack name gives way first, keeping at least half the budget; then the logical id is cut.
        keep_stack = max(budget - len(logical_id), budget // 2)
        stack = stack[:keep_stack]
        logical_id = logical_id[: budget - len(stack)]
    return f"{stack}-{logical_id}-{suffix}"


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)
    event_invoke: dict[str, Any] = field(default_factory=dict)  # EventInvokeConfig (retries, on-failure)
    timeout: float = 3.0  # seconds (the function's Timeout, else the Globals', else Lambda's default 3)


@dataclass
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, Any]


@dataclass
class Template:
    raw: dict[str, Any]
    root: Path

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(raw=yaml_parse(path.read_text()), root=path.parent)

    @property
    def resources(self) -> dict[str, Any]:
        return self.raw.get("Resources", {})

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: spec.get("Default") for name, spec in self.raw.get("Parameters", {}).items()}

    def stack_parameters(self) -> dict[str, Any]:
        """The parameters the emulator deploys with: the defaults, and explicit values for the required ones."""
        return {**self.parameter_defaults(), **LOCAL_SCOPE}

    def resolve(self, value: Any, refs: dict[str, Any]) -> Any:
        """Resolve ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` (simple forms) against ``refs``."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return refs[argument]
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return refs[f"{logical_id}.{attribute}"]
            if key == "Fn::Sub" and isinstance(argument, str):
                text = argument
                for name, resolved in refs.items():
                    text = text.replace("${" + name + "}", str(resolved))
                return text
        if isinstance(value, dict):
            return {key: self.resolve(item, refs) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, refs) for item in value]
        return value

    def functions(self, refs: dict[str, Any]) -> list[FunctionSpec]:
        globals_ = self.raw.get("Globals", {}).get("Function", {})
        global_env = globals_.get("Environment", {}).get("Variables", {})
        specs = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = resource.get("Properties", {})
            env = dict(global_env)
            env.update(props.get("Environment", {}).get("Variables", {}))
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_dir=self.root / props["CodeUri"],
                    handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                    environment={k: str(self.resolve(v, refs)) for k, v in env.items()},
                    event_invoke=self.resolve(props.get("EventInvokeConfig", {}), refs),
                    timeout=float(props.get("Timeout", globals_.get("Timeout", 3))),
                    events={
                        name: self.resolve(event, refs) if event.get("Type") == "EventBridgeRule" else event
                        for name, event in props.get("Events", {}).items()
                    },
                )
            )
        return specs

    def state_machines(self) -> list[StateMachineSpec]:
        return [
            StateMachineSpec(
                logical_id=logical_id,
                definition_path=self.root / resource["Properties"]["DefinitionUri"],
                substitutions=resource["Properties"].get("DefinitionSubstitutions", {}),
            )
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == "AWS::Serverless::StateMachine"
        ]
