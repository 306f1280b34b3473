"""``bluegreen selftest``: a full release and a rolled-back one through the deployed stack, on throwaway resources.

On the load balancer listener the user names it creates an ECR repository (two images copied from ones the user
names), two target groups, two listener rules (host headers no client sends), a task definition family, an
EXTERNAL service and its configuration; runs a first release, a full release (green, health gate, approval
answered here, swap, bake) and a release rolled back during its bake; then deletes all of it, also on failure or
Ctrl-C (``--keep`` leaves it for inspection) and checks that nothing it created is left.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bluegreen.aws.config import parameter_name

from .common import CliError, UsageError

PREFIX = "bluegreen-selftest"
DONE = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """SIGINT ignored inside the block (in the main thread; elsewhere signals cannot be changed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Created:
    """What the selftest made, in creation order (deleted in reverse)."""

    repository: str | None = None
    target_groups: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    family: str | None = None
    service: tuple[str, str] | None = None  # (cluster, name)
    parameter: str | None = None


class SelfTest:
    def __init__(
        self,
        operator: Any,
        *,
        listener_arn: str,
        cluster: str,
        subnets: list[str],
        security_groups: list[str],
        images: list[str],
        task_definition: str,
        timeout: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if len(images) != 2:
            raise UsageError("selftest needs two images (--image REPO:TAG twice)", "name two different releases")
        self.operator = operator
        self.session = operator.clients.session
        self.listener_arn = listener_arn
        self.cluster = cluster
        self.subnets = subnets
        self.security_groups = security_groups
        self.images = images
        self.task_definition = task_definition
        self.timeout = timeout
        self.sleep = sleep
        self.name = f"{PREFIX}-{secrets.token_hex(3)}"
        self.created = Created()
        self.ecs = operator.clients.ecs
        self.elbv2 = operator.clients.elbv2
        self.ecr = operator.clients.ecr
        self.ssm = operator.clients.ssm

    def say(self, text: str) -> None:
        self.operator.print(f"selftest: {text}")

    # --- the run --------------------------------------------------------------------------------------
    def run(self, keep: bool = False) -> int:
        try:
            self.create()
            self.release("v1", expect_rollback=False)
            self.release("v2", expect_rollback=False)
            # The rolled-back release gets a long bake: it is rolled back as soon as its bake gate opens, and a short
            # one could end (on local serve's compressed clock, within a poll) before the rollback is asked.
            self._set_bake(600)
            self.release("v1", expect_rollback=True)
            self.say("passed: a first release, a full release and a rolled-back one")
            return 0
        finally:
            if keep:
                self.say(f"--keep: left {self.created} for inspection")
            else:
                with _no_interrupts():  # a second Ctrl-C must not stop the deletion half-way
                    self.delete()
                left = self.leftovers()
                if left:
                    raise CliError(f"selftest left {', '.join(left)} behind", "delete them by hand")
                self.say("deleted everything it created")

    # --- resources ------------------------------------------------------------------------------------
    def create(self) -> None:
        self.say(f"creating {self.name} on {self.listener_arn}")
        self.ecr.create_repository(repositoryName=self.name)
        self.created.repository = self.name
        for tag, source in zip(("v1", "v2"), self.images, strict=True):
            repository, _, source_tag = source.partition(":")
            found = self.ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": source_tag}])["images"]
            if not found:
                raise UsageError(f"image {source} not found in ECR", "name an image that exists (--image REPO:TAG)")
            self.ecr.put_image(repositoryName=self.name, imageManifest=found[0]["imageManifest"], imageTag=tag)
        listener = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]
        balancer = self.elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])["LoadBalancers"][
            0
        ]
        base = self.ecs.describe_task_definition(taskDefinition=self.task_definition)["taskDefinition"]
        container = next(c for c in base["containerDefinitions"] if c.get("portMappings"))
        port = int(container["portMappings"][0]["containerPort"])
        for suffix in ("a", "b"):
            group = self.elbv2.create_target_group(
                Name=f"{self.name}-{suffix}",
                Protocol="HTTP",
                Port=port,
                VpcId=balancer["VpcId"],
                TargetType="ip",
                HealthCheckIntervalSeconds=10,
                HealthyThresholdCount=2,
            )["TargetGroups"][0]["TargetGroupArn"]
            self.created.target_groups.append(group)
        taken = {
            int(rule["Priority"])
            for rule in self.elbv2.describe_rules(ListenerArn=self.listener_arn)["Rules"]
            if rule["Priority"] != "default"
        }
        free = (p for p in range(1, 50001) if p not in taken)
        for host, group in ((f"{self.name}.invalid", 0), (f"test.{self.name}.invalid", 1)):
            rule = self.elbv2.create_rule(
                ListenerArn=self.listener_arn,
                Priority=next(free),
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
                Actions=[{"Type": "forward", "TargetGroupArn": self.created.target_groups[group]}],
            )["Rules"][0]["RuleArn"]
            self.created.rules.append(rule)
        definition = {k: base[k] for k in ("networkMode", "requiresCompatibilities", "cpu", "memory") if k in base}
        definition.update({k: base[k] for k in ("taskRoleArn", "executionRoleArn") if base.get(k)})
        definition["containerDefinitions"] = [
            {**container, "image": f"{self.name}:v1"} if c is container else c for c in base["containerDefinitions"]
        ]
        self.ecs.register_task_definition(family=self.name, **definition)
        self.created.family = self.name
        config = {
            "cluster": self.cluster,
            "service": self.name,
            "containerName": container["name"],
            "repository": self.name,
            "productionRuleArn": self.created.rules[0],
            "testRuleArn": self.created.rules[1],
            "targetGroupArns": self.created.target_groups,
            "healthWaitTimeoutSeconds": 600,
            "bakeSeconds": 60,
            "network": {
                "subnets": self.subnets,
                "securityGroups": self.security_groups,
                "launchType": "FARGATE",
            },
            "taskDefinition": self.name,
        }
        self.ssm.put_parameter(Name=parameter_name(self.name), Type="String", Value=json.dumps(config))
        self.created.parameter = parameter_name(self.name)
        self.ecs.create_service(
            cluster=self.cluster, serviceName=self.name, desiredCount=1, deploymentController={"type": "EXTERNAL"}
        )
        self.created.service = (self.cluster, self.name)

    def delete(self) -> None:
        """Delete what was created, newest first; each step goes on whatever the one before did."""
        created = self.created
        steps: list[tuple[str, Callable[[], Any]]] = []
        if created.service:
            steps.append(("service", self._delete_service))
        if created.parameter:
            steps.append(("parameter", lambda: self.ssm.delete_parameter(Name=created.parameter)))
        if created.family:
            steps.append(("task definitions", self._delete_family))
        steps += [("rule", lambda arn=arn: self.elbv2.delete_rule(RuleArn=arn)) for arn in created.rules]
        steps += [
            ("target group", lambda arn=arn: self.elbv2.delete_target_group(TargetGroupArn=arn))
            for arn in created.target_groups
        ]
        if created.repository:
            steps.append(
                ("repository", lambda: self.ecr.delete_repository(repositoryName=created.repository, force=True))
            )
        for what, step in steps:
            try:
                step()
            except ClientError as error:
                self.say(f"could not delete the {what}: {error}")

    def _delete_service(self) -> None:
        cluster, name = self.created.service or ("", "")
        # A deleted task set stays listed, DRAINING, for its target group's deregistration delay: only the others
        # are deleted (ECS answers TaskSetNotFoundException for a DRAINING one).
        for task_set in self._task_sets():
            if task_set.get("status") != "DRAINING":
                self.ecs.delete_task_set(cluster=cluster, service=name, taskSet=task_set["taskSetArn"], force=True)
        self.ecs.delete_service(cluster=cluster, service=name, force=True)

    def _task_sets(self) -> list[dict[str, Any]]:
        cluster, name = self.created.service or ("", "")
        services = self.ecs.describe_services(cluster=cluster, services=[name]).get("services", [])
        return [ts for s in services if s.get("status") == "ACTIVE" for ts in s.get("taskSets") or []]

    def _delete_family(self) -> None:
        arns = self.ecs.list_task_definitions(familyPrefix=self.name, status="ACTIVE").get("taskDefinitionArns", [])
        for arn in arns:
            self.ecs.deregister_task_definition(taskDefinition=arn)

    def leftovers(self) -> list[str]:
        """What of the selftest's resources still exists."""
        left = []
        if self.created.service and self._task_sets():
            left.append("task sets")
        if self.created.service:
            cluster, name = self.created.service
            services = self.ecs.describe_services(cluster=cluster, services=[name]).get("services", [])
            if any(s.get("status") == "ACTIVE" for s in services):
                left.append(f"service {name}")
        if self.created.parameter:
            try:
                self.ssm.get_parameter(Name=self.created.parameter)
                left.append(f"parameter {self.created.parameter}")
            except ClientError:
                pass
        for arn in self.created.rules:
            try:
                self.elbv2.describe_rules(RuleArns=[arn])
                left.append(f"rule {arn}")
            except ClientError:
                pass
        for arn in self.created.target_groups:
            try:
                self.elbv2.describe_target_groups(TargetGroupArns=[arn])
                left.append(f"target group {arn}")
            except ClientError:
                pass
        if self.created.repository:
            try:
                self.ecr.describe_repositories(repositoryNames=[self.created.repository])
                left.append(f"repository {self.created.repository}")
            except ClientError:
                pass
        return left

    # --- releases -------------------------------------------------------------------------------------
    def _set_bake(self, seconds: int) -> None:
        name = parameter_name(self.name)
        config = json.loads(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        config["bakeSeconds"] = seconds
        self.ssm.put_parameter(Name=name, Type="String", Value=json.dumps(config), Overwrite=True)

    def release(self, tag: str, expect_rollback: bool) -> None:
        before = self._production_groups()
        arn = self.operator.deploy(self.name, tag=tag)
        answered: set[str] = set()
        deadline = time.monotonic() + self.timeout
        while True:
            status = self.operator.clients.sfn.describe_execution(executionArn=arn)["status"]
            if status in DONE:
                break
            if time.monotonic() > deadline:
                raise CliError(f"release {tag} did not end within {self.timeout:.0f} s", f"bluegreen follow {arn}")
            gate = self.operator.store.open_gate_of(self.name)
            if gate and gate.executionArn == arn and gate.gateId not in answered:
                if gate.kind == "approval":
                    self.operator.answer(self.name, "approve")
                    answered.add(gate.gateId)
                elif expect_rollback and gate.kind == "bake":
                    self.operator.answer(self.name, "rollback", "selftest: a rolled-back release")
                    answered.add(gate.gateId)
            self.sleep(self.operator.interval)
        after = self._production_groups()
        if expect_rollback:
            if after != before:
                raise CliError(f"the rolled-back release {tag} left production on {after}, not {before}", arn)
            self.say(f"release {tag} rolled back ({status}); production still on {sorted(after)}")
            return
        if status != "SUCCEEDED":
            raise CliError(f"release {tag} ended {status}", f"bluegreen follow {arn}")
        if after == before:
            raise CliError(f"release {tag} succeeded but production did not move from {sorted(before)}", arn)
        self.say(f"release {tag} succeeded; production on {sorted(after)}")

    def _production_groups(self) -> set[str]:
        (rule,) = self.elbv2.describe_rules(RuleArns=[self.created.rules[0]])["Rules"]
        groups: set[str] = set()
        for action in rule["Actions"]:
            if action.get("Type") != "forward":
                continue
            for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
                if int(group.get("Weight", 1)) > 0:
                    groups.add(group["TargetGroupArn"])
            if action.get("TargetGroupArn") and not (action.get("ForwardConfig") or {}).get("TargetGroups"):
                groups.add(action["TargetGroupArn"])
        return groups
