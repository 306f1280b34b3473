"""Target group stickiness on a production route defeats a blue/green switch: refused before anything changes.

With ``TargetGroupStickinessConfig`` enabled on a forward action, an Application Load Balancer sends a client
holding its stickiness cookie (``AWSALBTG``) to the same target group for up to ``DurationSeconds`` (1 to 604,800),
whatever the weights say
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupStickinessConfig.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#rule-action-types).
On such a route the swap moves only new clients: cookie holders stay on blue until blue is deleted under them
(503s), a canary's share is wrong from its first step, and after a rollback the clients green took keep
going to green, which Rollback deletes. A deployment tool that says "production is on green" cannot keep that
promise there, so Validate refuses the deployment with the route and the fix in the cause, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from bluegreen.domain.errors import StickyProductionRoute
from bluegreen.domain.models import RuleSnapshot


def sticky_forwards(route: RuleSnapshot) -> int | None:
    """The stickiness duration (seconds) of the route's forward action, ``None`` when stickiness is off."""
    for action in route.actions:
        if action.get("Type") != "forward":
            continue
        config = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
        if config.get("Enabled"):
            return int(config.get("DurationSeconds") or 0)
    return None


def refuse_sticky(production: Iterable[RuleSnapshot]) -> None:
    """Refuse production routes whose forward action has target group stickiness on."""
    for route in production:
        duration = sticky_forwards(route)
        if duration is None:
            continue
        where = "listener" if route.kind == "listener" else "listener rule"
        raise StickyProductionRoute(
            f"Production {where} {route.ruleArn} forwards with target group stickiness enabled "
            f"(TargetGroupStickinessConfig, DurationSeconds {duration}): clients holding the stickiness cookie stay "
            f"on their target group whatever the weights, so the swap would not move them, blue would be deleted "
            f"under them and canary shares would be wrong. Turn target group stickiness off on that forward action "
            f"(ModifyRule or ModifyListener with ForwardConfig.TargetGroupStickinessConfig Enabled=false; keep "
            f"session state outside the tasks), then start the deployment again. Nothing was changed."
        )
