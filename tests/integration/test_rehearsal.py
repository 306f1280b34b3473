"""A snapshot taken from one emulator seeds another, where a release is rehearsed to its end.

Emulator A answers as another account than the default one (so nothing passes by the default being
shared); its demo service (two production rules, a sidecar with a secret reference) is snapshotted with
describe calls only, A is stopped, and emulator B is started from the file alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen_cli import snapshot as snapshots
from bluegreen_emulator.emulator import SLACK_SECRET, Emulator
from bluegreen_emulator.rehearsal import emulator_for, seed_snapshot, shape
from bluegreen_emulator.seed import SECRET_VALUE

ACCOUNT = "210987654321"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    """Given emulator A (another account and region) with the demo service, its snapshot file."""
    path = tmp_path_factory.mktemp("rehearsal") / "demo-web.json"
    with Emulator(account=ACCOUNT, region=REGION) as a:
        demo = a.seed_service(layout="several-rules", sidecar=True)
        elbv2 = a.client("elbv2")
        elbv2.modify_target_group_attributes(
            TargetGroupArn=demo.target_groups[0],
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
        )
        session = boto3.session.Session(region_name=REGION)
        operations: list[str] = []
        session.events.register("before-call", lambda model, **_: operations.append(model.name))
        snapshots.write(snapshots.take(session, demo.name, stack="bluegreen"), path)
        before = shape(a, demo.name)
        secrets = [SECRET_VALUE, *a.slack_secrets.values(), SLACK_SECRET]
    return path, before, secrets, operations


Taken = tuple[Path, dict[str, Any], list[str], list[str]]


def test_snapshot_is_read_only_and_keeps_no_secret(taken: Taken) -> None:
    # Given the snapshot of A / Then it made describe/list/get calls only
    path, _, secrets, operations = taken
    assert operations and all(op.startswith(("Describe", "List", "Get")) for op in operations), operations
    # And the file holds no secret value, nor the Slack secret's name
    text = path.read_text()
    for secret in secrets:
        assert secret not in text
    # And it says what it left out
    document = json.loads(text)
    assert document["format"] == 1
    assert any("Slack secret" in line for line in document["omitted"])
    # And the task definition keeps the secret's reference, not its value
    sidecar_definition = document["taskDefinitions"][0]["containerDefinitions"][0]
    assert sidecar_definition["secrets"][0]["valueFrom"].startswith(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/")


def test_rehearsal_has_the_same_shape_and_a_release_ends_deployed(taken: Taken) -> None:
    # Given emulator B started from the file alone
    path, before, _, _ = taken
    snapshot = snapshots.load(path)
    with emulator_for(snapshot) as b:
        demo = seed_snapshot(b, snapshot)
        # Then describe calls answer as they did on A: same account, ARNs, ids, rules, groups, alarm, images
        assert (b.account, b.region) == (ACCOUNT, REGION)
        assert shape(b, demo.name) == before
        # When a release of v2 runs on B
        result = b.run(demo.name, "v2")
        # Then it ends deployed: production on v2, one task set left, whose id is new
        assert result.outcome == "deployed", (result.error, result.cause)
        task_sets = b.task_sets(demo.name)
        assert [ts["imageTag"] for ts in task_sets] == ["v2"]
        assert task_sets[0]["id"] != before["taskSets"][0]["id"]
        weights = b.production_weights(demo.name)
        assert {group for group, weight in weights.items() if weight} == {task_sets[0]["targetGroupArn"]}


@pytest.mark.matrix
@pytest.mark.parametrize("layout", ["listener-ports", "nlb"])
def test_rehearsal_of_listener_layouts(layout: str) -> None:
    # Given a service whose routes are listeners (an ALB's, or an NLB's) snapshotted in emulator A
    with Emulator(account=ACCOUNT, slack=False) as a:
        demo = a.seed_service(layout=layout)
        taken = snapshots.parse(
            json.loads(snapshots.take(boto3.session.Session(region_name=a.region), demo.name).model_dump_json())
        )
        before = shape(a, demo.name)
    # When emulator B starts from it and v2 is released
    with emulator_for(taken, slack=False) as b:
        rehearsed = seed_snapshot(b, taken)
        assert shape(b, rehearsed.name) == before
        result = b.run(rehearsed.name, "v2")
        # Then it ends deployed
        assert result.outcome == "deployed", (result.error, result.cause)


def test_the_snapshot_command_writes_the_file_or_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bluegreen_cli.main import main

    with Emulator(slack=False) as emu:
        demo = emu.seed_service()
        output = tmp_path / "snap.json"
        # When `bluegreen local snapshot SERVICE --output FILE` runs against the account
        assert main(["local", "snapshot", demo.name, "--output", str(output), "--region", emu.region]) == 0
        # Then the file is a snapshot of it, and the command says no secret was read
        assert snapshots.load(output).ecsService["serviceName"] == demo.name
        assert "No secret was read" in capsys.readouterr().out
        # When the service has no configuration document / Then exit 2, naming the parameter
        assert main(["local", "snapshot", "nope", "--output", str(tmp_path / "nope.json")]) == 2
        assert "no service configuration /bluegreen/services/nope" in capsys.readouterr().err
        assert not (tmp_path / "nope.json").exists()
