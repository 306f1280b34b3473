"""The emulator's load balancers answer real HTTP on 127.0.0.1, routed by the live listener rules."""

from __future__ import annotations

import urllib3


def get(emulator, host: str, path: str = "/", dns: str | None = None) -> tuple[int, str]:
    """A GET through the emulator's HTTP front (as the probe function sends it)."""
    balancer = dns or emulator.client("elbv2").describe_load_balancers()["LoadBalancers"][0]["DNSName"]
    with urllib3.ProxyManager(emulator.front.url) as pool:
        response = pool.request("GET", f"http://{balancer}{path}", headers={"Host": host}, retries=False)
    return response.status, response.data.decode()


def test_requests_are_routed_by_host_header_to_the_rules_target_group(emulator):
    # Given a seeded service: production rule -> blue (v1, healthy), test rule -> an empty target group
    emulator.seed_service()

    # Then production answers from blue's tasks, naming the image
    assert get(emulator, "demo-web.example.com", "/checkout") == (200, "demo-web v1 ok\n")
    # ... the test rule's target group has no targets: the load balancer answers 503
    assert get(emulator, "test.demo-web.example.com")[0] == 503
    # ... a host no rule matches gets the listener's default action (a fixed 404)
    assert get(emulator, "other.example.com")[0] == 404
    # ... and a load balancer that does not exist cannot be reached (the proxy says 502)
    assert get(emulator, "demo-web.example.com", dns="nowhere.elb.amazonaws.com")[0] == 502


def test_forward_weights_split_requests_deterministically(emulator):
    # Given production forwarding to blue (healthy) and to the empty group with 3:1 weights
    demo = emulator.seed_service()
    blue, empty = demo.target_groups
    groups = [{"TargetGroupArn": blue, "Weight": 3}, {"TargetGroupArn": empty, "Weight": 1}]
    emulator.client("elbv2").modify_rule(
        RuleArn=demo.production_rule_arn, Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]
    )

    # When eight requests arrive
    statuses = [get(emulator, "demo-web.example.com")[0] for _ in range(8)]

    # Then every fourth goes to the empty group (smooth weighted round robin: the same order every run)
    assert statuses == [200, 200, 503, 200] * 2
