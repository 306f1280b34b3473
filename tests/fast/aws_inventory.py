"""The inventory of the AWS calls the product makes (``docs/aws-calls.yaml``) and what checks it.

Three sources are compared, none of them the emulator:

* the calls, found by an AST scan of the product's code (``layers/shared/bluegreen``, ``functions/`` and the
  operator CLI ``cli/bluegreen_cli/*.py``, not ``local/``): every ``x.method(...)`` whose name is an operation of
  one of the AWS services the product makes clients for (botocore's service models give the operation names),
  every ``get_paginator("op")`` / ``get_waiter("op")``, and the Powertools wrappers that hide a call
  (``get_secret`` -> GetSecretValue, ``SSMProvider.get``/``get_multiple`` -> GetParameter/GetParametersByPath).
  A static scan sees every call site, also those no demo scenario reaches (an error path, an operator command);
  a recording of the emulator would only see what the scenarios happen to run.
* the rows of ``docs/aws-calls.yaml``, one per operation;
* AWS's authorization data (actions, resource types, condition keys), as cfn-lint ships it.

``python -m tests.fast.aws_inventory`` writes ``docs/aws-calls.md`` from the YAML (a test fails when it is stale).
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "docs" / "aws-calls.yaml"
DOCUMENT = ROOT / "docs" / "aws-calls.md"

# botocore service names of the clients the product creates (AwsClients, operator.Clients, hook_calls, events...).
SERVICES = (
    "cloudformation",
    "cloudwatch",
    "codedeploy",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "events",
    "iam",
    "lambda",
    "secretsmanager",
    "sqs",
    "ssm",
    "stepfunctions",
    "sts",
)
# Calls made through a wrapper (Powertools parameters) rather than a boto3 method of the same name.
WRAPPERS = {
    "get_secret": ("secretsmanager", "GetSecretValue"),
    "get_multiple": ("ssm", "GetParametersByPath"),
}


def product_files() -> list[Path]:
    files = sorted((ROOT / "layers" / "shared" / "bluegreen").rglob("*.py"))
    files += sorted((ROOT / "functions").rglob("*.py"))
    cli = ROOT / "cli" / "bluegreen_cli"
    files += sorted(p for p in cli.rglob("*.py") if "local" not in p.relative_to(cli).parts)
    return files


def _snake(name: str) -> str:
    """botocore's xform_name for the operation names of these services."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()


@cache
def operations() -> dict[str, frozenset[tuple[str, str]]]:
    """snake_case method name -> the (service, Operation) pairs it names."""
    import botocore.session

    session = botocore.session.get_session()
    names: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            names[_snake(operation)].add((service, operation))
    return {name: frozenset(pairs) for name, pairs in names.items()}


def _called_name(node: ast.Call) -> str | None:
    if not isinstance(node.func, ast.Attribute):
        return None
    name = node.func.attr
    if name in ("get_paginator", "get_waiter") and node.args and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    return name


def module_functions(files: list[Path]) -> dict[str, set[str]]:
    """Module name -> its top-level functions (``elbv2.describe_rule(...)`` is the product's helper, not AWS)."""
    helpers: dict[str, set[str]] = defaultdict(set)
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                helpers[path.stem].add(node.name)
    return helpers


