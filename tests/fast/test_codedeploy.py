"""CodeDeploy deployment configurations and groups map onto this tool's configuration (pure)."""

from __future__ import annotations

import pytest

from bluegreen.domain.models import ServiceConfig
from bluegreen_cli.codedeploy import service_config, traffic_shift
from bluegreen_cli.common import UsageError

P = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
GROUP = {
    "deploymentGroupName": "web-dg",
    "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
    "ecsServices": [{"serviceName": "web", "clusterName": "prod"}],
    "loadBalancerInfo": {
        "targetGroupPairInfoList": [
            {
                "targetGroups": [{"name": "web-a"}, {"name": "web-b"}],
                "prodTrafficRoute": {"listenerArns": [f"{P}:listener/app/web/1/80"]},
                "testTrafficRoute": {"listenerArns": [f"{P}:listener/app/web/1/8080"]},
            }
        ]
    },
    "alarmConfiguration": {"enabled": False, "alarms": [{"name": "web-5xx"}]},
    "blueGreenDeploymentConfiguration": {"deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"}},
}
TGS = [f"{P}:targetgroup/web-a/1", f"{P}:targetgroup/web-b/2"]


@pytest.mark.parametrize(
    ("name", "routing", "expected"),
    [
        ("CodeDeployDefault.ECSAllAtOnce", None, {"type": "ALL_AT_ONCE"}),
        (
            "CodeDeployDefault.ECSCanary10Percent15Minutes",
            None,
            {"type": "CANARY", "percent": 10, "intervalSeconds": 900},
        ),
        (
            "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
            None,
            {"type": "LINEAR", "percent": 10, "intervalSeconds": 180},
        ),
        (
            "Custom",
            {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 30}},
            {"type": "CANARY", "percent": 25, "intervalSeconds": 1800},
        ),
        (
            "Custom",
            {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 20, "linearInterval": 2}},
            {"type": "LINEAR", "percent": 20, "intervalSeconds": 120},
        ),
        ("Custom", {"type": "AllAtOnce"}, {"type": "ALL_AT_ONCE"}),
    ],
)
def test_deployment_configurations_become_traffic_shifts(name, routing, expected):
    assert traffic_shift(name, routing) == expected


def test_a_group_without_wait_or_alarms_becomes_a_valid_configuration():
    # Given a group that continues on its own and has its alarms disabled
    config = service_config(GROUP, TGS, "web", "web")
    # Then no approval, no alarms, the default bake, and the listeners as routes
    assert config["approval"] == {"required": False}
    assert config["alarmNames"] == []
    assert config["bakeSeconds"] == 600
    assert config["productionRoutes"] == [f"{P}:listener/app/web/1/80"]
    ServiceConfig.model_validate(config)


def test_a_group_without_a_test_listener_is_refused_with_what_to_do():
    group = {**GROUP, "loadBalancerInfo": {"targetGroupPairInfoList": [{"prodTrafficRoute": {"listenerArns": ["x"]}}]}}
    with pytest.raises(UsageError, match="test listener"):
        service_config(group, TGS, "web", "web")
