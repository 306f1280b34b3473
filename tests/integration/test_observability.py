"""What operators see in the logs and metrics of a deployment, and what they must never see."""

from __future__ import annotations

import json

from bluegreen_emulator.emulator import Emulator


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_workflow_log_line_carries_the_execution_and_metrics_are_emitted(capsys):
    with Emulator(metrics=True) as emu:
        demo = emu.seed_service()
        result = emu.run(demo.name, "v2")
        logs = _json_lines(emu.log_stream.getvalue())
        secrets = emu.slack_secrets

    assert result.status == "SUCCEEDED"
    workflow_lines = [line for line in logs if "SlackCallback" not in line.get("function_name", "")]
    assert workflow_lines
    assert {line["correlation_id"] for line in workflow_lines} == {result.execution_arn}
    validated = next(line for line in logs if line["message"] == "Validated deployment")
    assert (validated["service"], validated["phase"]) == ("demo-web", "validate")
    assert validated["image"].endswith(demo.digests["v2"])

    emitted = _json_lines(capsys.readouterr().out)
    names = {
        metric["Name"]
        for blob in emitted
        if "_aws" in blob
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert {"DeploymentsStarted", "DeploymentsSucceeded", "DeploymentDuration", "ApprovalWait"} <= names

    # The Slack bot token and signing secret never reach a log line or stdout
    everything = json.dumps(logs) + json.dumps(emitted)
    assert secrets["botToken"] not in everything
    assert secrets["signingSecret"] not in everything
