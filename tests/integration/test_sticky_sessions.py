"""Target group stickiness on a production route: the emulator routes cookie holders as an ALB does, and
Validate refuses such a route, since a swap would not move those clients.
"""

from __future__ import annotations

from .helpers import snapshot

STICKY = {"Enabled": True, "DurationSeconds": 3600}


class Client:
    """A browser: sends back the cookies the load balancer set."""

    def __init__(self, emulator) -> None:  # noqa: ANN001 - the emulator fixture
        self.emulator = emulator
        self.cookie = ""
        self.balancer = emulator.client("elbv2").describe_load_balancers()["LoadBalancers"][0]["DNSName"]

    def get(self, host: str = "demo-web.example.com") -> int:
        status, _, headers = self.emulator.front.answer("GET", f"http://{self.balancer}/", host, self.cookie)
        if "Set-Cookie" in headers:
            self.cookie = headers["Set-Cookie"].split(";", 1)[0]
        return status


def forward(emulator, rule_arn: str, weights: dict[str, int], stickiness: dict | None = STICKY) -> None:
    config: dict = {"TargetGroups": [{"TargetGroupArn": g, "Weight": w} for g, w in weights.items()]}
    if stickiness is not None:
        config["TargetGroupStickinessConfig"] = stickiness
    emulator.client("elbv2").modify_rule(RuleArn=rule_arn, Actions=[{"Type": "forward", "ForwardConfig": config}])


def test_a_sticky_client_stays_on_its_target_group_whatever_the_weights_until_the_cookie_expires(emulator):
    # Given production forwarding to blue (healthy) with target group stickiness, the other group empty at weight 0
    demo = emulator.seed_service()
    blue, other = demo.target_groups
    forward(emulator, demo.production_rule_arn, {blue: 100, other: 0})
    returning = Client(emulator)
    assert returning.get() == 200  # served by blue; the answer set the stickiness cookie
    assert returning.cookie.startswith("AWSALBTG=")

    # When the weights move everything to the other group (as a swap does)
    forward(emulator, demo.production_rule_arn, {blue: 0, other: 100})

    # Then the cookie holder still reaches blue (stickiness takes precedence over the weights) ...
    assert [returning.get() for _ in range(3)] == [200, 200, 200]
    # ... while a new client follows the weights (the other group has no targets: 503)
    assert Client(emulator).get() == 503
    # ... and once the cookie's DurationSeconds have passed, the returning client follows the weights too
    emulator.clock.advance(3601)
    assert returning.get() == 503


def test_without_stickiness_a_returning_client_follows_the_weights(emulator):
    # Given production forwarding to blue without stickiness, then moved to the other group
    demo = emulator.seed_service()
    blue, other = demo.target_groups
    forward(emulator, demo.production_rule_arn, {blue: 100, other: 0}, stickiness={"Enabled": False})
    client = Client(emulator)
    assert client.get() == 200 and client.cookie == ""
    forward(emulator, demo.production_rule_arn, {blue: 0, other: 100}, stickiness={"Enabled": False})

    # Then its next request goes where the weights say
    assert client.get() == 503


def test_a_deployment_on_a_sticky_production_rule_is_refused_and_changes_nothing(emulator):
    # Given a production rule forwarding to blue with target group stickiness
    demo = emulator.seed_service()
    blue, _ = demo.target_groups
    forward(emulator, demo.production_rule_arn, {blue: 1})
    before = snapshot(emulator, demo.name)

    # When a deployment starts
    result = emulator.run(demo.name, "v2")

    # Then Validate refuses it with its own error, naming the rule and the fix, and nothing changed
    assert result.status == "FAILED"
    assert result.error == "StickyProductionRoute", result.cause
    assert demo.production_rule_arn in result.cause
    assert "TargetGroupStickinessConfig" in result.cause and "Enabled=false" in result.cause
    assert snapshot(emulator, demo.name) == before
    assert emulator.store.lock_holder(demo.name) is None


def test_without_the_refusal_a_swap_leaves_sticky_clients_on_blue_until_it_is_deleted_under_them(emulator, monkeypatch):
    # Given the refusal switched off (what this tool did before), a sticky production rule and a client holding
    # the stickiness cookie for blue
    from bluegreen.steps import validate

    monkeypatch.setattr(validate, "refuse_sticky", lambda routes: None)
    demo = emulator.seed_service()
    blue, _ = demo.target_groups
    forward(emulator, demo.production_rule_arn, {blue: 1})
    returning = Client(emulator)
    assert returning.get() == 200

    # When the deployment swaps to green and deletes blue
    seen: list[int] = []
    result = emulator.run(
        demo.name, "v2", on_state=lambda state, at: seen.append(returning.get()) if state == "Bake" else None
    )

    # Then the deployment "succeeded", but during the bake the cookie holder was still on blue, not on green,
    # and after DeleteOld its requests go to blue's empty target group: 503
    assert result.status == "SUCCEEDED", result.cause
    assert seen and all(status == 200 for status in seen)
    assert Client(emulator).get() == 200  # a new client reaches green
    assert returning.get() == 503
