"""Green's health behind a Network Load Balancer, zone by zone (pure: no AWS)."""

import pytest

from bluegreen.domain import zones
from bluegreen.domain.models import ZoneObservation

AB = ["us-east-1a", "us-east-1b"]
ABC = [*AB, "us-east-1c"]


@pytest.mark.parametrize(
    ("case", "enabled", "cross_zone", "green", "blue", "min_healthy", "missing"),
    [
        (
            "green in every zone blue serves",
            AB,
            False,
            {"us-east-1a": 1, "us-east-1b": 1},
            {"us-east-1a": 1, "us-east-1b": 1},
            1,
            [],
        ),
        (
            "green in one zone only, cross-zone off",
            AB,
            False,
            {"us-east-1a": 2},
            {"us-east-1a": 1, "us-east-1b": 1},
            1,
            ["us-east-1b"],
        ),
        (
            "green in one zone only, cross-zone on",
            AB,
            True,
            {"us-east-1a": 2},
            {"us-east-1a": 1, "us-east-1b": 1},
            1,
            [],
        ),
        ("blue serves one zone only: green there is enough", ABC, False, {"us-east-1a": 2}, {"us-east-1a": 2}, 1, []),
        (
            "a zone blue does not serve may lack green",
            ABC,
            False,
            {"us-east-1a": 1, "us-east-1b": 1},
            {"us-east-1a": 1, "us-east-1b": 1},
            1,
            [],
        ),
        ("blue serves nowhere (first deployment): nothing required", AB, False, {"us-east-1a": 2}, {}, 1, []),
        (
            "DNS-failover threshold 2: one healthy green target is not enough",
            AB,
            False,
            {"us-east-1a": 2, "us-east-1b": 1},
            {"us-east-1a": 2, "us-east-1b": 2},
            2,
            ["us-east-1b"],
        ),
        (
            "blue's targets in a zone not enabled on the NLB do not count",
            ["us-east-1a"],
            False,
            {"us-east-1a": 1},
            {"us-east-1a": 1, "us-east-1b": 1},
            1,
            [],
        ),
        ("green in no zone at all", AB, False, {}, {"us-east-1a": 1, "us-east-1b": 1}, 1, AB),
    ],
)
def test_zone_coverage(case, enabled, cross_zone, green, blue, min_healthy, missing):
    # Given where green and blue have healthy targets behind the NLB
    observation = ZoneObservation(
        enabledZones=enabled, crossZone=cross_zone, greenHealthy=green, blueHealthy=blue, minHealthyPerZone=min_healthy
    )

    # When judged
    verdict = zones.judge(observation)

    # Then green covers the zones or names the ones it misses
    assert verdict.missing == missing, case
    assert verdict.covered is (not missing), case
    for zone in missing:
        assert zone in verdict.summary


@pytest.mark.parametrize(
    ("group", "balancer", "expected"),
    [
        (None, None, False),  # an NLB's default: off
        ("use_load_balancer_configuration", "false", False),
        ("use_load_balancer_configuration", "true", True),
        ("true", "false", True),  # the target group's setting wins
        ("false", "true", False),
    ],
)
def test_cross_zone_in_effect(group, balancer, expected):
    assert zones.cross_zone(group, balancer) is expected


@pytest.mark.parametrize(("value", "expected"), [(None, 1), ("off", 1), ("1", 1), ("3", 3), ("0", 1)])
def test_dns_failover_threshold(value, expected):
    assert zones.min_healthy_per_zone(value) == expected


def test_zones_of_counts_only_addresses_with_a_known_zone():
    # Given three healthy addresses, one of a task whose zone is unknown
    counts = zones.zones_of({"10.0.1.5": "us-east-1a", "10.0.2.5": "us-east-1b"}, {"10.0.1.5", "10.0.2.5", "10.9.9.9"})
    assert counts == {"us-east-1a": 1, "us-east-1b": 1}
