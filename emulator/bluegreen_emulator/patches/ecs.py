"""Amazon ECS: task definitions as AWS accepts them, tasks of task sets, ListTasks filters, eventual
consistency, one-off tasks, deployment controllers."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.ecs.exceptions import EcsClientException, ECSException, InvalidParameterException
from moto.ecs.exceptions import TaskSetNotFoundException as MotoTaskSetNotFound
from moto.ecs.models import EC2ContainerServiceBackend
from moto.stepfunctions.exceptions import (
    AWSError,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from bluegreen.aws.release import FARGATE_SIZES, STATE_LIMIT

from .core import Patcher


@contextlib.contextmanager
def task_definition_rules() -> Iterator[None]:
    """RegisterTaskDefinition refuses what AWS refuses: Fargate sizes outside the table, bad tags."""
    original = EC2ContainerServiceBackend.register_task_definition

    def register_task_definition(self: Any, family: str, container_definitions: Any, *args: Any, **kwargs: Any) -> Any:
        _check_task_definition_tags(kwargs.get("tags"))
        # AWS refuses a definition that requires FARGATE unless task-level cpu and memory form a row of the
        # Fargate task size table ("Invalid 'cpu' setting for task"; ECS developer guide, "Troubleshoot Amazon
        # ECS task definition invalid CPU or memory errors").
        if "FARGATE" in (kwargs.get("requires_compatibilities") or []):
            cpu, memory = kwargs.get("cpu"), kwargs.get("memory")
            try:
                valid = int(str(memory)) in FARGATE_SIZES.get(int(str(cpu)), set())
            except ValueError:
                valid = False
            if not valid:
                raise EcsClientException("No Fargate configuration exists for given values.")
        return original(self, family, container_definitions, *args, **kwargs)

    original_start = StepFunctionsParserBackend.start_execution

    # moto gap: moto starts an execution with any input. AWS's StartExecution takes at most 262,144 bytes
    # (UTF-8) of input (API reference, StartExecution, "input": length constraints) and refuses more with a
    # ValidationException, so an oversized inline task definition never starts an execution.
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, *args: Any):
        if execution_input is not None and len(str(execution_input).encode()) > STATE_LIMIT:
            raise AWSError(
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {STATE_LIMIT}",
                "ValidationException",
            )
        return original_start(self, state_machine_arn, name, execution_input, *args)

    patcher = Patcher()
    # moto gap: moto's RegisterTaskDefinition registers any cpu/memory pair for FARGATE, and aws:-prefixed or
    # more than 50 tags (see _check_task_definition_tags); ECS refuses all three.
    patcher.replace(EC2ContainerServiceBackend, "register_task_definition", register_task_definition)
    patcher.replace(StepFunctionsParserBackend, "start_execution", start_execution)
    try:
        yield
    finally:
        patcher.restore()


ECS_MAX_TAGS = 50  # tags per resource (aws:-prefixed ones do not count, and cannot be set)


def _reserved(text: str) -> bool:
    return text.lower().startswith("aws:")


def _check_task_definition_tags(tags: list[dict[str, str]] | None) -> None:
    """ECS refuses aws:-prefixed tag keys and values (reserved for AWS) and more than 50 user tags per resource."""
    tags = tags or []
    reserved = [t["key"] for t in tags if _reserved(t.get("key", "")) or _reserved(t.get("value", ""))]
    if reserved:
        raise InvalidParameterException(
            f"Tag keys and values beginning with 'aws:' are reserved for AWS use and cannot be set: {reserved}."
        )
    if len(tags) > ECS_MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {ECS_MAX_TAGS} tags; got {len(tags)}.")


def hold_one_off_tasks(patcher: Patcher, controlled: Callable[[Any], bool]) -> None:
    """Tasks ``controlled`` says the emulator runs are not advanced by moto's DescribeTasks."""
    # moto gap: moto walks every RunTask task RUNNING -> ... -> STOPPED one step per DescribeTasks, exit
    # code 0 whatever it runs; a one-off task must run its time and exit with its own code.
    from moto.ecs.models import Task

    original_advance = Task.advance

    def advance(self: Any) -> None:
        if controlled(self):
            return
        original_advance(self)

    patcher.replace(Task, "advance", advance)


