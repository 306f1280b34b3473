"""How a user's image behaves on the emulator: picked by image tag.

The emulator runs no containers: the data plane gives each task set's tasks a *behaviour* (healthy, failing health
checks, a share of 5xx answers, a crash after N seconds, a slow tail...). The seeded demo service maps its own image
digests to behaviours; any other image gets one from its tag:

* the rules of a file given to ``bluegreen local serve --behaviours FILE`` (YAML or JSON, validated here), first
  match wins;
* then the built-in tag patterns (:data:`DEFAULT_RULES`: ``*-broken``, ``*-5xx``, ``*-crash``, ``*-slow-tail``...,
  the demo's tags);
* otherwise healthy.

The tag is the one the task definition's image names (``repo:v2-5xx``), or, for an image named by digest
(``repo@sha256:...``), any tag the ECR repository holds for that digest. See ``docs/emulator-behaviours.md``.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Kind = Literal["healthy", "unhealthy", "errors", "rising5xx", "crash", "slow", "slowtail", "slowmean"]

# The data plane's behaviour names for each kind (dataplane.HEALTHY, ALARM, CRASHLOOP...).
PLANE_NAMES: dict[str, str] = {
    "healthy": "healthy",
    "unhealthy": "unhealthy",
    "errors": "alarm",
    "rising5xx": "rising5xx",
    "crash": "crashloop",
    "slow": "slow",
    "slowtail": "slowtail",
    "slowmean": "slowmean",
}


class Behaviour(BaseModel):
    """What the tasks of an image do on the emulator."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Kind = "healthy"
    # errors: the share of production requests answered with a 5xx once production reaches the task set
    errorShare: float = Field(default=0.5, gt=0, le=1)
    # crash: seconds a task runs before its essential container exits (ECS then replaces it)
    crashAfterSeconds: float = Field(default=10.0, gt=0)

    @property
    def plane_name(self) -> str:
        return PLANE_NAMES[self.kind]


class Rule(BaseModel):
    """Tags matching ``tag`` (a shell glob: ``*``, ``?``, ``[...]``) behave as ``behaviour``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tag: str = Field(min_length=1)
    behaviour: Behaviour


class BehavioursFile(BaseModel):
    """The ``--behaviours`` file: ``{"rules": [{"tag": "*-canary-bad", "behaviour": {"kind": "errors"}}]}``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    rules: list[Rule] = Field(default_factory=list)


DEFAULT_RULES: tuple[Rule, ...] = tuple(
    Rule(tag=tag, behaviour=Behaviour(kind=kind))  # type: ignore[arg-type]
    for tag, kind in (
        ("*-broken", "unhealthy"),
        ("*-unhealthy", "unhealthy"),
        ("*-5xx-rising", "rising5xx"),
        ("*-5xx", "errors"),
        ("*-crash", "crash"),
        ("*-slow-tail", "slowtail"),
        ("*-slow-mean", "slowmean"),
        ("*-slow", "slow"),
    )
)
HEALTHY = Behaviour()


class BehavioursError(ValueError):
    """The behaviours file cannot be used; the message says what to fix."""


def load(path: str | Path) -> BehavioursFile:
    """Read and validate a behaviours file (``.json``, else YAML)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as error:
        raise BehavioursError(f"cannot read behaviours file {file}: {error.strerror or error}") from error
    try:
        if file.suffix.lower() == ".json":
            data: Any = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as error:  # json.JSONDecodeError and yaml.YAMLError (a ValueError subclass is not assumed)
        raise BehavioursError(f"behaviours file {file} is not valid JSON/YAML: {error}") from error
    except Exception as error:  # noqa: BLE001 - yaml.YAMLError
        raise BehavioursError(f"behaviours file {file} is not valid YAML: {error}") from error
    try:
        return BehavioursFile.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise BehavioursError(f"behaviours file {file}: {error}") from error


class Behaviours:
    """Tag -> behaviour: the user's rules first, then the built-in patterns, else healthy."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        self.rules: list[Rule] = list(rules or [])

    def of_tag(self, tag: str) -> Behaviour | None:
        for rule in (*self.rules, *DEFAULT_RULES):
            if fnmatch.fnmatchcase(tag, rule.tag):
                return rule.behaviour
        return None

    def of_tags(self, tags: list[str]) -> Behaviour:
        """The first tag (in order) that a rule matches decides; no match: healthy."""
        for tag in tags:
            behaviour = self.of_tag(tag)
            if behaviour is not None:
                return behaviour
        return HEALTHY
