"""Patches of moto internals where moto is kinder than AWS (each names the gap it fills).

Installed by the emulator's data plane for its lifetime and removed afterwards, so a
test that uses bare moto sees moto as it is.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend


# --- issue 11: ECS tasks of task sets, ListTasks filters, eventual consistency --------------------
@dataclass
class ConsistencyWindow:
    """What ``DescribeTaskSets`` still shows for a few simulated seconds after a change."""

    stale_status: dict[str, tuple[float, str]] = field(default_factory=dict)  # task set arn -> (until, old status)
    hidden_until: dict[str, float] = field(default_factory=dict)  # task set arn -> invisible until


class Issue11Patches:
    """ECS patches of issue 11. ``now`` returns simulated seconds; ``delay`` is the visibility lag."""

    def __init__(
        self, now: Callable[[], float], delay: Callable[[], float], after_delete: Callable[[], None] | None = None
    ) -> None:
        self.now = now
        self.delay = delay
        self.after_delete = after_delete
        self.window = ConsistencyWindow()
        self._saved: dict[str, Any] = {}

    def install(self) -> None:
        backend = EC2ContainerServiceBackend
        for name in (
            "create_task_set",
            "describe_task_sets",
            "update_service_primary_task_set",
            "list_tasks",
            "delete_task_set",
        ):
            self._saved[name] = getattr(backend, name)
        patches = self
        original_create = self._saved["create_task_set"]
        original_describe = self._saved["describe_task_sets"]
        original_primary = self._saved["update_service_primary_task_set"]
        original_list = self._saved["list_tasks"]

        def create_task_set(self: Any, service: str, cluster_str: str, task_definition: str, **kwargs: Any) -> Any:
            token = kwargs.get("client_token")
            service_obj = self.services.get(f"{cluster_str.split('/')[-1]}:{service.split('/')[-1]}")
            # moto gap: CreateTaskSet ignores clientToken; AWS returns the task set the first request created.
            if token and service_obj is not None:
                for existing in service_obj.task_sets:
                    if existing.client_token == token:
                        return existing
            # moto gap: moto runs the task set's tasks at once, started by the account id, and they
            # stop on the next read; in ECS the scheduler starts them (startedBy = the task set id).
            # The data plane starts, replaces and stops them; here the task set is created without tasks.
            scale = kwargs.pop("scale", None)
            task_set = original_create(self, service, cluster_str, task_definition, **kwargs, scale=None)
            task_set.scale = scale or {"value": 100.0, "unit": "PERCENT"}
            task_set.computedDesiredCount = 0
            task_set.runningCount = 0
            task_set.pendingCount = 0
            task_set.stabilityStatus = "STABILIZING"
            # moto gap: a new task set is visible at once; ECS is eventually consistent.
            if patches.delay() > 0:
                patches.window.hidden_until[task_set.task_set_arn] = patches.now() + patches.delay()
            return task_set

        def describe_task_sets(self: Any, cluster_str: str, service: str, task_sets: list[str]) -> list[Any]:
            results = original_describe(self, cluster_str, service, task_sets)
            now = patches.now()
            shown = []
            for task_set in results:
                if patches.window.hidden_until.get(task_set.task_set_arn, 0) > now:
                    continue
                stale = patches.window.stale_status.get(task_set.task_set_arn)
                if stale and stale[0] > now and stale[1] != task_set.status:
                    task_set = copy.copy(task_set)
                    task_set.status = stale[1]
                shown.append(task_set)
            return shown

        def update_service_primary_task_set(self: Any, cluster: str, service: str, primary_task_set: str) -> Any:
            service_obj = self.services.get(f"{cluster.split('/')[-1]}:{service.split('/')[-1]}")
            before = {ts.task_set_arn: ts.status for ts in service_obj.task_sets} if service_obj else {}
            # The lookup must see every task set, whatever the consistency window shows.
            with patches.unfiltered():
                result = original_primary(self, cluster, service, primary_task_set)
            # moto gap: DescribeTaskSets shows the new statuses at once; in ECS the old ones linger.
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
            # moto gap: AWS rejects startedBy combined with another filter ("it must be the only filter").
            if started_by and (container_instance or family or service_name or desiredStatus):
                raise InvalidParameterException("When you specify startedBy as the filter, it must be the only one.")
            # moto gap: without desiredStatus moto lists stopped tasks too; AWS lists RUNNING ones.
            return original_list(
                self, cluster_str, container_instance, family, started_by, service_name, desiredStatus or "RUNNING"
            )

        original_delete = self._saved["delete_task_set"]

        def delete_task_set(self: Any, cluster: str, service: str, task_set: str) -> Any:
            result = original_delete(self, cluster, service, task_set)
            # moto gap: deleting a task set leaves its tasks and targets alone; ECS stops the tasks and the
            # load balancer drains their targets at once (the data plane does both).
            if patches.after_delete:
                patches.after_delete()
            return result

        backend.delete_task_set = delete_task_set
        backend.create_task_set = create_task_set
        backend.describe_task_sets = describe_task_sets
        backend.update_service_primary_task_set = update_service_primary_task_set
        backend.list_tasks = list_tasks

    @contextlib.contextmanager
    def unfiltered(self) -> Iterator[None]:
        """moto's own lookups (inside a call) see every task set, whatever the consistency window shows."""
        saved, self.window = self.window, ConsistencyWindow()
        try:
            yield
        finally:
            self.window = saved

    def uninstall(self) -> None:
        for name, original in self._saved.items():
            setattr(EC2ContainerServiceBackend, name, original)
        self._saved.clear()
