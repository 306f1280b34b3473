"""What a release changes, before it changes it: a pure diff of blue's and green's task definitions,
the listener-rule weights that will move and the task counts, and its bounded rendering for Slack and terminals.

Secret *values* never reach a plan: task definitions only hold a secret's name and ``valueFrom`` (an ARN or a
parameter name), and environment values whose name looks sensitive are hidden too.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HIDDEN = "(hidden)"
# Environment variables that look like they hold a credential are shown without their value.
SENSITIVE_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|credential|private[_-]?key|api[_-]?key|auth)")
# Task-level fields a plan compares (besides the containers).
TASK_FIELDS = ("family", "cpu", "memory", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities")
CONTAINER_FIELDS = ("cpu", "memory", "memoryReservation", "essential", "command", "entryPoint")
# What ECS returns for a container field left out at registration: not a change.
CONTAINER_DEFAULTS: dict[str, Any] = {"cpu": 0, "essential": True}
SLACK_LIMIT = 2600  # characters of plan in a Slack section (3000 at most, leaving room for the footer)


class PlanModel(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")


class FieldChange(PlanModel):
    field: str
    before: str | None = None
    after: str | None = None


class ImageChange(PlanModel):
    before: str | None = None
    after: str | None = None
    beforeTag: str | None = None
    afterTag: str | None = None


class ContainerPlan(PlanModel):
    name: str
    change: Literal["added", "removed", "changed", "unchanged"]
    image: ImageChange | None = None
    environment: list[FieldChange] = Field(default_factory=list)  # values of sensitive names hidden
    secrets: list[FieldChange] = Field(default_factory=list)  # name -> valueFrom, never a value
    ports: list[str] = Field(default_factory=list)  # green's (blue's when removed)
    portsBefore: list[str] | None = None  # only when they changed
    settings: list[FieldChange] = Field(default_factory=list)


class RoutePlan(PlanModel):
    rule: Literal["production", "test"]
    ruleArn: str
    before: dict[str, int]  # target group ARN -> weight
    steps: list[dict[str, int]]  # after each move


class Plan(PlanModel):
    service: str
    release: str = "imageTag"
    blueTaskDefinition: str | None = None
    task: list[FieldChange] = Field(default_factory=list)
    containers: list[ContainerPlan] = Field(default_factory=list)
    routes: list[RoutePlan] = Field(default_factory=list)
    blueTasks: int = 0
    greenTasks: int = 0

    def changed_containers(self) -> list[ContainerPlan]:
        return [c for c in self.containers if c.change != "unchanged"]

    def summary(self) -> str:
        """One line, for tables: ``web image v1->v2, +1 env; memory 512->1024``."""
        parts = []
        for container in self.changed_containers():
            if container.change != "changed":
                parts.append(f"{container.change} container {container.name}")
                continue
            bits = []
            if container.image:
                before, after = _short_image(container.image, "before"), _short_image(container.image, "after")
                bits.append(f"image {before}->{after}")
            if container.environment:
                bits.append(f"{len(container.environment)} env")
            if container.secrets:
                bits.append(f"{len(container.secrets)} secret{'s' if len(container.secrets) > 1 else ''}")
            if container.portsBefore is not None:
                bits.append("ports")
            bits.extend(s.field for s in container.settings)
            parts.append(f"{container.name} " + ", ".join(bits))
        parts.extend(f"{c.field} {c.before or '-'}->{c.after or '-'}" for c in self.task if c.field != "family")
        return "; ".join(parts) or "no task definition change"


# --- building a plan ------------------------------------------------------------------------------------------
def _env(container: dict[str, Any]) -> dict[str, str]:
    return {str(e.get("name")): str(e.get("value", "")) for e in container.get("environment") or []}


def _secrets(container: dict[str, Any]) -> dict[str, str]:
    return {str(s.get("name")): str(s.get("valueFrom", "")) for s in container.get("secrets") or []}


def _ports(container: dict[str, Any]) -> list[str]:
    return [f"{p.get('containerPort')}/{p.get('protocol', 'tcp')}" for p in container.get("portMappings") or []]


def _text(value: Any) -> str | None:
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _masked(key: str, value: str | None) -> str | None:
    return HIDDEN if value is not None and SENSITIVE_NAME.search(key) else value


def _diff_map(before: dict[str, str], after: dict[str, str], mask: bool) -> list[FieldChange]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if mask:
            old, new = _masked(key, old), _masked(key, new)
            if old == new:  # both hidden: say it changed without showing either value
                old, new = HIDDEN, f"{HIDDEN}, changed"
        changes.append(FieldChange(field=key, before=old, after=new))
    return changes


def _fields(
    before: dict[str, Any], after: dict[str, Any], names: tuple[str, ...], defaults: dict[str, Any] | None = None
) -> list[FieldChange]:
    defaults = defaults or {}
    changes = []
    for name in names:
        old, new = _text(before.get(name, defaults.get(name))), _text(after.get(name, defaults.get(name)))
        if old != new:
            changes.append(FieldChange(field=name, before=old, after=new))
    return changes


def _container(
    name: str, blue: dict[str, Any] | None, green: dict[str, Any] | None, tags: dict[str, str]
) -> ContainerPlan:
    if green is None:
        assert blue is not None
        removed = ImageChange(before=blue.get("image"), beforeTag=tags.get(str(blue.get("image"))))
        return ContainerPlan(name=name, change="removed", image=removed, ports=_ports(blue))
    old = blue or {}
    image: ImageChange | None = None
    if old.get("image") != green.get("image"):
        image = ImageChange(
            before=old.get("image"),
            after=green.get("image"),
            beforeTag=tags.get(str(old.get("image"))) if old else None,
            afterTag=tags.get(str(green.get("image"))),
        )
    ports_before, ports_after = _ports(old), _ports(green)
    plan = ContainerPlan(
        name=name,
        change="added" if blue is None else "unchanged",
        image=image,
        environment=_diff_map(_env(old), _env(green), mask=True),
        secrets=_diff_map(_secrets(old), _secrets(green), mask=False),
        ports=ports_after,
        portsBefore=ports_before if blue is not None and ports_before != ports_after else None,
        settings=_fields(old, green, CONTAINER_FIELDS, CONTAINER_DEFAULTS) if blue is not None else [],
    )
    if blue is not None and (
        plan.image or plan.environment or plan.secrets or plan.portsBefore is not None or plan.settings
    ):
        plan.change = "changed"
    return plan


def routes(
    production_rule: str, test_rule: str, blue_group: str | None, green_group: str, schedule: list[int]
) -> list[RoutePlan]:
    """How the rules move: production to green by the schedule's weights, then the test rule to blue."""
    production_before = {blue_group: 100} if blue_group else {}
    steps = [{green_group: weight, **({blue_group: 100 - weight} if blue_group else {})} for weight in schedule]
    plans = [RoutePlan(rule="production", ruleArn=production_rule, before=production_before, steps=steps)]
    if blue_group:
        plans.append(RoutePlan(rule="test", ruleArn=test_rule, before={green_group: 100}, steps=[{blue_group: 100}]))
    return plans