@dataclass
class ConsistencyWindow:
    """What ``DescribeTaskSets`` still shows for a few simulated seconds after a change."""

    stale_status: dict[str, tuple[float, str]] = field(default_factory=dict)  # task set arn -> (until, old status)
    hidden_until: dict[str, float] = field(default_factory=dict)  # task set arn -> invisible until
    # service key -> [(until, deleted task set)]: a deleted task set is DRAINING while its targets drain
    draining: dict[str, list[tuple[float, Any]]] = field(default_factory=dict)


# ECS counts every task set of a service against its limit of five, DRAINING ones included: CreateTaskSet
# answers InvalidParameterException "5 deployments exist on the service. Unable to create new TaskSet since
# this exceeds the maximum limit." (aws-samples/ecs-bg-external-controller#6).
MAX_TASK_SETS_PER_SERVICE = 5


DEFAULT_DEREGISTRATION_DELAY = 300.0  # seconds, ELB's default deregistration_delay.timeout_seconds


class EcsTaskPatches:
    """ECS tasks of task sets, ListTasks filters, eventual consistency.

    ``now`` returns simulated seconds; ``delay`` is the visibility lag.
    """

    def __init__(
        self,
        now: Callable[[], float],
        delay: Callable[[], float],
        after_delete: Callable[[], None] | None = None,
        drain_seconds: Callable[[str | None], float] | None = None,
    ) -> None:
        self.now = now
        self.delay = delay
        self.after_delete = after_delete
        # How long a deleted task set stays DRAINING: its target group's deregistration delay.
        self.drain_seconds = drain_seconds or (lambda target_group: DEFAULT_DEREGISTRATION_DELAY)
        self.window = ConsistencyWindow()
        self._patcher: Patcher | None = None

    def install(self) -> None:
        backend = EC2ContainerServiceBackend
        patches = self
        original_create = backend.create_task_set
        original_describe = backend.describe_task_sets
        original_primary = backend.update_service_primary_task_set
        original_list = backend.list_tasks
        original_delete = backend.delete_task_set
        original_describe_services = backend.describe_services

        def draining(service_key: str) -> list[Any]:
            now = patches.now()
            alive = [(until, ts) for until, ts in patches.window.draining.get(service_key, []) if until > now]
            patches.window.draining[service_key] = alive
            return [ts for _, ts in alive]

        def shown(task_sets: list[Any]) -> list[Any]:
            """What ECS shows of ``task_sets`` now: new ones hidden for a while, changed statuses lagging."""
            now = patches.now()
            result = []
            for task_set in task_sets:
                if patches.window.hidden_until.get(task_set.task_set_arn, 0) > now:
                    continue
                stale = patches.window.stale_status.get(task_set.task_set_arn)
                if stale and stale[0] > now and stale[1] != task_set.status:
                    task_set = copy.copy(task_set)
                    task_set.status = stale[1]
                result.append(task_set)
            return result

        def create_task_set(self: Any, service: str, cluster_str: str, task_definition: str, **kwargs: Any) -> Any:
            token = kwargs.get("client_token")
            service_obj = self.services.get(f"{cluster_str.split('/')[-1]}:{service.split('/')[-1]}")
            # CreateTaskSet ignores clientToken; AWS returns the task set the first request created.
            if token and service_obj is not None:
                for existing in service_obj.task_sets:
                    if existing.client_token == token:
                        return existing
            # ECS refuses a sixth task set, DRAINING ones counted; moto has no limit.
            if service_obj is not None:
                key = f"{cluster_str.split('/')[-1]}:{service.split('/')[-1]}"
                if len(service_obj.task_sets) + len(draining(key)) >= MAX_TASK_SETS_PER_SERVICE:
                    raise InvalidParameterException(
                        f"{MAX_TASK_SETS_PER_SERVICE} deployments exist on the service. Unable to create new "
                        "TaskSet since this exceeds the maximum limit."
                    )
            # Also: moto runs the task set's tasks at once, started by the account id, and they
            # stop on the next read; in ECS the scheduler starts them (startedBy = the task set id).
            # The data plane starts, replaces and stops them; here the task set is created without tasks.
            scale = kwargs.pop("scale", None)
            task_set = original_create(self, service, cluster_str, task_definition, **kwargs, scale=None)
            task_set.scale = scale or {"value": 100.0, "unit": "PERCENT"}
            # ECS computes the task set's desired count at once: the service's desired count times the scale.
            desired = service_obj.desired_count if service_obj is not None else 0
            task_set.computedDesiredCount = math.ceil(desired * float(task_set.scale["value"]) / 100)
            task_set.runningCount = 0
            task_set.pendingCount = 0
            task_set.stabilityStatus = "STABILIZING"
            # And a new task set is visible at once; ECS is eventually consistent.
            if patches.delay() > 0:
                patches.window.hidden_until[task_set.task_set_arn] = patches.now() + patches.delay()
            return task_set

        def describe_task_sets(self: Any, cluster_str: str, service: str, task_sets: list[str]) -> list[Any]:
            # The API reference marks taskSets optional, but ECS refuses a call without it (aws/aws-cli#5380:
            # "InvalidParameterException ... DescribeTaskSets operation: TaskSets cannot be empty.").
            if not task_sets:
                raise InvalidParameterException("TaskSets cannot be empty.")
            return shown(original_describe(self, cluster_str, service, task_sets))

        def describe_services(self: Any, cluster_str: str, service_names_or_arns: list[str]) -> Any:
            services, failures = original_describe_services(self, cluster_str, service_names_or_arns)
            cluster = cluster_str.split("/")[-1]
            described = []
            for service_obj in services:
                # DescribeServices lists the task sets of an EXTERNAL service, as stale as DescribeTaskSets,
                # and the deleted ones that still drain (status DRAINING) as ECS does.
                view = copy.copy(service_obj)
                view.task_sets = shown(list(service_obj.task_sets)) + draining(f"{cluster}:{service_obj.name}")
                described.append(view)
            return described, failures

        def update_service_primary_task_set(self: Any, cluster: str, service: str, primary_task_set: str) -> Any:
            service_obj = self.services.get(f"{cluster.split('/')[-1]}:{service.split('/')[-1]}")
            before = {ts.task_set_arn: ts.status for ts in service_obj.task_sets} if service_obj else {}
            # The lookup must see every task set, whatever the consistency window shows.
            with patches.unfiltered():
                result = original_primary(self, cluster, service, primary_task_set)
            # DescribeTaskSets shows the new statuses at once; in ECS the old ones linger.
            # Only a real change opens a window: repeating the call changes nothing.
            until = patches.now() + patches.delay()
            for task_set in service_obj.task_sets if service_obj else []:
                old = before.get(task_set.task_set_arn)
                if old is not None and old != task_set.status and patches.delay() > 0:
                    patches.window.stale_status[task_set.task_set_arn] = (until, old)
            return result

        def list_tasks(
            self: Any,
            cluster_str: str | None = None,
            container_instance: str | None = None,
            family: str | None = None,
            started_by: str | None = None,
            service_name: str | None = None,
            desiredStatus: str | None = None,  # noqa: N803 - moto's signature
        ) -> list[Any]:
            # AWS rejects startedBy combined with another filter ("it must be the only filter").
            if started_by and (container_instance or family or service_name or desiredStatus):
                raise InvalidParameterException("When you specify startedBy as the filter, it must be the only one.")
            # And without desiredStatus moto lists stopped tasks too; AWS lists RUNNING ones.
            return original_list(
                self, cluster_str, container_instance, family, started_by, service_name, desiredStatus or "RUNNING"
            )

        def delete_task_set(self: Any, cluster: str, service: str, task_set: str) -> Any:
            try:
                result = original_delete(self, cluster, service, task_set)
            except MotoTaskSetNotFound as gone:  # moto answers ClientException; ECS's error is its own
                raise TaskSetNotFound() from gone
            # ECS keeps a deleted task set, DRAINING, until its tasks have stopped and their targets drained.
            gone_set = copy.copy(result)
            gone_set.status = "DRAINING"
            balancers = getattr(result, "load_balancers", None) or []
            group = balancers[0].get("targetGroupArn") if balancers else None
            key = f"{cluster.split('/')[-1]}:{service.split('/')[-1]}"
            until = patches.now() + patches.drain_seconds(group)
            patches.window.draining.setdefault(key, []).append((until, gone_set))
            # Deleting a task set leaves its tasks and targets alone; ECS stops the tasks and the
            # load balancer drains their targets at once (the data plane does both).
            if patches.after_delete:
                patches.after_delete()
            return result

        patcher = self._patcher = Patcher()
        # moto gap: deleting a task set leaves its tasks and targets alone, and deleting one that does not
        # exist (any more) answers ClientException where ECS answers TaskSetNotFoundException.
        patcher.replace(backend, "delete_task_set", delete_task_set)
        # moto gap: CreateTaskSet ignores clientToken, starts tasks at once, is visible at once and has no
        # limit of five task sets per service.
        patcher.replace(backend, "create_task_set", create_task_set)
        # moto gap: DescribeTaskSets shows changes at once (the consistency window above filters it) and
        # answers a call without taskSets, which ECS refuses.
        patcher.replace(backend, "describe_task_sets", describe_task_sets)
        # moto gap: DescribeServices's taskSets show changes at once and forget deleted task sets at once.
        patcher.replace(backend, "describe_services", describe_services)
        # moto gap: after UpdateServicePrimaryTaskSet the old statuses do not linger as in ECS.
        patcher.replace(backend, "update_service_primary_task_set", update_service_primary_task_set)
        # moto gap: ListTasks accepts startedBy with other filters and lists stopped tasks by default.
        patcher.replace(backend, "list_tasks", list_tasks)

    @contextlib.contextmanager
    def unfiltered(self) -> Iterator[None]:
        """moto's own lookups (inside a call) see every task set, whatever the consistency window shows."""
        saved, self.window = self.window, ConsistencyWindow()
        try:
            yield
        finally:
            self.window = saved

    def uninstall(self) -> None:
        if self._patcher is not None:
            self._patcher.restore()
            self._patcher = None