def imported_modules(tree: ast.Module) -> set[str]:
    """Names a file binds to product modules (``from bluegreen import elbv2``, ``from . import hook_calls``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bluegreen")):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _is_helper(node: ast.Call, helpers: dict[str, set[str]], modules: set[str]) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in modules
        and func.attr in helpers.get(func.value.id, set())
    )


def scan(files: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    """Method name -> {"candidates": {(service, Operation)}, "files": {relative paths}} for every AWS call."""
    known = operations()
    files = files or product_files()
    helpers = module_functions(product_files())
    found: dict[str, dict[str, Any]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = imported_modules(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name is None:
                continue
            if name in WRAPPERS:
                candidates = frozenset({WRAPPERS[name]})
            elif name == "get" and any(k.arg == "decrypt" for k in node.keywords):  # SSMProvider.get
                candidates = frozenset({("ssm", "GetParameter")})
            elif name in known and not _is_helper(node, helpers, modules):
                candidates = known[name]
            else:
                continue
            entry = found.setdefault(name, {"candidates": candidates, "files": set()})
            entry["files"].add(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    return found


# --- the inventory --------------------------------------------------------------------------------
def load_rows() -> list[dict[str, Any]]:
    return list(yaml.safe_load(INVENTORY.read_text(encoding="utf-8"))["calls"])


def row_operations(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {tuple(row["operation"].split(":", 1)) for row in rows}  # type: ignore[misc]


# --- AWS's authorization data (cfn-lint) ---------------------------------------------------------------
@cache
def iam_data() -> dict[str, Any]:
    """Service prefix -> {"Actions": {lower-case action: {"Resources": [...]}}, "Resources": {type: {...}}}.

    cfn-lint's copy of AWS's authorization data: per action its resource types, per resource type its ARN formats
    and condition keys. It has no action-level condition keys (ecs:cluster, iam:PassedToService...).
    """
    import cfnlint

    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def action_resource_types(action: str) -> list[str] | None:
    """The resource types AWS's data lists for ``action`` ([] for none: authorized on "*"); None: unknown action."""
    prefix, name = action.split(":", 1)
    service = iam_data().get(prefix)
    if service is None or name.lower() not in service["Actions"]:
        return None
    return list(service["Actions"][name.lower()].get("Resources", []))


def resource_type(prefix: str, name: str) -> dict[str, Any] | None:
    """A resource type of AWS's data (its names are matched without case: actions say Secret, types secret)."""
    types = iam_data().get(prefix, {}).get("Resources", {})
    return next((spec for key, spec in types.items() if key.lower() == name.lower()), None)


# Values the ARNs of the template and of the rows are checked with: a sample account and region, the template's
# parameter defaults, and "x" for any other variable.
SAMPLE = {"Partition": "aws", "Region": "us-east-1", "Account": "123456789012", "AccountId": "123456789012"}


@cache
def _parameter_defaults() -> dict[str, str]:
    parameters = yaml_template().get("Parameters", {})
    return {name: str(spec.get("Default") or "x") for name, spec in parameters.items()}


def concrete(arn: str) -> str:
    """``arn`` with its ``${...}`` variables replaced by sample values."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).removeprefix("AWS::")
        return SAMPLE.get(name) or _parameter_defaults().get(name) or "x"

    return re.sub(r"[$][{]([^}]+)[}]", value, arn)


def arn_matches(prefix: str, types: list[str], arn: str) -> bool:
    """Whether ``arn`` (template variables taken as wildcards) has the ARN format of one of ``types``."""
    sample = concrete(arn)
    for name in types:
        for form in (resource_type(prefix, name) or {}).get("ARNFormats", []):
            placeholders = re.sub(r"[$][{][^}]+[}]", "@VAR@", form)  # ${Partition}, ${Region}, ...
            pattern = ".*".join(re.escape(part) for part in placeholders.split(".*")).replace("@VAR@", "[^:]*")
            if re.fullmatch(pattern, sample):
                return True
    return False


# --- the template ---------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A template value as text: ``!Sub`` strings as written, ``!GetAtt X.Arn`` as the ARN it stands for."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id = _as_list(value["Fn::GetAtt"])[0].split(".")[0]
        return GETATT_ARNS.get(resource_types().get(logical_id, ""), "${" + logical_id + "}").format(logical_id)
    return json.dumps(value)


# The ARN ``!GetAtt X.Arn`` stands for, by X's resource type.
GETATT_ARNS = {
    "AWS::DynamoDB::Table": "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{}",
    "AWS::Serverless::Function": "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
}


@cache
def yaml_template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8")))


@cache
def resource_types() -> dict[str, str]:
    return {name: resource["Type"] for name, resource in yaml_template()["Resources"].items()}


def template_grants(template: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"owner", "action", "resources", "conditionKeys"}`` for every action a function or the state machine gets."""
    grants = []
    sam_templates = {"LambdaInvokePolicy": ["lambda:InvokeFunction"]}
    for owner, resource in template["Resources"].items():
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        for policy in _as_list(resource["Properties"].get("Policies") or []):
            if isinstance(policy, dict) and "Statement" in policy:
                statements = _as_list(policy["Statement"])
            elif isinstance(policy, dict):
                ((name, _),) = policy.items()
                function = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${FunctionName}*"
                statements = [{"Action": sam_templates[name], "Resource": function}]  # as SAM expands it
            else:
                raise AssertionError(f"{owner}: policy {policy!r} is neither a statement nor a SAM policy template")
            for statement in statements:
                keys = sorted({k for test in (statement.get("Condition") or {}).values() for k in test})
                for action in _as_list(statement["Action"]):
                    grants.append(
                        {
                            "owner": owner,
                            "action": action,
                            "resources": [_text(r) for r in _as_list(statement["Resource"])],
                            "conditionKeys": keys,
                        }
                    )
    return grants


