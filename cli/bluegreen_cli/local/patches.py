"""Patches of moto internals where moto is more lenient than AWS (each says which gap it fills)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend


# --- issue #10: deployment controllers (first deployment, adopt) ----------------------------------
@contextlib.contextmanager
def deployment_controller_rules() -> Iterator[None]:
    """ECS task sets belong to EXTERNAL services, and an EXTERNAL controller is never switched in place."""
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
    # only between CODE_DEPLOY and ECS (the CodeDeploy -> ECS blue/green migration); a service is moved
    # to or from EXTERNAL only by creating a new service (CloudFormation: "Update requires: Replacement").
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

    EC2ContainerServiceBackend.create_task_set = create_task_set
    EC2ContainerServiceBackend.update_service = update_service
    try:
        yield
    finally:
        EC2ContainerServiceBackend.create_task_set = original_create_task_set
        EC2ContainerServiceBackend.update_service = original_update_service
