"""IAM is enforced in the emulator - every AWS call a function makes is checked against its policy."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bluegreen_emulator import lambdas

CANARY = {"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}}


def test_a_canary_runs_with_every_call_allowed_and_swap_posts_its_milestones(emulator):
    # Given a canary deployment (Swap posts "10% of production on green" in the deployment's Slack thread)
    demo = emulator.seed_service(config_overrides=CANARY)

    # When it runs with every function limited to its own policy from template.yaml
    result = emulator.run(demo.name, "v2")

    # Then it deploys, no call was denied, and Swap's milestone reached Slack (it can read the Slack secret)
    assert result.status == "SUCCEEDED", result.cause
    assert emulator.iam is not None and emulator.iam.denials == []
    swap_reads = [
        c for c in emulator.recorder.calls if c.function == "SwapFunction" and c.operation == "GetSecretValue"
    ]
    assert len(swap_reads) == 1  # its own container: it cannot use a secret another function fetched
    notes = [c for c in emulator.slack.calls_to("chat.postMessage") if "10%" in json.dumps(c.__dict__, default=str)]
    assert notes, "Swap's canary milestone was not posted"
    assert [ts["imageTag"] for ts in emulator.task_sets(demo.name)] == ["v2"]


def test_a_call_outside_the_function_policy_fails_as_aws_would(emulator):
    # Given the emulator's stack
    demo = emulator.seed_service()
    ecs = emulator.client("ecs")
    # When code running as CheckHealth (read-only) tries to delete the blue task set
    lambdas._state.function = "CheckHealthFunction"
    try:
        with pytest.raises(ClientError) as raised:
            ecs.delete_task_set(cluster=demo.cluster, service=demo.name, taskSet=demo.blue_task_set, force=True)
    finally:
        lambdas._state.function = None
    # Then ECS answers AccessDeniedException, names the action, and nothing changed
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "ecs:DeleteTaskSet" in raised.value.response["Error"]["Message"]
    assert [d.principal for d in emulator.iam.denials] == ["CheckHealthFunction"]
    assert [ts["id"] for ts in emulator.task_sets(demo.name)] == [demo.blue_task_set]
