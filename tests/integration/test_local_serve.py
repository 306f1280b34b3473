"""`bluegreen local serve` driven from outside with the real AWS CLI (the awscli package)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .serve import BIN, approve, aws, serve_env, serving, wait_done

MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 1,
        "digest": "sha256:" + "c" * 64,
    },
    "layers": [
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": "sha256:" + "d" * 64}
    ],
}


@pytest.fixture(scope="module")
def endpoint():
    with serving() as served:
        yield served
    code, out = served["stopped"]
    assert code == 0 and "Stopped." in out


def test_start_execution_with_the_aws_cli_then_bluegreen_approve_deploys(endpoint):
    started = aws(
        endpoint,
        "stepfunctions", "start-execution", "--state-machine-arn", endpoint["arn"], "--name", "from-aws-cli",
        "--input", json.dumps({"service": "demo-web", "imageTag": "v2"}),
    )  # fmt: skip
    approve(endpoint)
    assert wait_done(endpoint, started["executionArn"])["status"] == "SUCCEEDED"


def test_pushing_an_image_through_the_endpoint_starts_a_deployment(endpoint):
    before = aws(endpoint, "stepfunctions", "list-executions", "--state-machine-arn", endpoint["arn"])["executions"]
    aws(
        endpoint,
        "ecr", "put-image", "--repository-name", "demo-web", "--image-tag", "v4",
        "--image-manifest", json.dumps(MANIFEST),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    new = []
    while not new and time.monotonic() < deadline:
        executions = aws(endpoint, "stepfunctions", "list-executions", "--state-machine-arn", endpoint["arn"])
        new = [e for e in executions["executions"] if e["executionArn"] not in {b["executionArn"] for b in before}]
        time.sleep(0.2)
    assert len(new) == 1
    approve(endpoint)
    description = wait_done(endpoint, new[0]["executionArn"])
    assert json.loads(description["input"])["imageTag"] == "v4"
    assert description["status"] == "SUCCEEDED", description.get("cause")


def test_the_slack_callback_refuses_unsigned_requests(endpoint):
    request = urllib.request.Request(
        endpoint["url"] + "/slack/interactions",
        data=b"payload=%7B%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401


def test_a_busy_port_is_reported_clearly(endpoint):
    result = subprocess.run(
        [str(BIN / "bluegreen"), "local", "serve", "--port", str(endpoint["port"])],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"port {endpoint['port']}" in result.stderr and "busy" in result.stderr


def test_set_alarm_state_during_a_bake_rolls_the_deployment_back(endpoint):
    # An operator tests the rollback with `aws cloudwatch set-alarm-state` against the endpoint
    import boto3  # the CLI subprocess is too slow for a bake of 120 simulated seconds (2 s of real time here)

    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    sfn = session.client("stepfunctions", endpoint_url=endpoint["url"])
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint["url"])
    arn = sfn.start_execution(
        stateMachineArn=endpoint["arn"],
        name="operator-sets-the-alarm",
        input=json.dumps({"service": "demo-web", "imageTag": "v3"}),
    )["executionArn"]
    approve(endpoint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=20)["events"]
        if any(e.get("stateEnteredEventDetails", {}).get("name") == "Bake" for e in events):
            break
        time.sleep(0.05)
    cloudwatch.set_alarm_state(AlarmName="demo-web-5xx", StateValue="ALARM", StateReason="operator test")
    description = wait_done(endpoint, arn)
    assert description["status"] == "FAILED"
    assert description["error"] == "RolledBack" and "operator test" in description["cause"]
