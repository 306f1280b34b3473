"""A service built with the real AWS CLI against `bluegreen local serve` runs its tasks, as in ECS.

No deployment runs: the task set becomes visible, its tasks start and register, and its targets turn healthy
because serve's clock moves on with real time. CloudWatch's alarm history answers, and no time serve shows is
ahead of the wall clock.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime

import pytest

from .serve import BIN, aws, serve_env, serving


def _until(check, timeout: float = 120.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


def _moment(value: str | float) -> datetime:
    """A timestamp as the AWS CLI prints it (ISO 8601, or epoch seconds)."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(value)


@pytest.mark.matrix  # end to end through the real AWS CLI against `local serve`: with the slow matrices
def test_a_task_set_created_with_the_aws_cli_runs_registered_healthy_tasks():
    with serving() as endpoint:
        # Given a VPC, an ALB forwarding to a target group, and an EXTERNAL service, all made with the AWS CLI
        vpc = aws(endpoint, "ec2", "create-vpc", "--cidr-block", "10.60.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            aws(endpoint, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", f"10.60.{i}.0/24",
                "--availability-zone", f"us-east-1{zone}")["Subnet"]["SubnetId"]
            for i, zone in ((1, "a"), (2, "b"))
        ]  # fmt: skip
        group = aws(endpoint, "ec2", "create-security-group", "--group-name", "cli-web", "--description", "web",
                    "--vpc-id", vpc)["GroupId"]  # fmt: skip
        target_group = aws(
            endpoint, "elbv2", "create-target-group", "--name", "cli-web-blue", "--protocol", "HTTP", "--port", "8080",
            "--vpc-id", vpc, "--target-type", "ip", "--health-check-interval-seconds", "5",
            "--healthy-threshold-count", "2",
        )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
        balancer = aws(endpoint, "elbv2", "create-load-balancer", "--name", "cli-web", "--subnets", *subnets,
                       "--security-groups", group)["LoadBalancers"][0]["LoadBalancerArn"]  # fmt: skip
        aws(endpoint, "elbv2", "create-listener", "--load-balancer-arn", balancer, "--protocol", "HTTP", "--port", "80",
            "--default-actions", f"Type=forward,TargetGroupArn={target_group}")  # fmt: skip
        aws(endpoint, "ecs", "create-cluster", "--cluster-name", "cli")
        definition = aws(
            endpoint, "ecs", "register-task-definition", "--family", "cli-web", "--network-mode", "awsvpc",
            "--requires-compatibilities", "FARGATE", "--cpu", "256", "--memory", "512", "--container-definitions",
            json.dumps([{"name": "web", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                         "portMappings": [{"containerPort": 8080}]}]),
        )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
        aws(endpoint, "ecs", "create-service", "--cluster", "cli", "--service-name", "cli-web", "--desired-count", "2",
            "--deployment-controller", "type=EXTERNAL")  # fmt: skip

        # When a task set is created with create-task-set
        task_set = aws(
            endpoint, "ecs", "create-task-set", "--cluster", "cli", "--service", "cli-web", "--task-definition",
            definition, "--launch-type", "FARGATE", "--network-configuration",
            json.dumps({"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}}),
            "--load-balancers", json.dumps([{"targetGroupArn": target_group, "containerName": "web",
                                             "containerPort": 8080}]),
            "--scale", "unit=PERCENT,value=100",
        )["taskSet"]  # fmt: skip

        # Then, with no deployment running, describe-task-sets shows it STEADY_STATE with 2 running tasks...
        def steady() -> dict | None:
            shown = aws(endpoint, "ecs", "describe-task-sets", "--cluster", "cli", "--service", "cli-web",
                        "--task-sets", task_set["taskSetArn"])["taskSets"]  # fmt: skip
            return shown[0] if shown and shown[0]["stabilityStatus"] == "STEADY_STATE" else None

        shown = _until(steady)
        assert shown and shown["runningCount"] == 2, shown
        # ... list-tasks --started-by lists its 2 tasks, and their addresses are healthy targets of its group
        tasks = aws(endpoint, "ecs", "list-tasks", "--cluster", "cli", "--started-by", task_set["id"])["taskArns"]
        assert len(tasks) == 2
        described = aws(endpoint, "ecs", "describe-tasks", "--cluster", "cli", "--tasks", *tasks)["tasks"]
        addresses = {
            d["value"] for t in described for a in t["attachments"] for d in a["details"]
            if d["name"] == "privateIPv4Address"
        }  # fmt: skip
        health = aws(endpoint, "elbv2", "describe-target-health", "--target-group-arn", target_group)
        assert {(d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"]) for d in
                health["TargetHealthDescriptions"]} == {(a, 8080, "healthy") for a in addresses}  # fmt: skip


@pytest.mark.matrix  # end to end through the real AWS CLI against `local serve`: with the slow matrices
def test_alarm_history_answers_and_no_time_is_ahead_of_the_wall_clock():
    with serving() as endpoint:
        # Given the demo's alarm set to ALARM by hand, and a deployment waiting for its approval (time runs fast)
        aws(endpoint, "cloudwatch", "set-alarm-state", "--alarm-name", "demo-web-5xx", "--state-value", "ALARM",
            "--state-reason", "by hand")  # fmt: skip
        aws(endpoint, "cloudwatch", "set-alarm-state", "--alarm-name", "demo-web-5xx", "--state-value", "OK",
            "--state-reason", "by hand")  # fmt: skip
        started = aws(endpoint, "stepfunctions", "start-execution", "--state-machine-arn", endpoint["arn"],
                      "--input", json.dumps({"service": "demo-web", "imageTag": "v2"}))  # fmt: skip
        time.sleep(5)

        # When the alarm history and `bluegreen status` are read
        history = aws(endpoint, "cloudwatch", "describe-alarm-history", "--alarm-name", "demo-web-5xx",
                      "--history-item-type", "StateUpdate")["AlarmHistoryItems"]  # fmt: skip
        env = serve_env(AWS_ENDPOINT_URL=endpoint["url"], BLUEGREEN_STATE_MACHINE_ARN=endpoint["arn"],
                        BLUEGREEN_TABLE=endpoint["table"])  # fmt: skip
        wide = {**env, "COLUMNS": "250"}  # one table row per line, whatever the terminal
        status = subprocess.run([str(BIN / "bluegreen"), "status"], env=wide, capture_output=True, text=True)
        aws(endpoint, "stepfunctions", "stop-execution", "--execution-arn", started["executionArn"])

        # Then the history lists the changes newest first, and nothing shown is in the future
        assert [item["HistorySummary"] for item in history[:2]] == [
            "Alarm updated from ALARM to OK",
            "Alarm updated from OK to ALARM",
        ]
        now = datetime.now(UTC)
        assert all(_moment(item["Timestamp"]) <= now for item in history), history
        assert status.returncode == 0, status.stderr
        row = next(line for line in status.stdout.splitlines() if line.startswith("demo-web "))
        since = row.split(" approval, expires ")[0]  # the gate's deadline is rightly ahead
        assert "ago)" in since and "(in " not in since, status.stdout
