"""What "green is healthy" means behind a Network Load Balancer (pure: no AWS calls).

Facts from the Elastic Load Balancing documentation (Network Load Balancers):

* Cross-zone load balancing is **off by default** on a Network Load Balancer (always on at the load balancer
  level of an Application Load Balancer); a target group may override it (``load_balancing.cross_zone.enabled``:
  ``true``, ``false`` or ``use_load_balancer_configuration``, the default). With it off, each load balancer node
  routes only to the healthy targets **in its own Availability Zone**.
* With it off, a zone must have a healthy target in **each** target group of the load balancer, or its node's
  address is removed from DNS (clients that cached it still reach that node until the TTL expires). The threshold
  is ``target_group_health.dns_failover.minimum_healthy_targets.count`` (default 1).
* When every target of a group fails its health checks in every enabled zone (or the group is empty), the load
  balancer **fails open**: it sends traffic to all of them, healthy or not.

So a green whose targets are healthy but all in zone *a* (its tasks were placed there: a zone out of capacity,
a subnet list changed) would, once production forwards to it with cross-zone off, take zone *b* out of DNS (blue's
zone-*b* capacity is lost even at a 10 % canary) and leave clients with a cached address of the zone-*b* node
with nothing to connect to. The gate therefore asks, with cross-zone off: **every enabled zone where blue serves
now has at least ``minHealthyPerZone`` healthy green targets**. With cross-zone on, any healthy target serves
every node and the per-zone rule adds nothing. When blue serves nowhere (a first deployment, or blue is down),
no zone is required: production has nothing to lose and green's own health rule applies alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from bluegreen.domain.models import ZoneObservation, ZoneVerdict

CROSS_ZONE_ATTRIBUTE = "load_balancing.cross_zone.enabled"
INHERIT = "use_load_balancer_configuration"
DNS_FAILOVER_COUNT = "target_group_health.dns_failover.minimum_healthy_targets.count"


def cross_zone(target_group_value: str | None, load_balancer_value: str | None) -> bool:
    """The cross-zone setting in effect for a target group of a Network Load Balancer (off by default)."""
    value = target_group_value if target_group_value not in (None, "", INHERIT) else load_balancer_value
    return str(value).lower() == "true"


def min_healthy_per_zone(value: str | None) -> int:
    """The DNS-failover threshold of a target group: ``off`` (or absent) means one healthy target."""
    return int(value) if value and value.isdigit() and int(value) > 0 else 1


def zones_of(addresses: Mapping[str, str], healthy: set[str]) -> dict[str, int]:
    """Zone -> how many of ``healthy`` addresses are there, from an address -> zone map (the tasks' zones)."""
    counts: dict[str, int] = {}
    for address in healthy:
        zone = addresses.get(address)
        if zone:
            counts[zone] = counts.get(zone, 0) + 1
    return counts


def judge(observation: ZoneObservation) -> ZoneVerdict:
    enabled = sorted(observation.enabledZones)
    if observation.crossZone:
        return ZoneVerdict(covered=True, summary="cross-zone load balancing is on: every zone reaches green")
    required = [zone for zone in enabled if observation.blueHealthy.get(zone, 0) > 0]
    need = max(1, observation.minHealthyPerZone)
    missing = [zone for zone in required if observation.greenHealthy.get(zone, 0) < need]
    per_zone = ", ".join(f"{zone} {observation.greenHealthy.get(zone, 0)}" for zone in enabled) or "none"
    summary = f"green's healthy targets per zone: {per_zone} (cross-zone off"
    summary += f", zones where blue serves: {', '.join(required) or 'none'})"
    if missing:
        summary += (
            f"; zone(s) {', '.join(missing)} would lose production (fewer than {need} healthy green target(s) "
            f"there, and with cross-zone off a load balancer node only reaches targets in its own zone)"
        )
    return ZoneVerdict(covered=not missing, required=required, missing=missing, summary=summary)
