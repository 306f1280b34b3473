"""The emulator's ECS native blue/green model (local/native_ecs.py) on a moto account: a deployment started by
UpdateService goes through its lifecycle stages in simulated time, with a Lambda hook, a pause answered with
ContinueServiceDeployment, bake time, the listener rules moved, and the rollbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bluegreen_emulator.native_ecs import NativeEcs
from bluegreen_emulator.simclock import SimClock

REGION = "us-east-1"
HOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-native-hook"
HOOK_ROLE = "arn:aws:iam::123456789012:role/bluegreen-ecs-hook-invoke"
ELB_ROLE = "arn:aws:iam::123456789012:role/bluegreen-ecs-infrastructure"


@dataclass
class FakeHook:
    """A lifecycle-hook Lambda: answers from a script, records every payload it was sent."""

    answers: list[Any] = field(default_factory=lambda: [{"hookStatus": "SUCCEEDED"}])
    calls: list[tuple[float, dict[str, Any], str]] = field(default_factory=list)
    clock: SimClock | None = None

    def __call__(self, function_arn: str, payload: dict[str, Any], role_arn: str) -> tuple[bytes, str | None]:
        assert function_arn == HOOK_ARN
        self.calls.append((self.clock.elapsed if self.clock else 0.0, json.loads(json.dumps(payload)), role_arn))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, tuple):  # (payload, function error)
            return answer
        return json.dumps(answer).encode(), None


@dataclass
class Native:
    ecs: Any
    elbv2: Any
    cloudwatch: Any
    clock: SimClock
    model: NativeEcs
    hook: FakeHook
    blue: str
    green: str
    production_rule: str
    test_rule: str
    definitions: list[str]

    def configure(self, hooks: list[dict[str, Any]], bake: int = 5, alarms: list[str] | None = None) -> None:
        configuration: dict[str, Any] = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake, "lifecycleHooks": hooks}
        if alarms:
            configuration["alarms"] = {"alarmNames": alarms, "enable": True, "rollback": True}
        self.ecs.create_service(
            cluster="c",
            serviceName="web",
            taskDefinition=self.definitions[0],
            desiredCount=2,
            deploymentController={"type": "ECS"},
            deploymentConfiguration=configuration,
            loadBalancers=[
                {
                    "targetGroupArn": self.blue,
                    "containerName": "web",
                    "containerPort": 80,
                    "advancedConfiguration": {
                        "alternateTargetGroupArn": self.green,
                        "productionListenerRule": self.production_rule,
                        "testListenerRule": self.test_rule,
                        "roleArn": ELB_ROLE,
                    },
                }
            ],
        )

    def deploy(self, revision: int = 1) -> str:
        self.ecs.update_service(cluster="c", service="web", taskDefinition=self.definitions[revision])
        listed = self.ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"]
        return listed[0]["serviceDeploymentArn"]

    def describe(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    def green_weight(self, rule: str) -> int:
        actions = self.elbv2.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"]
        groups = {g["TargetGroupArn"]: g.get("Weight", 1) for g in actions[0]["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.green, 0)

    def paused(self, arn: str) -> dict[str, Any]:
        return next(h for h in self.describe(arn)["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION")


@pytest.fixture
def native() -> Iterator[Native]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        elbv2 = boto3.client("elbv2", region_name=REGION)
        ecs = boto3.client("ecs", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"][
                "SubnetId"
            ]
            for i, z in ((1, "a"), (2, "b"))
        ]
        balancer = elbv2.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        blue, green = (
            elbv2.create_target_group(Name=f"web-{n}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
                "TargetGroups"
            ][0]["TargetGroupArn"]
            for n in ("blue", "green")
        )
        forward = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": blue, "Weight": 100}]}}]
        rules = []
        for port, host in ((80, "web.example.com"), (8080, "test.web.example.com")):
            listener = elbv2.create_listener(
                LoadBalancerArn=balancer, Protocol="HTTP", Port=port, DefaultActions=forward
            )["Listeners"][0]["ListenerArn"]
            rules.append(
                elbv2.create_rule(
                    ListenerArn=listener,
                    Priority=1,
                    Conditions=[{"Field": "host-header", "Values": [host]}],
                    Actions=forward,
                )["Rules"][0]["RuleArn"]
            )
        ecs.create_cluster(clusterName="c")
        definitions = [
            ecs.register_task_definition(
                family="web",
                containerDefinitions=[{"name": "web", "image": f"web@sha256:{str(i) * 64}", "memory": 512}],
            )["taskDefinition"]["taskDefinitionArn"]
            for i in range(3)
        ]
        clock = SimClock()
        hook = FakeHook(clock=clock)
        with NativeEcs(clock, hook, seed=7) as model:
            yield Native(
                ecs=ecs,
                elbv2=elbv2,
                cloudwatch=boto3.client("cloudwatch", region_name=REGION),
                clock=clock,
                model=model,
                hook=hook,
                blue=blue,
                green=green,
                production_rule=rules[0],
                test_rule=rules[1],
                definitions=definitions,
            )


LAMBDA_AFTER_TEST = {
    "targetType": "AWS_LAMBDA",
    "hookTargetArn": HOOK_ARN,
    "roleArn": HOOK_ROLE,
    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    "hookDetails": {"service": "web"},
}
APPROVAL = {
    "targetType": "PAUSE",
    "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
    "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
}


def code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_a_native_deployment_goes_through_its_stages_with_a_hook_a_pause_and_the_bake(native):
    # Given a BLUE_GREEN service with our hook after the test shift and an approval pause before production
    native.configure([LAMBDA_AFTER_TEST, APPROVAL], bake=5)
    native.hook.answers = [
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 45, "hookDetails": {"service": "web", "round": 1}},
        {"hookStatus": "IN_PROGRESS"},
        {"hookStatus": "SUCCEEDED"},
    ]
    # When UpdateService sends a new task definition
    arn = native.deploy()
    # Then a service deployment starts, towards a new service revision, scaling green up
    started = native.describe(arn)
    assert started["status"] == "IN_PROGRESS"
    assert started["lifecycleStage"] == "SCALE_UP"
    revisions = native.ecs.describe_service_revisions(
        serviceRevisionArns=[started["targetServiceRevision"]["arn"], started["sourceServiceRevisions"][0]["arn"]]
    )["serviceRevisions"]
    assert [r["taskDefinition"] for r in revisions] == native.definitions[1::-1]
    assert native.hook.calls == []

    # When green has started (60 s): the test rule moves to green, production stays on blue, our hook is called
    native.clock.advance(60)
    assert native.green_weight(native.test_rule) == 100
    assert native.green_weight(native.production_rule) == 0
    assert len(native.hook.calls) == 1
    at, payload, role = native.hook.calls[0]
    assert (at, role) == (60, HOOK_ROLE)
    assert payload["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert payload["resourceArn"] == arn
    details = payload["executionDetails"]
    green_revision = started["targetServiceRevision"]["arn"]
    assert details["targetServiceRevisionArn"] == green_revision
    assert details["testTrafficWeights"][green_revision] == 100
    assert details["productionTrafficWeights"][green_revision] == 0
    assert payload["hookDetails"] == {"service": "web"}

    # Then IN_PROGRESS calls it again after its callBackDelay (45 s), with the hookDetails it returned, then 30 s
    native.clock.advance(44)
    assert len(native.hook.calls) == 1
    native.clock.advance(1)
    assert [c[0] for c in native.hook.calls] == [60, 105]
    assert native.hook.calls[1][1]["hookDetails"] == {"service": "web", "round": 1}
    native.clock.advance(30)
    assert [c[0] for c in native.hook.calls] == [60, 105, 135]

    # And the deployment waits at the pause, announced by an ECS Hook State Change event
    paused = native.paused(arn)
    assert paused["targetType"] == "PAUSE"
    assert paused["hookId"].startswith("ecs-pause-")
    assert paused["timeoutAction"] == "ROLLBACK"
    assert native.describe(arn)["lifecycleStage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    awaiting = [e for e in native.model.events if e["detail-type"] == "ECS Hook State Change"]
    assert [e["detail"]["eventName"] for e in awaiting] == ["HOOK_AWAITING_ACTION"]
    native.clock.advance(1800)
    assert native.green_weight(native.production_rule) == 0

    # When the approval continues it: production moves to green and the bake starts
    native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=paused["hookId"], action="CONTINUE")
    assert native.green_weight(native.production_rule) == 100
    assert native.describe(arn)["lifecycleStage"] == "BAKE_TIME"
    native.clock.advance(299)
    assert native.describe(arn)["status"] == "IN_PROGRESS"
    # Then after bakeTimeInMinutes blue is cleaned up and the deployment is SUCCESSFUL
    native.clock.advance(1)
    done = native.describe(arn)
    assert done["status"] == "SUCCESSFUL"
    assert done["sourceServiceRevisions"][0]["runningTaskCount"] == 0
    assert done["targetServiceRevision"]["runningTaskCount"] == 2
    service = native.ecs.describe_services(cluster="c", services=["web"])["services"][0]
    assert service["taskDefinition"] == native.definitions[1]
    assert service["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"


def test_the_next_deployment_goes_to_the_other_target_group(native):
    # Given a first deployment finished (no hooks, no bake): production forwards to the alternate group
    native.configure([], bake=0)
    first = native.deploy(1)
    native.clock.advance(60)
    assert native.describe(first)["status"] == "SUCCESSFUL"
    assert native.green_weight(native.production_rule) == 100
    # When a second one starts and finishes / Then it moves production back to the primary target group
    second = native.deploy(2)
    assert (
        native.describe(second)["sourceServiceRevisions"][0]["arn"]
        == native.describe(first)["targetServiceRevision"]["arn"]
    )
    native.clock.advance(60)
    assert native.describe(second)["status"] == "SUCCESSFUL"
    assert native.green_weight(native.production_rule) == 0
    listed = native.ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"]
    assert [d["serviceDeploymentArn"] for d in listed] == [second, first]


@pytest.mark.parametrize("how", ["pause", "stop"])
def test_a_rollback_puts_both_rules_and_the_task_definition_back_on_blue(native, how):
    # Given a deployment waiting at its approval, green behind the test rule
    native.configure([APPROVAL])
    arn = native.deploy()
    native.clock.advance(60)
    assert native.green_weight(native.test_rule) == 100
    # When it is rolled back: the approval rejected, or Roll back (StopServiceDeployment ROLLBACK)
    if how == "pause":
        hook = native.paused(arn)["hookId"]
        native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="ROLLBACK")
    else:
        native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    # Then both rules forward to blue, green has no task, the service runs blue's task definition
    rolled = native.describe(arn)
    assert rolled["status"] == "ROLLBACK_SUCCESSFUL"
    assert rolled["rollback"]["serviceRevisionArn"] == rolled["sourceServiceRevisions"][0]["arn"]
    assert native.green_weight(native.test_rule) == 0
    assert native.green_weight(native.production_rule) == 0
    assert rolled["targetServiceRevision"]["runningTaskCount"] == 0
    service = native.ecs.describe_services(cluster="c", services=["web"])["services"][0]
    assert service["taskDefinition"] == native.definitions[0]
    # And a finished deployment can be neither stopped nor continued
    assert code(lambda: native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")) == (
        "ConflictException"
    )
    assert code(lambda: native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="x")) == (
        "InvalidParameterException"
    )


def test_roll_back_during_the_bake_returns_production_to_blue(native):
    native.configure([], bake=30)
    arn = native.deploy()
    native.clock.advance(120)
    assert native.describe(arn)["lifecycleStage"] == "BAKE_TIME"
    assert native.green_weight(native.production_rule) == 100
    native.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert native.green_weight(native.production_rule) == 0
    assert native.describe(arn)["status"] == "ROLLBACK_SUCCESSFUL"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"hookStatus": "FAILED"}, "returned FAILED"),
        ({"status": "ok"}, "no valid hookStatus"),
        ((b'{"errorMessage": "boom"}', "Unhandled"), "function error Unhandled"),
    ],
)
def test_a_failing_lambda_hook_rolls_back(native, answer, reason):
    native.configure([LAMBDA_AFTER_TEST, APPROVAL])
    native.hook.answers = [answer]
    arn = native.deploy()
    native.clock.advance(60)
    rolled = native.describe(arn)
    assert rolled["status"] == "ROLLBACK_SUCCESSFUL"
    assert reason in rolled["statusReason"]
    assert native.green_weight(native.test_rule) == 0
    assert len(native.hook.calls) == 1  # the pause was never reached


@pytest.mark.parametrize(("action", "status"), [("ROLLBACK", "ROLLBACK_SUCCESSFUL"), ("CONTINUE", "SUCCESSFUL")])
def test_a_pause_nobody_answers_takes_its_timeout_action(native, action, status):
    pause = {**APPROVAL, "timeoutConfiguration": {"timeoutInMinutes": 10, "action": action}}
    native.configure([pause], bake=0)
    arn = native.deploy()
    native.clock.advance(60 + 599)
    assert native.describe(arn)["status"] == "IN_PROGRESS"
    native.clock.advance(1)
    assert native.describe(arn)["status"] == status


def test_an_alarm_in_alarm_rolls_back_the_deployment(native):
    native.cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    native.configure([], bake=30, alarms=["web-5xx"])
    arn = native.deploy()
    native.clock.advance(120)
    assert native.describe(arn)["lifecycleStage"] == "BAKE_TIME"
    native.cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx")
    native.clock.advance(1)
    rolled = native.describe(arn)
    assert rolled["status"] == "ROLLBACK_SUCCESSFUL"
    assert "web-5xx" in rolled["statusReason"]
    assert native.green_weight(native.production_rule) == 0


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ([{"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}], "PAUSE hooks cannot"),
        ([{"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}], "PAUSE hooks cannot"),
        ([{**LAMBDA_AFTER_TEST, "roleArn": None}], "hookTargetArn and roleArn"),
        ([{**APPROVAL, "timeoutConfiguration": {"timeoutInMinutes": 20161}}], "20160"),
    ],
)
def test_what_ecs_refuses_is_refused_and_nothing_starts(native, hooks, message):
    native.configure([{k: v for k, v in h.items() if v is not None} for h in hooks])
    with pytest.raises(ClientError) as raised:
        native.deploy()
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in raised.value.response["Error"]["Message"]
    assert native.ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"] == []
    service = native.ecs.describe_services(cluster="c", services=["web"])["services"][0]
    assert service["taskDefinition"] == native.definitions[0]


def test_an_unknown_deployment_is_not_found(native):
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/nope"
    assert code(lambda: native.ecs.stop_service_deployment(serviceDeploymentArn=arn)) == (
        "ServiceDeploymentNotFoundException"
    )
    described = native.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    assert described["failures"] == [{"arn": arn, "reason": "MISSING"}]


def test_uninstalled_the_operations_are_moto_s_again():
    # Given the model installed and then removed / Then moto's own answer (not implemented) is back
    with mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        NativeEcs(SimClock(), FakeHook()).install().uninstall()
        with pytest.raises(NotImplementedError):
            ecs.describe_service_deployments(serviceDeploymentArns=["arn:x"])


PER_STEP = {**LAMBDA_AFTER_TEST, "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}


@pytest.mark.parametrize(
    ("strategy", "extra", "shares", "step_bake"),
    [
        ("CANARY", {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}}, [10, 100], 300),
        ("LINEAR", {"linearConfiguration": {"stepPercent": 40.0, "stepBakeTimeInMinutes": 2}}, [40, 80, 100], 120),
    ],
)
def test_linear_and_canary_shift_in_steps_each_after_a_pause_and_baked_except_the_last(
    native, strategy, extra, shares, step_bake
):
    # Given a CANARY or LINEAR service with a pause before every production shift and our hook at every shift
    native.configure([PER_STEP, APPROVAL], bake=0)
    native.ecs.update_service(
        cluster="c",
        service="web",
        deploymentConfiguration={
            "strategy": strategy,
            "bakeTimeInMinutes": 0,
            "lifecycleHooks": [PER_STEP, APPROVAL],
            **extra,
        },
    )
    arn = native.deploy()
    native.clock.advance(60)
    seen = []
    for index, share in enumerate(shares):
        # When the pause before this step is continued
        hook = native.paused(arn)["hookId"]
        native.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook)
        # Then production moves to this step's share and our hook sees it
        assert native.green_weight(native.production_rule) == share
        seen.append(native.hook.calls[-1][1]["executionDetails"]["productionTrafficWeights"])
        if index < len(shares) - 1:
            # And the next pause comes only after the step bake
            native.clock.advance(step_bake - 1)
            assert not [h for h in native.describe(arn)["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION"]
            native.clock.advance(1)
    green = native.describe(arn)["targetServiceRevision"]["arn"]
    assert [weights[green] for weights in seen] == shares
    # The last step is not baked: the deployment finishes with no bake time
    assert native.describe(arn)["status"] == "SUCCESSFUL"
    assert len(native.hook.calls) == len(shares)


def test_the_dispatcher_invoker_passes_answers_function_errors_and_the_role_check():
    from bluegreen_emulator.native_ecs import dispatcher_invoker

    def invoke(function_arn: str, body: str | bytes | None, headers: dict[str, str]) -> bytes:
        event = json.loads(body or "{}")
        if event["lifecycleStage"] == "PRE_SCALE_UP":
            headers["x-amz-function-error"] = "Unhandled"
            return b'{"errorMessage": "boom"}'
        return json.dumps({"hookStatus": "SUCCEEDED", "stage": event["lifecycleStage"]}).encode()

    allowed = dispatcher_invoker(invoke, may_invoke=lambda role, function: role == HOOK_ROLE)
    raw, error = allowed(HOOK_ARN, {"lifecycleStage": "POST_SCALE_UP"}, HOOK_ROLE)
    assert (json.loads(raw)["stage"], error) == ("POST_SCALE_UP", None)
    assert allowed(HOOK_ARN, {"lifecycleStage": "PRE_SCALE_UP"}, HOOK_ROLE)[1] == "Unhandled"
    raw, error = allowed(HOOK_ARN, {"lifecycleStage": "POST_SCALE_UP"}, ELB_ROLE)  # a role without the grant
    assert error == "Unhandled"
    assert json.loads(raw)["errorType"] == "AccessDeniedException"
