"""`aws cloudformation deploy` of examples/user-service.yaml against `bluegreen local serve`, then the first
release with `bluegreen deploy`, all from outside (the AWS CLI and the bluegreen CLI in other processes)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from .serve import BIN, approve, aws, serve_env, serving, wait_done

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "user-service.yaml"
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 1,
        "digest": "sha256:" + "e" * 64,
    },
    "layers": [
        {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": "sha256:" + "f" * 64}
    ],
}


@pytest.mark.matrix  # end to end through the real AWS CLI against `local serve`: with the slow matrices
def test_aws_cloudformation_deploy_then_a_first_release() -> None:
    with serving() as endpoint:
        # Given the example template deployed with the AWS CLI's `cloudformation deploy` (change sets)
        deployed = subprocess.run(
            [str(BIN / "aws"), "--endpoint-url", endpoint["url"], "cloudformation", "deploy",
             "--template-file", str(TEMPLATE), "--stack-name", "web", "--capabilities", "CAPABILITY_IAM"],
            env=serve_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        (stack,) = aws(endpoint, "cloudformation", "describe-stacks", "--stack-name", "web")["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        (service,) = aws(endpoint, "ecs", "describe-services", "--cluster", "web-cluster", "--services", "web")[
            "services"
        ]
        assert service["deploymentController"] == {"type": "EXTERNAL"}
        # When v1 is pushed and released with `bluegreen deploy`
        aws(endpoint, "ecr", "put-image", "--repository-name", "web", "--image-tag", "v1",
            "--image-manifest", json.dumps(MANIFEST))  # fmt: skip
        env = serve_env(
            AWS_ENDPOINT_URL=endpoint["url"],
            BLUEGREEN_STATE_MACHINE_ARN=endpoint["arn"],
            BLUEGREEN_TABLE=endpoint["table"],
        )
        started = subprocess.run(
            [str(BIN / "bluegreen"), "deploy", "web", "v1"], env=env, capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stdout + started.stderr
        execution = re.findall(r"arn:aws:states:[^\s)]+:execution:[^\s)]+", started.stdout)[0]
        # And approved with `bluegreen approve` once it waits for it
        approve(endpoint, "web")
        # Then it ends deployed: one task set (the first), production forwards to its target group
        description = wait_done(endpoint, execution)
        assert description["status"] == "SUCCEEDED", description
        (service,) = aws(endpoint, "ecs", "describe-services", "--cluster", "web-cluster", "--services", "web")[
            "services"
        ]
        (task_set,) = service["taskSets"]
        assert task_set["status"] == "PRIMARY"
        rule = json.loads(deployed_config(endpoint))["productionRuleArn"]
        (production,) = aws(endpoint, "elbv2", "describe-rules", "--rule-arns", rule)["Rules"]
        forwarded = {
            g["TargetGroupArn"] for g in production["Actions"][0]["ForwardConfig"]["TargetGroups"] if g["Weight"]
        }
        assert forwarded == {task_set["loadBalancers"][0]["targetGroupArn"]}


def deployed_config(endpoint: dict) -> str:
    return aws(endpoint, "ssm", "get-parameter", "--name", "/bluegreen/services/web")["Parameter"]["Value"]
