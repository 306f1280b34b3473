"""MkDocs hook: the configuration and CLI reference pages, generated at build time.

``reference/configuration.md`` is rendered from the JSON schema of the pydantic models the workflow
validates (the service configuration document and the execution input), ``reference/cli.md`` from the
``bluegreen`` argument parser, so neither can drift from the code. Nothing generated is checked in.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mkdocs.structure.files import File, Files

MODELS = (
    (
        "Service configuration",
        "bluegreen.domain.models",
        "ServiceConfig",
        "The JSON document stored in SSM under the stack's `ConfigParameterPrefix` (one per service).",
    ),
    (
        "Execution input",
        "bluegreen.domain.models",
        "ExecutionInput",
        "What `bluegreen deploy` or `aws stepfunctions start-execution --input` passes to the state machine.",
    ),
)


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"] if p.get("type") != "null")
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type(prop['additionalProperties'])}"
    return str(kind)


def _limits(prop: dict[str, Any]) -> str:
    keys = (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("pattern", "pattern"),
    )
    found = [f"{label} `{prop[key]}`" for key, label in keys if key in prop]
    for option in prop.get("anyOf", []):
        found += [f"{label} `{option[key]}`" for key, label in keys if key in option]
    return ", ".join(found)


def _table(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### {name}", ""]
    if schema.get("description"):
        out += [schema["description"].strip(), ""]
    required = set(schema.get("required", []))
    out += ["| Field | Type | Required | Default | Limits |", "|---|---|---|---|---|"]
    for field, prop in schema.get("properties", {}).items():
        default = json.dumps(prop["default"]) if "default" in prop else ""
        out.append(
            f"| `{field}` | {_type(prop)} | {'yes' if field in required else ''} | "
            f"{'`' + default + '`' if default else ''} | {_limits(prop)} |"
        )
    return out + [""]


def configuration_page() -> str:
    import importlib

    lines = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models the workflow validates with (`layers/shared/bluegreen/domain/models.py`);",
        "what each block does is explained in [Configuration](../configuration.md).",
        "",
    ]
    for title, module, model, about in MODELS:
        schema = getattr(importlib.import_module(module), model).model_json_schema(by_alias=True)
        lines += [f"## {title}", "", about, ""]
        lines += _table(model, schema)
        for name, sub in sorted(schema.get("$defs", {}).items()):
            lines += _table(name, sub)
    return "\n".join(lines) + "\n"


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(prefix, parser)]
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _subcommands(sub, f"{prefix} {name}")
    return found


def cli_page() -> str:
    from bluegreen_cli.main import build_parser

    lines = [
        "# CLI reference",
        "",
        "Generated from the `bluegreen` argument parser (`cli/bluegreen_cli/main.py`); see [The CLI](../cli.md)",
        "for what the commands are for.",
        "",
    ]
    for name, parser in _subcommands(build_parser(), "bluegreen"):
        parser.prog = name
        lines += [f"## `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "reference/configuration.md", content=configuration_page()))
    files.append(File.generated(config, "reference/cli.md", content=cli_page()))
    return files
