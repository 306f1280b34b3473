"""How the emulator's IAM authorizes ECS list/describe calls: the resource AWS names, and the condition keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluegreen_emulator import iam
from tests.fast.test_iam import ACCOUNT, ENV, REGION, authorizer, policy

CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/demo-web-cluster"
OTHER_CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/other"


def test_list_tasks_without_a_container_instance_is_authorized_on_star_with_the_cluster_key() -> None:
    # When the request of a ListTasks by startedBy is built
    (request,) = iam.requests_for("ecs", "ListTasks", {"cluster": "demo-web-cluster", "startedBy": "ecs-svc/1"}, ENV)
    # Then it is ecs:ListTasks on "*" (as AWS's error names it) with ecs:cluster = the cluster's ARN
    assert request == iam.Request("ecs:ListTasks", "*", {"ecs:cluster": CLUSTER})


def test_list_tasks_of_a_container_instance_is_authorized_on_the_instance() -> None:
    # When ListTasks names a container instance
    (request,) = iam.requests_for("ecs", "ListTasks", {"cluster": "c", "containerInstance": "abc"}, ENV)
    # Then it is authorized on that container instance's ARN
    assert request.resource == f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/c/abc"


def test_a_policy_scoped_to_task_and_instance_arns_denies_list_tasks() -> None:
    # Given the policy the template used to grant: ListTasks on container-instance and task ARNs of the cluster
    scoped = policy(
        {
            "Effect": "Allow",
            "Action": ["ecs:ListTasks"],
            "Resource": [
                f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/demo-web-cluster/*",
                f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/demo-web-cluster/*",
            ],
        }
    )
    (request,) = iam.requests_for("ecs", "ListTasks", {"cluster": "demo-web-cluster", "startedBy": "x"}, ENV)
    # Then AWS (and the emulator) refuse it
    assert not iam.is_allowed(scoped, request)


@pytest.mark.parametrize(("cluster", "allowed"), [("demo-web-cluster", True), ("other", False)])
def test_list_tasks_on_star_is_scoped_by_the_ecs_cluster_condition(cluster: str, allowed: bool) -> None:
    # Given "*" with ArnEquals ecs:cluster = one cluster
    p = policy(
        {
            "Effect": "Allow",
            "Action": "ecs:ListTasks",
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}},
        }
    )
    (request,) = iam.requests_for("ecs", "ListTasks", {"cluster": cluster, "startedBy": "x"}, ENV)
    # Then only that cluster's tasks can be listed
    assert iam.is_allowed(p, request) is allowed


def test_arn_equals_takes_wildcards_like_arn_like() -> None:
    # Given ArnEquals with a wildcard (the template's EcsClusterName defaults to "*")
    p = policy(
        {
            "Effect": "Allow",
            "Action": "ecs:ListTasks",
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/*"}},
        }
    )
    # Then every cluster of the account matches, as in IAM
    assert iam.is_allowed(p, iam.Request("ecs:ListTasks", "*", {"ecs:cluster": OTHER_CLUSTER}))


@pytest.mark.parametrize("function", ["CheckHealthFunction", "SwapFunction", "DeleteOldFunction"])
def test_the_template_lets_each_task_reader_list_tasks_of_the_configured_cluster_only(function: str) -> None:
    # Given the template's policies with EcsClusterName = demo-web-cluster
    checker = authorizer(EcsClusterName="demo-web-cluster")
    mine = iam.requests_for("ecs", "ListTasks", {"cluster": "demo-web-cluster", "startedBy": "x"}, ENV)
    other = iam.requests_for("ecs", "ListTasks", {"cluster": "other", "startedBy": "x"}, ENV)
    # Then the function may list the configured cluster's tasks and no other cluster's
    assert checker.allows(function, mine[0])
    assert not checker.allows(function, other[0])


def test_describe_task_sets_is_authorized_on_each_named_task_set() -> None:
    # When DescribeTaskSets names a task set by id
    params = {"cluster": "c", "service": "web", "taskSets": ["ecs-svc/1"]}
    (request,) = iam.requests_for("ecs", "DescribeTaskSets", params, ENV)
    # Then it is authorized on that task set's ARN with ecs:service
    assert request.resource == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-set/c/web/ecs-svc/1"
    assert request.context["ecs:service"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c/web"


def _cfn_lint_ecs_actions() -> dict[str, dict[str, list[str]]]:
    cfnlint = pytest.importorskip("cfnlint")
    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    if not path.exists():
        pytest.skip("this cfn-lint bundles no Policies.json")
    return json.loads(path.read_text())["ecs"]["Actions"]


@pytest.mark.parametrize("action", sorted(iam.ECS_RESOURCE_TYPES))
def test_the_emulators_ecs_resource_types_are_those_of_the_service_authorization_reference(action: str) -> None:
    # Given cfn-lint's copy of the Service Authorization Reference
    actions = _cfn_lint_ecs_actions()
    # Then the emulator authorizes each ECS action on the resource types the reference lists for it
    assert tuple(actions[action.lower()].get("Resources") or ()) == iam.ECS_RESOURCE_TYPES[action]