# --- the document ---------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = "<br>".join(str(v) for v in value) if value else "-"
    return str(value if value not in (None, "") else "-").replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Every AWS call the product makes",
        "",
        "Generated from [`aws-calls.yaml`](aws-calls.yaml) by `python -m tests.fast.aws_inventory`; edit the YAML,",
        "then regenerate. `tests/fast/test_aws_calls.py` fails when the code makes a call that has no row, a row",
        "has no citation, the template grants an action no row names, or a row's resource type or condition keys",
        "are not ones AWS's authorization data (as cfn-lint ships it) allows for its action.",
        "",
        "The calls are found by an AST scan of the product's code (`layers/shared/bluegreen`, `functions/`,",
        "`cli/bluegreen_cli/*.py`): every method named like an operation of a service the product has clients for,",
        "paginators, and the Powertools wrappers (`get_secret`, `SSMProvider.get`). A static scan sees every call",
        "site, also error paths and operator commands that no demo scenario runs.",
        "",
        "Callers are the functions' logical ids in `template.yaml`, or `cli <command>` for the operator CLI.",
        "A resource `*` means AWS authorizes the action on no particular resource; the condition keys are the ones",
        "the template scopes it with.",
        "",
        "| Operation | Callers | IAM action | Resource AWS authorizes | Condition keys | Parameters relied on |"
        " Errors handled | Citation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        auths = row["authorizations"]
        actions = [a["action"] for a in auths]
        resources = [f"{a['resource']}: `{a['arn']}`" if a.get("arn") else a["resource"] for a in auths]
        keys = [", ".join(a.get("conditionKeys") or []) or "-" for a in auths]
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{row['operation']}`",
                    _cell(row["callers"]),
                    _cell(actions),
                    _cell(resources),
                    _cell(keys),
                    _cell(row.get("parameters")),
                    _cell(row.get("errors")),
                    _cell(row["citation"]),
                ]
            )
            + " |"
        )
    notes = [row for row in rows if row.get("note")]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- `{row['operation']}`: {' '.join(str(row['note']).split())}" for row in notes]
    return "\n".join(lines) + "\n"


def grant_problems(grant: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Why one action the template grants disagrees with the inventory or with AWS's data (empty: it agrees).

    The action must be some row's; some resource of the statement must be "*" or have the ARN format of a
    resource type AWS's data lists for the action (or the row's, when the row records a cited dataGap); each
    condition key must be a global aws: key or one the rows record for the action.
    """
    action, owner = grant["action"], grant["owner"]
    auths = [auth for row in rows for auth in row["authorizations"] if auth["action"].lower() == action.lower()]
    if not auths:
        return [f"{owner} is granted {action}, which no row of docs/aws-calls.yaml names"]
    types = action_resource_types(action)
    if types is None:
        return [f"{action} is not an action in AWS's authorization data"]
    problems = []
    prefix = action.split(":", 1)[0]
    allowed = sorted(set(types) | {auth["resource"] for auth in auths if auth.get("dataGap")})
    if "*" not in grant["resources"] and not any(arn_matches(prefix, allowed, r) for r in grant["resources"]):
        problems.append(f"{owner}: {action} on {grant['resources']}, but AWS authorizes it on {allowed}")
    keys = {key for auth in auths for key in auth.get("conditionKeys") or []}
    problems += [
        f"{owner}: {action} is scoped with {key}, which no row records for it"
        for key in grant["conditionKeys"]
        if not key.startswith("aws:") and key not in keys
    ]
    return problems


if __name__ == "__main__":
    DOCUMENT.write_text(render(load_rows()), encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")  # noqa: T201
