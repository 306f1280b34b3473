"""AWS CloudFormation: a user's own template deploys (the resource models are in ``cfn.py``); an
unsupported type fails the stack with a reason."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from moto.elbv2.models import (
    FakeTargetGroup,
)

from .core import Patcher


@contextlib.contextmanager
def cloudformation_templates(on_created: Callable[[Any, dict[str, Any]], None] | None = None) -> Iterator[None]:
    """A user's own CloudFormation template deploys (see local/cfn.py for the models these patches install);
    ``on_created(stack, template)`` runs after each stack creation or change set that succeeded (``template``:
    the one applied, as a dict; a change set's stack keeps its first one)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Event, Stack
    from moto.ec2.models.vpcs import VPC
    from moto.ecs.models import Service, TaskDefinition
    from moto.elbv2.models import FakeLoadBalancer, elbv2_backends

    from ..cfn import ResourceFailed, create_service, create_task_definition, supported, unsupported_reason

    patcher = Patcher()
    original_create_resource = parsing.parse_and_create_resource
    original_target_group = FakeTargetGroup.__dict__["create_from_cloudformation_json"].__func__
    original_create_resources = Stack.create_resources
    original_execute = CloudFormationBackend.execute_change_set

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):  # noqa: ANN001
        # An unknown type is skipped by moto (the stack completes without it); an error fails the API call.
        resource_type = resource_json.get("Type", "")
        if not supported(resource_type):
            raise ResourceFailed(logical_id, resource_type, unsupported_reason(resource_type))
        try:
            return original_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceFailed:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of one resource fails the stack, as in AWS
            raise ResourceFailed(logical_id, resource_type, f"{type(error).__name__}: {error}") from error

    def create_target_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
        # TargetGroupAttributes are ignored by moto (the data plane reads the deregistration delay).
        group = original_target_group(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        attributes = cloudformation_json["Properties"].get("TargetGroupAttributes") or []
        if attributes:
            elbv2_backends[account_id][region_name].modify_target_group_attributes(
                group.arn, {item["Key"]: str(item["Value"]) for item in attributes}
            )
        return group

    original_balancer_attribute = FakeLoadBalancer.get_cfn_attribute

    def balancer_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        # GetAtt LoadBalancerFullName and SecurityGroups raise NotImplementedError in moto (an alarm's
        # LoadBalancer dimension is the full name, app/NAME/ID).
        if attribute_name == "LoadBalancerFullName":
            return self.arn.split(":loadbalancer/", 1)[1]
        if attribute_name == "SecurityGroups":
            return list(self.security_groups)
        return original_balancer_attribute(self, attribute_name)

    def target_group_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
        # A moto target group has no GetAtt at all (an alarm's TargetGroup dimension is its full name).
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        values = {
            "TargetGroupFullName": self.arn.split(":", 5)[5],
            "TargetGroupName": self.name,
            "TargetGroupArn": self.arn,
            "LoadBalancerArns": list(self.load_balancer_arns),
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    original_vpc = VPC.__dict__["create_from_cloudformation_json"].__func__

    def create_vpc(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # noqa: ANN001
        # EnableDnsHostnames and EnableDnsSupport are ignored by moto (moto's ECS tasks need a VPC with DNS
        # hostnames for their private DNS name).
        vpc = original_vpc(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json["Properties"]
        for key, attribute in (
            ("EnableDnsHostnames", "enable_dns_hostnames"),
            ("EnableDnsSupport", "enable_dns_support"),
        ):
            if key in properties:
                setattr(vpc, attribute, str(properties[key]).lower() == "true")
        return vpc

    def roll_back(stack: Stack, failed: ResourceFailed) -> None:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=failed.logical_id,
                physical_resource_id="",
                resource_type=failed.resource_type,
                resource_status="CREATE_FAILED",
                resource_status_reason=failed.reason,
                resource_properties=None,
            )
        )
        stack._add_stack_event(
            "ROLLBACK_IN_PROGRESS",
            resource_status_reason=f"The following resource(s) failed to create: [{failed.logical_id}]. "
            "Rollback requested by user.",
        )
        with contextlib.suppress(Exception):  # what was created is deleted, as far as moto can
            stack.resource_map.delete()
        # A rolled-back stack lists no resources and no outputs (moto would try to create them again).
        stack.resource_map._resource_json_map = {}
        stack.output_map._output_json_map = {}
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"

    def create_resources(self: Stack) -> None:
        try:
            original_create_resources(self)
        except ResourceFailed as failed:
            roll_back(self, failed)
            return
        if on_created:
            on_created(self, self.template_dict)

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
        )
        try:
            original_execute(self, change_set_name, stack_name)
        except ResourceFailed as failed:
            if change_set is None or change_set.change_set_type != "CREATE":
                raise
            change_set.execution_status = "EXECUTE_FAILED"
            roll_back(self.stacks[change_set.stack_id], failed)
            return
        if on_created and change_set is not None:
            on_created(self.stacks[change_set.stack_id], change_set.template_dict)

    # The model list is cached: seen afresh, it holds cfn.MetricAlarmResource (a subclass of CloudFormationModel).
    # moto gap: AWS::CloudWatch::Alarm has no model (cfn.MetricAlarmResource); a type moto does not model is
    # skipped and a failing resource fails the API call, where AWS records CREATE_FAILED and rolls back.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    patcher.replace(parsing, "parse_and_create_resource", parse_and_create_resource)
    # moto gap: the VPC's EnableDnsHostnames and EnableDnsSupport are ignored.
    patcher.replace(VPC, "create_from_cloudformation_json", classmethod(create_vpc))
    # moto gap: a task definition loses its network mode, roles, CPU and compatibilities.
    patcher.replace(TaskDefinition, "create_from_cloudformation_json", classmethod(create_task_definition))
    # moto gap: an EXTERNAL service (no TaskDefinition) fails; the controller, network and load balancers are lost.
    patcher.replace(Service, "create_from_cloudformation_json", classmethod(create_service))
    # moto gap: a target group's TargetGroupAttributes are ignored.
    patcher.replace(FakeTargetGroup, "create_from_cloudformation_json", classmethod(create_target_group))
    # moto gap: a failed resource rolls the stack back (CREATE_FAILED, ROLLBACK_COMPLETE) instead of raising.
    patcher.replace(Stack, "create_resources", create_resources)
    # moto gap: GetAtt LoadBalancerFullName and SecurityGroups raise NotImplementedError.
    patcher.replace(FakeLoadBalancer, "get_cfn_attribute", balancer_attribute)
    # moto gap: a target group has no GetAtt (TargetGroupFullName, the alarm dimension).
    patcher.replace(FakeTargetGroup, "get_cfn_attribute", target_group_attribute, missing=True)
    # moto gap: a change set whose resource fails rolls the new stack back instead of raising.
    patcher.replace(CloudFormationBackend, "execute_change_set", execute_change_set)
    try:
        yield
    finally:
        patcher.restore()
