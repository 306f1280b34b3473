"""AWS CodeDeploy: a deployment group's alarm configuration (for bluegreen adopt)."""

from __future__ import annotations

from typing import Any

from .core import Patcher


def codedeploy_alarm_configuration(patcher: Patcher) -> None:
    """``bluegreen config from-codedeploy`` reads a deployment group's alarms."""
    from moto.codedeploy import responses as codedeploy_responses

    original = codedeploy_responses._deployment_group_info

    # moto gap: GetDeploymentGroup returns alarmConfiguration as {} (a moto TODO) instead of the stored alarms.
    def deployment_group_info(group: Any) -> dict[str, Any]:
        info = original(group)
        if isinstance(group.alarm_configuration, dict):
            info["alarmConfiguration"] = group.alarm_configuration
        return info

    patcher.replace(codedeploy_responses, "_deployment_group_info", deployment_group_info)