class TaskSetNotFound(ECSException):
    """What ECS answers DeleteTaskSet (and UpdateTaskSet) for a task set that does not exist (any more)."""

    def __init__(self) -> None:
        super().__init__("TaskSetNotFoundException", "The specified task set wasn't found.")


def enforce_deployment_controllers(patcher: Patcher) -> None:
    """Task sets belong to EXTERNAL services, and no service is switched to or from EXTERNAL in place."""
    original_create_task_set = EC2ContainerServiceBackend.create_task_set
    original_update_service = EC2ContainerServiceBackend.update_service

    # moto gap: CreateTaskSet succeeds on a service of any deployment controller; AWS refuses it
    # (InvalidParameterException) unless the service uses the EXTERNAL controller (ECS developer guide,
    # "Deploy Amazon ECS services using a third-party controller": task sets are the external API).
    def create_task_set(self: Any, service: str, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self._get_cluster(cluster_str)
        found = self.services.get(f"{cluster.name}:{service.split('/')[-1]}")
        if found is not None and (found.deployment_controller or {}).get("type") != "EXTERNAL":
            raise InvalidParameterException(
                "Amazon ECS only supports task set management on services configured to use external "
                "deployment controllers."
            )
        return original_create_task_set(self, service, cluster_str, *args, **kwargs)

    # moto gap: UpdateService sets any deploymentController. AWS documents in-place controller changes
    # only between CODE_DEPLOY and ECS (the CodeDeploy -> ECS blue/green migration); a service moves to
    # or from EXTERNAL only as a new service (CloudFormation: DeploymentController "Update requires:
    # Replacement").
    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        wanted = (service_properties.get("deployment_controller") or {}).get("type")
        if wanted:
            cluster = self._get_cluster(service_properties.get("cluster", "default"))
            found = self.services.get(f"{cluster.name}:{service_properties['service'].split('/')[-1]}")
            current = (found.deployment_controller or {}).get("type", "ECS") if found else None
            if current and wanted != current and "EXTERNAL" in (wanted, current):
                raise InvalidParameterException(
                    f"Updating the deployment controller from {current} to {wanted} is not supported."
                )
        return original_update_service(self, service_properties)

    patcher.replace(EC2ContainerServiceBackend, "create_task_set", create_task_set)
    patcher.replace(EC2ContainerServiceBackend, "update_service", update_service)


def scheduler_reacts(patcher: Patcher, account: str, region: str, reconcile: Callable[[], None]) -> None:
    """``reconcile`` (the data plane) runs after each ECS call that changes what the scheduler must run."""
    for name in ("create_service", "update_service", "create_task_set", "update_task_set", "delete_service"):
        original = getattr(EC2ContainerServiceBackend, name)

        def after(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            result = _original(self, *args, **kwargs)
            if self.account_id == account and self.region_name == region:
                reconcile()
            return result

        # moto gap: moto's ECS has no scheduler; the data plane places the tasks, as soon as the call is made.
        patcher.replace(EC2ContainerServiceBackend, name, after)
