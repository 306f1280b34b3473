"""``bluegreen deploy`` / ``plan`` options -> exactly one release shape, without AWS."""

from __future__ import annotations

import argparse
import json

import pytest

from bluegreen_cli.common import UsageError
from bluegreen_cli.release_args import MAX_INLINE_BYTES, add_release_arguments, label, release_input

SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/db"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    add_release_arguments(parser)
    return parser.parse_args(["web", *argv])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["v2"], {"imageTag": "v2"}),
        (["v2", "--digest", "sha256:" + "a" * 64], {"imageTag": "v2", "imageDigest": "sha256:" + "a" * 64}),
        (["--image", "web=v2"], {"images": {"web": "v2"}}),
        (["v2", "--image", "agent=1.1"], {"images": {"web": "v2", "agent": "1.1"}}),
        (["--task-definition", "web:42"], {"taskDefinition": "web:42"}),
        (
            ["--set-env", "web:A=1=2", "--unset-env", "web:B", "--memory", "1024", "--image", "agent=1.1"],
            {
                "taskDefinitionOverrides": {
                    "memory": "1024",
                    "containers": {
                        "web": {"environment": {"A": "1=2"}, "removeEnvironment": ["B"]},
                        "agent": {"image": "1.1"},
                    },
                }
            },
        ),
        (["--secret", "web:DB=arn:aws:ssm:us-east-1:123456789012:parameter/db"],
         {"taskDefinitionOverrides": {"containers": {"web": {"secrets": {"DB": SSM_ARN}}}}}),
    ],
)  # fmt: skip
def test_options_map_onto_one_release_shape(argv, expected):
    assert release_input(parse(*argv), "web") == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to deploy"),
        (["v2", "--task-definition", "web:3"], "cannot be combined"),
        (["--image", "web=v2", "--digest", "sha256:" + "a" * 64], "--digest goes with TAG alone"),
        (["--set-env", "KEY=VALUE"], "must start with CONTAINER:"),
        (["v2", "--image", "web=v3"], "both set the image of web"),
    ],
)
def test_contradictions_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        release_input(parse(*argv), "web")


def test_a_task_definition_file_is_read_and_a_large_one_refused_with_how_to_register(tmp_path):
    small = tmp_path / "taskdef.json"
    small.write_text(json.dumps({"family": "web", "containerDefinitions": [{"name": "web", "image": "x"}]}))
    assert release_input(parse("--task-definition", str(small)), "web")["taskDefinition"]["family"] == "web"

    big = tmp_path / "big.json"
    big.write_text(json.dumps({"family": "web", "pad": "x" * MAX_INLINE_BYTES}))
    with pytest.raises(UsageError) as refused:
        release_input(parse("--task-definition", str(big)), "web")
    assert "register-task-definition --cli-input-json" in refused.value.hint

    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        release_input(parse("--task-definition", str(broken)), "web")


def test_labels_name_executions():
    assert label({"imageTag": "v2"}) == "v2"
    assert label({"taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:3"}) == "web:3"
    assert label({"taskDefinition": {"taskDefinition": {"family": "web"}}}) == "web-inline"
    assert label({"taskDefinitionOverrides": {}}) == "config"