def build_plan(
    service: str,
    blue: dict[str, Any] | None,
    green: dict[str, Any],
    *,
    tags: dict[str, str] | None = None,
    route_plans: list[RoutePlan] | None = None,
    blue_tasks: int = 0,
    green_tasks: int = 0,
    release: str = "imageTag",
    blue_arn: str | None = None,
) -> Plan:
    """The plan of a release: ``blue`` (None for a first deployment) and ``green`` are task definitions in
    the RegisterTaskDefinition shape; ``tags`` maps an image reference to the tag it was resolved from."""
    tags = tags or {}
    old = blue or {}
    blue_containers = {c["name"]: c for c in old.get("containerDefinitions") or []}
    green_containers = {c["name"]: c for c in green.get("containerDefinitions") or []}
    names = list(green_containers) + [n for n in blue_containers if n not in green_containers]
    return Plan(
        service=service,
        release=release,
        blueTaskDefinition=blue_arn,
        task=_fields(old, green, TASK_FIELDS) if blue is not None else _fields({}, green, TASK_FIELDS),
        containers=[_container(n, blue_containers.get(n), green_containers.get(n), tags) for n in names],
        routes=route_plans or [],
        blueTasks=blue_tasks,
        greenTasks=green_tasks,
    )


# --- rendering ----------------------------------------------------------------------------------------------
def _group(arn: str) -> str:
    """``targetgroup/web-a/73e2...`` -> ``web-a``."""
    parts = arn.split(":")[-1].split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "targetgroup" else arn


