"""The shared layer ships its pinned packages and not the AWS SDK, which the Lambda runtime provides."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
# The SDK of the python3.13 runtime and its dependencies: one consistent pair, never shadowed by the layer.
RUNTIME_SDK = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
EXTRAS = {"aws-lambda-powertools": {"parser", "tracer"}}  # as in pyproject.toml


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_layer_pins_match_the_constraints():
    # Given the layer's requirements and the project's pinned tree
    layer, constraints = _pins(LAYER / "requirements.txt"), _pins(ROOT / "constraints.txt")
    # Then every package of the layer is pinned to the version the tests run with
    assert {name: constraints.get(name) for name in layer} == layer


def test_layer_ships_no_aws_sdk():
    # Given the layer's requirements, installed without dependencies
    layer = _pins(LAYER / "requirements.txt")
    # Then neither boto3 nor botocore (nor their dependencies) is shipped
    assert not RUNTIME_SDK & set(layer)


def test_layer_lists_its_whole_closure():
    # Given the layer's packages (pip --no-deps installs exactly these)
    layer = _pins(LAYER / "requirements.txt")
    missing = set()
    for name in layer:
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            extras = EXTRAS.get(name, set())
            environments = [{"extra": extra} for extra in extras | {""}]
            needed = requirement.marker is None or any(requirement.marker.evaluate(e) for e in environments)
            dependency = canonicalize_name(requirement.name)
            # Then each dependency is in the layer, or comes with the runtime's SDK
            if needed and dependency not in layer and dependency not in RUNTIME_SDK:
                missing.add(f"{name} -> {dependency}")
    assert missing == set()


def test_sam_builds_the_layer_with_its_makefile():
    # Given the template and the layer's Makefile
    template = (ROOT / "template.yaml").read_text()
    layer = template[template.index("  SharedLayer:") :].split("\n\n")[0]
    makefile = (LAYER / "Makefile").read_text()
    # Then SAM builds the layer with the Makefile, which installs without dependencies
    assert re.search(r"BuildMethod: makefile", layer)
    assert "build-SharedLayer:" in makefile
    assert "--no-deps" in makefile and "requirements.txt" in makefile
