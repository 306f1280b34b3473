"""The snapshot file (format 1): what is read, and what is refused with which error and hint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen_cli import snapshot as snapshots
from bluegreen_cli.snapshot import FORMAT, SnapshotFormatTooNew, SnapshotInvalid

ARN = "arn:aws:elasticloadbalancing:eu-west-1:210987654321"


def _valid() -> dict[str, Any]:
    return {
        "format": 1,
        "takenAt": "2026-12-07T23:00:00+00:00",
        "account": "210987654321",
        "region": "eu-west-1",
        "service": "web",
        "configParameter": "/bluegreen/services/web",
        "config": {
            "cluster": "main",
            "service": "web",
            "containerName": "web",
            "repository": "web",
            "productionRuleArn": f"{ARN}:listener-rule/app/lb/1/2/3",
            "testRuleArn": f"{ARN}:listener-rule/app/lb/1/2/4",
            "targetGroupArns": [f"{ARN}:targetgroup/web-a/1", f"{ARN}:targetgroup/web-b/2"],
        },
        "cluster": {"clusterName": "main"},
        "ecsService": {"serviceName": "web", "serviceArn": "arn:aws:ecs:eu-west-1:210987654321:service/main/web"},
    }


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_a_valid_file_is_read(tmp_path: Path) -> None:
    # Given a format-1 file / When it is loaded / Then its fields and the service configuration are there
    snapshot = snapshots.load(_write(tmp_path, _valid()))
    assert (snapshot.format, snapshot.account, snapshot.region) == (FORMAT, "210987654321", "eu-west-1")
    assert snapshot.service_config().cluster == "main"
    assert any("Slack secret" in line for line in snapshot.omitted)


def test_a_written_snapshot_reads_back_the_same(tmp_path: Path) -> None:
    snapshot = snapshots.parse(_valid())
    path = tmp_path / "again.json"
    snapshots.write(snapshot, path)
    assert snapshots.load(path) == snapshot


@pytest.mark.parametrize("newer", [2, 17])
def test_a_newer_format_is_refused_with_what_to_do(tmp_path: Path, newer: int) -> None:
    # Given a file from a newer bluegreen
    document = {**_valid(), "format": newer, "somethingNew": {}}
    # When it is loaded / Then it is refused as too new, saying to upgrade or take it again
    with pytest.raises(SnapshotFormatTooNew) as refused:
        snapshots.load(_write(tmp_path, document))
    line = refused.value.line()
    assert line.startswith("error: SnapshotFormatTooNew:")
    assert f"format {newer}" in line and "upgrade ecs-bluegreen" in line
    assert refused.value.code == 2


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ("{not json", "is not JSON"),
        ([1, 2], "no 'format' field"),
        ({"service": "web"}, "no 'format' field"),
        ({**_valid(), "format": 0}, "format"),
        ({**_valid(), "format": "1"}, "format"),
        ({**_valid(), "account": "21098765"}, "account"),
        ({k: v for k, v in _valid().items() if k != "ecsService"}, "ecsService"),
        ({**_valid(), "unknownSection": []}, "unknownSection"),
        ({**_valid(), "config": {**_valid()["config"], "targetGroupArns": ["only-one"]}}, "targetGroupArns"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_problem(tmp_path: Path, document: Any, names: str) -> None:
    # Given a file that is not a valid snapshot / When it is loaded / Then SnapshotInvalid names what is wrong
    with pytest.raises(SnapshotInvalid) as refused:
        snapshots.load(_write(tmp_path, document))
    line = refused.value.line()
    assert line.startswith("error: SnapshotInvalid:")
    assert names in line
    assert "bluegreen local snapshot SERVICE --output FILE" in line


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotInvalid, match="cannot read"):
        snapshots.load(tmp_path / "absent.json")