def _short_image(image: ImageChange, side: str) -> str:
    reference = getattr(image, side)
    tag = getattr(image, f"{side}Tag")
    if reference is None:
        return "-"
    if tag:
        return tag
    return reference.rsplit("@", 1)[-1][:19] if "@" in reference else reference.rsplit("/", 1)[-1]


def _image_text(reference: str | None, tag: str | None) -> str:
    if reference is None:
        return "-"
    repo, _, digest = reference.partition("@")
    name = repo.rsplit("/", 1)[-1]
    if digest:
        return f"{name.split(':')[0]}:{tag} ({digest[:19]}…)" if tag else f"{name}@{digest[:19]}…"
    return name


def _weights(weights: dict[str, int]) -> str:
    shown = [f"{_group(arn)} {weight}%" for arn, weight in weights.items() if weight]
    return ", ".join(shown) or "nothing"


def plan_lines(plan: Plan) -> list[str]:
    lines = [f"Plan for {plan.service} ({plan.release}); blue: {plan.blueTaskDefinition or 'none (first deployment)'}"]
    for change in plan.task:
        lines.append(f"  task {change.field}: {change.before or '-'} -> {change.after or '-'}")
    lines.append("Containers:")
    for container in plan.containers:
        mark = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}[container.change]
        label = "" if container.change in ("changed", "unchanged") else f" ({container.change})"
        lines.append(f"  {mark} {container.name}{label}")
        if container.image:
            before = _image_text(container.image.before, container.image.beforeTag)
            after = _image_text(container.image.after, container.image.afterTag)
            if container.change == "changed":
                lines.append(f"      image  {before} -> {after}")
            else:
                lines.append(f"      image  {after if container.image.after else before}")
        for env in container.environment:
            if env.before is None:
                lines.append(f"      env    + {env.field}={env.after}")
            elif env.after is None:
                lines.append(f"      env    - {env.field}")
            else:
                lines.append(f"      env    ~ {env.field}: {env.before} -> {env.after}")
        for secret in container.secrets:
            if secret.before is None:
                lines.append(f"      secret + {secret.field} from {secret.after}")
            elif secret.after is None:
                lines.append(f"      secret - {secret.field}")
            else:
                lines.append(f"      secret ~ {secret.field} from {secret.after} (was {secret.before})")
        if container.portsBefore is not None:
            before_ports, after_ports = ", ".join(container.portsBefore) or "-", ", ".join(container.ports) or "-"
            lines.append(f"      ports  {before_ports} -> {after_ports}")
        elif container.change == "added" and container.ports:
            lines.append(f"      ports  {', '.join(container.ports)}")
        for setting in container.settings:
            lines.append(f"      {setting.field}: {setting.before or '-'} -> {setting.after or '-'}")
    if plan.routes:
        lines.append("Traffic:")
        for route in plan.routes:
            steps = " then ".join(_weights(step) for step in route.steps)
            lines.append(f"  {route.rule} rule: {_weights(route.before)} -> {steps}")
    lines.append(
        f"Tasks: green starts {plan.greenTasks} beside blue's {plan.blueTasks}; blue's are deleted after the bake"
        if plan.blueTasks
        else f"Tasks: green starts {plan.greenTasks}"
    )
    return lines


def render(plan: Plan, limit: int | None = None, full_command: str | None = None) -> str:
    """The plan as text, cut at a line boundary to at most ``limit`` characters, ending with how to see all."""
    lines = plan_lines(plan)
    text = "\n".join(lines)
    if limit is None or len(text) <= limit:
        return text

    def footer_for(left: int) -> str:
        more = f"… {left} more line{'s' if left > 1 else ''}"
        return more + (f"; full plan: {full_command}" if full_command else "")

    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        footer = footer_for(len(lines) - index)
        if used + len(line) + 1 + len(footer) > limit:
            break
        kept.append(line)
        used += len(line) + 1
    footer = footer_for(len(lines) - len(kept))
    return "\n".join([*kept, footer])[:limit]


def render_mrkdwn(plan: Plan, limit: int = SLACK_LIMIT, full_command: str | None = None) -> str:
    """For a Slack section: a code block (escaped), within ``limit`` characters."""
    room = budget = limit - 8
    while True:
        body = render(plan, budget, full_command).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if len(body) <= room or budget <= 200:
            break
        budget = max(200, budget * room // len(body) - 1)  # escaping lengthened it: render shorter, keep the footer
    return f"```\n{body[:room]}\n```"
