"""The plan of a release (bluegreen.domain.plan): a pure function of blue's and green's task definitions."""

from __future__ import annotations

import copy

from bluegreen.domain.plan import HIDDEN, SLACK_LIMIT, Plan, build_plan, plan_lines, render, render_mrkdwn, routes

REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
SIDE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/log-router"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
TG_A = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-a/1111"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-b/2222"


def blue() -> dict:
    return {
        "family": "web",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
        "containerDefinitions": [
            {
                "name": "web",
                "image": f"{REPO}@{D1}",
                "cpu": 0,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "STAGE", "value": "demo"}, {"name": "DB_PASSWORD", "value": "hunter2"}],
                "secrets": [{"name": "API_KEY", "valueFrom": SECRET_ARN}],
            },
            {"name": "old-agent", "image": f"{SIDE}@{D1}"},
        ],
    }


def test_plan_lists_every_kind_of_change_and_never_a_secret_value():
    # Given green changes the image, env (incl. a sensitive one), a secret, memory, the role and containers
    green = copy.deepcopy(blue())
    web = green["containerDefinitions"][0]
    web["image"] = f"{REPO}@{D2}"
    web["environment"] = [{"name": "STAGE", "value": "prod"}, {"name": "DB_PASSWORD", "value": "correct-horse"}]
    web["secrets"].append({"name": "TOKEN", "valueFrom": SECRET_ARN + "2"})
    web["portMappings"].append({"containerPort": 9090, "protocol": "tcp"})
    green["memory"] = "1024"
    green["taskRoleArn"] = "arn:aws:iam::123456789012:role/web-task-v2"
    green["containerDefinitions"] = [web, {"name": "log-router", "image": f"{SIDE}@{D2}"}]

    # When the plan is built and rendered
    plan = build_plan(
        "web",
        blue(),
        green,
        tags={f"{REPO}@{D1}": "v1", f"{REPO}@{D2}": "v2"},
        route_plans=routes("rule/prod", "rule/test", TG_A, TG_B, [10, 100]),
        blue_tasks=3,
        green_tasks=3,
    )
    text = render(plan)

    # Then each change is there
    containers = {c.name: c for c in plan.containers}
    assert containers["web"].change == "changed"
    assert (containers["web"].image.beforeTag, containers["web"].image.afterTag) == ("v1", "v2")
    assert containers["log-router"].change == "added"
    assert containers["old-agent"].change == "removed"
    assert {c.field: (c.before, c.after) for c in plan.task} == {
        "memory": ("512", "1024"),
        "taskRoleArn": ("arn:aws:iam::123456789012:role/web-task", "arn:aws:iam::123456789012:role/web-task-v2"),
    }
    assert "env    ~ STAGE: demo -> prod" in text
    assert "ports  8080/tcp -> 8080/tcp, 9090/tcp" in text
    assert f"secret + TOKEN from {SECRET_ARN}2" in text
    assert "web-a 100% -> web-b 10%, web-a 90% then web-b 100%" in text
    assert "green starts 3 beside blue's 3" in text
    # ... secrets by name and valueFrom only; a sensitive-looking env value is hidden on both sides
    assert "hunter2" not in text and "correct-horse" not in text
    assert "hunter2" not in plan.model_dump_json() and "correct-horse" not in plan.model_dump_json()
    assert HIDDEN in text
    # ... and the one-line summary names the changes
    assert plan.summary().startswith("web image v1->v2, 2 env, 1 secret, ports; added container log-router")
    assert "memory 512->1024" in plan.summary()


def test_plan_survives_a_round_trip_through_json():
    plan = build_plan("web", blue(), blue())
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    assert plan.summary() == "no task definition change"
    assert all(c.change == "unchanged" for c in plan.containers)


def test_a_first_deployment_has_no_blue():
    plan = build_plan("web", None, blue(), route_plans=routes("p", "t", None, TG_B, [100]), green_tasks=2)
    assert [c.change for c in plan.containers] == ["added", "added"]
    assert plan_lines(plan)[0].endswith("blue: none (first deployment)")
    assert [r.rule for r in plan.routes] == ["production"]


def test_a_large_plan_is_cut_cleanly_for_slack_with_the_command_for_the_full_one():
    # Given green adds 400 environment variables
    green = copy.deepcopy(blue())
    green["containerDefinitions"][0]["environment"] += [{"name": f"VAR_{i}", "value": "v" * 40} for i in range(400)]
    plan = build_plan("web", blue(), green)
    full = render(plan).splitlines()

    # When rendered for Slack
    text = render_mrkdwn(plan, full_command="bluegreen status web")

    # Then it fits a Slack section, is a code block of whole lines, and ends saying how to see the rest
    assert len(text) <= SLACK_LIMIT
    assert text.startswith("```\n") and text.endswith("\n```")
    body = text.removeprefix("```\n").removesuffix("\n```").splitlines()
    assert body[-1].startswith("… ") and body[-1].endswith("more lines; full plan: bluegreen status web")
    assert all(line in full for line in body[:-1])
    assert len(body) - 1 + int(body[-1].split()[1]) == len(full)


def test_render_escapes_mrkdwn_and_stays_within_the_limit():
    green = copy.deepcopy(blue())
    green["containerDefinitions"][0]["environment"] += [{"name": f"X{i}", "value": "<&>" * 30} for i in range(200)]
    text = render_mrkdwn(build_plan("web", blue(), green), limit=1500, full_command="bluegreen status web")
    assert len(text) <= 1500
    assert "<" not in text.replace("&lt;", "")
    assert text.rstrip("`\n").endswith("full plan: bluegreen status web")


def test_the_approval_message_carries_the_plan_block():
    from bluegreen.domain.gates import Gate
    from bluegreen.slack.messages import decided_blocks, gate_blocks

    plan_text = render_mrkdwn(build_plan("web", blue(), blue()), full_command="bluegreen status web")
    gate = Gate(
        gateId="ap-abcdefgh",
        kind="approval",
        service="web",
        executionArn="arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:deploy-web-v2",
        taskToken="token",
        createdAt="2026-01-01T00:00:00+00:00",
        expiresAt="2026-01-01T01:00:00+00:00",
        imageTag="v2",
        planText=plan_text,
    )
    blocks = gate_blocks(gate)
    assert {"type": "section", "text": {"type": "mrkdwn", "text": plan_text}} in blocks
    assert blocks[-1]["type"] == "actions"  # the buttons come after the plan
    decided = gate.model_copy(
        update={"status": "APPROVED", "decidedBy": "slack:U123", "decidedAt": "2026-01-01T00:00:00+00:00"}
    )
    assert {"type": "section", "text": {"type": "mrkdwn", "text": plan_text}} in decided_blocks(decided)
    without = gate_blocks(gate.model_copy(update={"planText": None}))
    assert len(without) == len(blocks) - 1
