"""``bluegreen config from-codedeploy`` on the emulator: a CodeDeploy ECS deployment group in, a
service configuration out that deploys."""

from __future__ import annotations

import json

from bluegreen.aws.config import parameter_name
from bluegreen.domain.models import ServiceConfig
from bluegreen_cli.codedeploy import read
from bluegreen_cli.main import main


def test_a_codedeploy_deployment_group_becomes_a_working_service_configuration(emulator, capsys):
    # Given a service in the CodeDeploy layout (listeners :80 and :8080) and its CodeDeploy deployment group
    demo = emulator.seed_service("cd-web", layout="listener-ports")
    codedeploy = emulator.client("codedeploy")
    codedeploy.create_application(applicationName="web", computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName="web",
        deploymentGroupName="web-dg",
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": demo.name, "clusterName": demo.cluster}],
        alarmConfiguration={"enabled": True, "alarms": [{"name": demo.alarm_name}]},
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
            "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60},
        },
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": f"{demo.name}-a"}, {"name": f"{demo.name}-b"}],
                    "prodTrafficRoute": {"listenerArns": demo.production_routes},
                    "testTrafficRoute": {"listenerArns": [demo.test_rule_arn]},
                }
            ]
        },
    )

    # When the command converts it
    config = read(emulator.session, "web", "web-dg")

    # Then the configuration names the same listeners, target groups, alarm, strategy and hold
    assert config["productionRoutes"] == demo.production_routes
    assert config["testRoute"] == demo.test_rule_arn
    assert config["targetGroupArns"] == demo.target_groups
    assert config["alarmNames"] == [demo.alarm_name]
    assert config["trafficShift"] == {"type": "CANARY", "percent": 10, "intervalSeconds": 300}
    assert config["bakeSeconds"] == 300
    assert config["approval"] == {"required": True, "timeoutSeconds": 3600}
    assert (config["cluster"], config["service"], config["containerName"], config["repository"]) == (
        demo.cluster,
        demo.name,
        "web",
        demo.repository,
    )
    ServiceConfig.model_validate(config)

    # And the CLI prints the same document
    assert main(["config", "from-codedeploy", "--application", "web", "--deployment-group", "web-dg"]) == 0
    assert json.loads(capsys.readouterr().out) == config

    # And a deployment with it succeeds, both listeners moved
    emulator.client("ssm").put_parameter(
        Name=parameter_name(demo.name), Type="String", Value=json.dumps(config), Overwrite=True
    )
    result = emulator.run(demo.name, "v2")
    assert result.status == "SUCCEEDED", result.cause
    groups = {arn: emulator.rule_actions(arn)[0]["ForwardConfig"]["TargetGroups"] for arn in config["productionRoutes"]}
    assert all(
        {g["TargetGroupArn"]: g["Weight"] for g in tgs} == {demo.target_groups[1]: 100, demo.target_groups[0]: 0}
        for tgs in groups.values()
    )
