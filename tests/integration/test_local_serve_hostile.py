"""`bluegreen local serve` used as a hostile user would: racing clicks, odd bodies, bad ports, stop."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest

from bluegreen.aws.config import parameter_name
from bluegreen_emulator.fake_slack import sign, signed_interaction

from .serve import BIN, free_port, serve_env, serving, start_serve

SECRET = "emulator-signing-secret"  # what `local serve` uses when SLACK_SIGNING_SECRET is unset
USER = "U0DEMO"  # on the emulator's default approver list
ROUNDS = 6
CLICKS = 6  # per round: half approve, half reject, all at once


@pytest.fixture(scope="module")
def served():
    with serving() as endpoint:
        url = endpoint["url"]
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        slack_api = next(line.split()[-1] for line in endpoint["lines"] if "Slack Web API" in line)
        yield {
            "url": url,
            "arn": endpoint["arn"],
            "table": session.resource("dynamodb", endpoint_url=url).Table(endpoint["table"]),
            "sfn": session.client("stepfunctions", endpoint_url=url),
            "ssm": session.client("ssm", endpoint_url=url),
            "elbv2": session.client("elbv2", endpoint_url=url),
            "response_url": slack_api.removesuffix("/api/") + "/response/",
            "process": endpoint["process"],
        }


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url + "/slack/interactions", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _pending_gate(table, service: str = "demo-web", timeout: float = 240, sfn=None, arn: str = "") -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pointer = table.get_item(Key={"pk": f"SERVICE#{service}", "sk": "GATE"}, ConsistentRead=True).get("Item")
        if pointer:
            gate = table.get_item(Key={"pk": f"GATE#{pointer['gateId']}", "sk": "GATE"}, ConsistentRead=True)["Item"]
            if gate["status"] == "PENDING" and gate.get("ts") and gate["kind"] == "approval":
                return gate
        time.sleep(0.05)
    seen = sfn.describe_execution(executionArn=arn) if sfn and arn else {}
    raise AssertionError(
        f"no pending approval; execution {seen.get('status')}: {seen.get('error')} {seen.get('cause')}"
    )


def _wait_end(sfn, arn: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.1)
    raise AssertionError("execution still running")


# --- bodies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"payload=\xff\xfe\xfa", b"\x80\x81not utf-8", b"payload=%7Bnot json", b"payload=%zz%%&&==", b"\x00\x01"],
    ids=["non-utf8-form", "binary", "bad-json", "bad-form", "nul"],
)
@pytest.mark.parametrize("signed", [False, True])
def test_an_undecodable_body_is_a_4xx_never_a_500(served, body, signed):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:  # signed over the text it would be, so only the decoding can refuse it
        headers.update(sign(SECRET, body.decode("utf-8", errors="replace")))
    status, answer = _post(served["url"], body, headers)
    assert 400 <= status < 500, answer
    assert served["process"].poll() is None


# --- racing clicks -----------------------------------------------------------------------------------
def _faster_demo(served) -> None:
    """A one-second bake, so that each approved round ends quickly in real time, and a five-second deregistration
    delay: a deleted task set stays DRAINING (and counts towards ECS's five per service) as long as its targets
    drain, 300 s by default, and the rounds follow each other faster than that."""
    name = parameter_name("demo-web")
    document = json.loads(served["ssm"].get_parameter(Name=name)["Parameter"]["Value"])
    document["bakeSeconds"] = 1
    served["ssm"].put_parameter(Name=name, Value=json.dumps(document), Type="String", Overwrite=True)
    for group in document["targetGroupArns"]:
        served["elbv2"].modify_target_group_attributes(
            TargetGroupArn=group, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]
        )


def _race(served, gate_id: str) -> list[tuple[str, int, str]]:
    """``CLICKS`` signed clicks (approve, reject, approve, ...) released at the same instant."""
    barrier = threading.Barrier(CLICKS)
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def click(action: str) -> None:
        body, headers = signed_interaction(
            SECRET, USER, action, gate_id, response_url=served["response_url"] + uuid.uuid4().hex
        )
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        barrier.wait()
        status, text = _post(served["url"], body.encode(), headers)
        with lock:
            answers.append((action, status, json.loads(text)["message"]))

    threads = [threading.Thread(target=click, args=(("approve", "reject")[i % 2],)) for i in range(CLICKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.matrix  # several real-time rounds against `local serve`: with the chaos matrices (make test-matrix)
def test_racing_approve_and_reject_clicks_tell_every_clicker_the_truth(served):
    _faster_demo(served)
    false_outcomes: list[str] = []
    for round_number in range(ROUNDS):
        # Given a deployment waiting for approval with its Slack message posted
        tag = "v2" if round_number % 2 == 0 else "v3"
        arn = served["sfn"].start_execution(
            stateMachineArn=served["arn"],
            name=f"race-{round_number}-{uuid.uuid4().hex[:6]}",
            input=json.dumps({"service": "demo-web", "imageTag": tag}),
        )["executionArn"]
        gate = _pending_gate(served["table"], sfn=served["sfn"], arn=arn)

        # When several people click Approve and Reject at the same moment
        answers = _race(served, gate["gateId"])

        # Then exactly one click is told it decided, every other one that it was already decided, and the
        # deployment ends the way the one decision says
        end = _wait_end(served["sfn"], arn)
        final = served["table"].get_item(Key={"pk": f"GATE#{gate['gateId']}", "sk": "GATE"})["Item"]["status"]
        decided = [(action, text) for action, status, text in answers if not text.lower().startswith("approval")]
        already = [text for _, _, text in answers if "already" in text]
        expected_end = {"APPROVED": "SUCCEEDED", "REJECTED": "FAILED"}[final]
        if len(answers) != CLICKS or any(status != 200 for _, status, _ in answers):
            false_outcomes.append(f"round {round_number}: {answers}")
        if len(decided) != 1 or len(already) != CLICKS - 1:
            false_outcomes.append(f"round {round_number}: {len(decided)} told they decided: {answers}")
        elif decided[0][1].split(":")[0] != {"APPROVED": "Approved", "REJECTED": "Rejected"}[final]:
            false_outcomes.append(f"round {round_number}: told {decided[0][1]!r}, gate {final}")
        if end["status"] != expected_end:
            false_outcomes.append(f"round {round_number}: gate {final} but the execution ended {end['status']}")
        wrong_already = [text for text in already if final.lower() not in text.lower()]
        if wrong_already:
            false_outcomes.append(f"round {round_number}: {wrong_already}")
    assert false_outcomes == []


# --- ports and stopping ---------------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_an_impossible_port_is_one_line_of_error(port):
    result = subprocess.run(
        [str(BIN / "bluegreen"), "local", "serve", "--port", port],
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"port {port}" in result.stderr


def test_stopping_serve_with_a_deployment_in_flight_is_fast_and_cleans_it_up():
    # Given `local serve` with a deployment waiting for an approval nobody gives
    port = free_port()
    process, _ = start_serve(port)
    url = f"http://127.0.0.1:{port}"
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    sfn = session.client("stepfunctions", endpoint_url=url)
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, input=json.dumps({"service": "demo-web", "imageTag": "v2"}))
    table = session.resource("dynamodb", endpoint_url=url).Table(
        session.client("dynamodb", endpoint_url=url).list_tables()["TableNames"][0]
    )
    _pending_gate(table)

    # When it is stopped
    started = time.monotonic()
    process.terminate()
    out, _ = process.communicate(timeout=30)
    took = time.monotonic() - started

    # Then it stops within 2 s, aborting (and cleaning up) the deployment
    assert process.returncode == 0
    assert "1 deployment(s) in flight aborted" in out
    assert took < 2.0, f"took {took:.1f}s"
