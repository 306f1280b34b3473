"""The template's deployment events and delivery dashboard: scoped, optional, wired."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

TEMPLATE: dict[str, Any] = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]
BUS_ARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
PUBLISHERS = {
    "ValidateFunction",
    "CheckHealthFunction",
    "OpenGateFunction",
    "SwapFunction",
    "DeleteOldFunction",
    "CleanupFunction",
    "RollbackFunction",
    "ExecutionEndedFunction",  # a stop from the console still ends with a deployment event
    "ReconcilerFunction",  # the execution-ended path it runs, and its repair events
}


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for p in resource["Properties"].get("Policies", []) if isinstance(p, dict) for s in p.get("Statement", [])
    ]


def test_event_bus_parameter_defaults_to_the_default_bus_and_is_validated():
    parameter = TEMPLATE["Parameters"]["EventBusName"]
    assert parameter["Default"] == "default"
    assert re.fullmatch(parameter["AllowedPattern"], "default")
    assert not re.fullmatch(parameter["AllowedPattern"], "bad bus*")
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}


def test_only_the_publishing_steps_may_put_events_and_only_on_the_stack_bus():
    allowed = {
        name
        for name, resource in RESOURCES.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for statement in statements(resource)
        if "events:PutEvents" in statement["Action"]
    }
    assert allowed == PUBLISHERS
    for name in PUBLISHERS:
        (statement,) = [s for s in statements(RESOURCES[name]) if "events:PutEvents" in s["Action"]]
        assert statement["Action"] == "events:PutEvents"
        assert statement["Resource"] == {"Fn::Sub": BUS_ARN}


def test_the_sns_subscription_and_the_dashboard_are_optional():
    rule = RESOURCES["DeploymentEventsToTopic"]
    assert rule["Condition"] == "HasDeploymentEventsTopic"
    assert rule["Properties"]["EventPattern"] == {"source": ["bluegreen.deployments"]}
    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBusName"}
    assert RESOURCES["DeliveryDashboard"]["Condition"] == "HasDashboard"
    assert TEMPLATE["Parameters"]["DashboardEnabled"]["Default"] == "false"


def test_dashboard_shows_the_delivery_metrics_the_handlers_publish():
    body_template, variables = RESOURCES["DeliveryDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = body_template.replace("${AWS::Region}", "eu-west-1").replace("${Namespace}", variables["Namespace"])
    body = re.sub(r"\$\{(\w+)\}", r"\1", body)
    widgets = json.loads(body)["widgets"]
    metrics = {m[1] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"] if len(m) > 1}
    metrics |= {m[1] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"] if m[0] == "."}
    assert {"DeploymentsSucceeded", "ChangeFailures", "ReleasesInProduction", "LeadTime", "TimeToRestore"} <= metrics
    assert {"ApprovalWait"} <= metrics
    handlers = "".join((Path(__file__).resolve().parents[2] / "functions" / f / "app.py").read_text() for f in (
        "swap", "rollback", "delete_old"))  # fmt: skip
    for name in ("ChangeFailures", "ReleasesInProduction", "LeadTime", "TimeToRestore", "ApprovalWait"):
        assert f'name="{name}"' in handlers, name
    assert any(w["type"] == "log" and "stats latest(phase)" in w["properties"]["query"] for w in widgets)
