"""The HTTP probe hook's pure parts — its configuration, its route, its URL and its verdict (no AWS)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bluegreen.domain.errors import HookConfigOutOfRange, ProbeOutsideRoutes
from bluegreen.domain.hooks import HooksConfig, HttpProbeHook, Stage, refuse_invalid
from bluegreen.domain.models import RuleSnapshot, ServiceConfig
from bluegreen.probe import (
    ProbeSample,
    check_listener,
    check_routes,
    check_urls,
    failure_of,
    probe_host,
    probe_route,
    probe_url,
    verdict,
)

from .test_hooks import BASE

RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/1/2"


def probe(**settings) -> HttpProbeHook:
    return HttpProbeHook.model_validate({"type": "http", **settings})


def ok(latency: float = 20.0, status: int = 200, matched: bool | None = None) -> ProbeSample:
    return ProbeSample(status=status, latencyMs=latency, bodyMatched=matched)


def rule(*conditions: dict) -> RuleSnapshot:
    return RuleSnapshot(ruleArn=RULE, actions=[], conditions=list(conditions))


def hosts(*values: str) -> dict:
    return {"Field": "host-header", "HostHeaderConfig": {"Values": list(values)}}


def paths(*values: str) -> dict:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


# --- the verdict -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "samples", "passed", "says"),
    [
        ({"requests": 3}, [ok(), ok(), ok()], True, "3/3 passed (need 100%), median 20 ms, max 20 ms"),
        ({"requests": 3}, [ok(), ok(status=500), ok()], False, "2/3 passed (need 100%)"),
        ({"requests": 3}, [ok(), ok(status=500), ok(status=500)], False, "2 x status 500"),
        ({"requests": 4, "successRatio": 0.75}, [ok(), ok(), ok(), ok(status=503)], True, "3/4 passed (need 75%)"),
        ({"requests": 4, "successRatio": 0.75}, [ok(), ok(), ok(status=503), ok(status=503)], False, "2/4"),
        ({"requests": 2, "expectedStatus": [200, 204]}, [ok(), ok(status=204)], True, "2/2"),
        ({"requests": 2, "expectedStatus": "200-299"}, [ok(status=201), ok(status=299)], True, "2/2"),
        ({"requests": 2, "expectedStatus": "200-299"}, [ok(status=301), ok()], False, "1 x status 301"),
        ({"requests": 2, "bodyPattern": "v2"}, [ok(matched=True), ok(matched=False)], False, "1 x body did not match"),
        ({"requests": 2, "maxLatencyMs": 100}, [ok(latency=99), ok(latency=101)], False, "1 x slower than 100 ms"),
        ({"requests": 2, "requestTimeoutSeconds": 1}, [ok(latency=1500), ok()], False, "1 x timed out"),
        (
            {"requests": 2},
            [ProbeSample(latencyMs=3, error="connection failed"), ProbeSample(error="timed out")],
            False,
            "0/2 passed (need 100%); 1 x connection failed, 1 x timed out",
        ),
        ({"requests": 3}, [ok(), ok()], False, "2/3 passed"),  # fewer answers than requests: missing ones fail
    ],
)
def test_verdict(settings, samples, passed, says):
    # Given a probe's settings and what its requests got / When judged / Then pass or fail, saying why
    outcome, text = verdict(probe(**settings), samples)
    assert outcome is passed
    assert says in text


def test_a_request_fails_for_its_first_reason_in_a_fixed_order():
    hook = probe(bodyPattern="x", maxLatencyMs=10, expectedStatus=200)
    assert failure_of(hook, ok(status=500, latency=50, matched=False)) == "status 500"
    assert failure_of(hook, ok(latency=50, matched=False)) == "body did not match"
    assert failure_of(hook, ok(latency=50, matched=True)) == "slower than 10 ms"
    assert failure_of(hook, ok(latency=5, matched=True)) is None


# --- the configuration ---------------------------------------------------------------------------------------
def refusal(hook: dict) -> Exception:
    with pytest.raises(ValidationError) as caught:
        ServiceConfig.model_validate({**BASE, "hooks": {"afterGreenHealthy": [{"type": "http", **hook}]}})
    with pytest.raises(HookConfigOutOfRange) as refused:
        refuse_invalid(caught.value, "SSM parameter /x")
    return refused.value


def test_a_probe_has_sensible_defaults():
    config = ServiceConfig.model_validate({**BASE, "hooks": {"beforeDeleteOld": [{"type": "http"}]}})
    (hook,) = config.hooks.beforeDeleteOld
    assert isinstance(hook, HttpProbeHook)
    assert (hook.path, hook.statuses, hook.requests, hook.successRatio, hook.label) == (
        "/",
        [(200, 200)],
        10,
        1.0,
        "GET /",
    )


@pytest.mark.parametrize(
    ("hook", "says"),
    [
        ({"expectedStatus": 99}, "expectedStatus"),
        ({"expectedStatus": 600}, "expectedStatus"),
        ({"expectedStatus": "299-200"}, "expectedStatus"),
        ({"expectedStatus": "2xx"}, "expectedStatus"),
        ({"expectedStatus": []}, "expectedStatus"),
        ({"requests": 0}, "requests"),
        ({"requests": 101}, "requests"),
        ({"successRatio": 0}, "successRatio"),
        ({"successRatio": 1.5}, "successRatio"),
        ({"maxLatencyMs": 0}, "maxLatencyMs"),
        ({"requestTimeoutSeconds": 61}, "requestTimeoutSeconds"),
        ({"requests": 100, "requestTimeoutSeconds": 10, "timeoutSeconds": 300}, "must fit in timeoutSeconds"),
        ({"bodyPattern": "("}, "not a regular expression"),
        ({"path": "checkout"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"path": "/a#b"}, "fragment"),
        ({"host": "bad host"}, "host"),
        ({"url": "ftp://files.example.com/"}, "url"),
        ({"url": "https://t.example.com/x", "path": "/y"}, "either url or host and path"),
    ],
)
def test_out_of_range_probe_settings_are_refused_with_their_own_error_name(hook, says):
    assert says in str(refusal(hook))


# --- the route -----------------------------------------------------------------------------------------------
def test_stages_probe_green_through_the_test_route_until_the_cutover():
    assert [probe_route(stage) for stage in Stage] == ["test", "test", "production", "production"]


@pytest.mark.parametrize(
    ("settings", "route", "host"),
    [
        ({}, rule(hosts("test.web.example.com")), "test.web.example.com"),
        ({}, rule(hosts("*.web.example.com", "test.web.example.com")), "test.web.example.com"),
        ({"host": "Pr-7.Web.Example.com"}, rule(hosts("pr-?.web.example.com")), "Pr-7.Web.Example.com"),
        ({"path": "/api/orders?id=1"}, rule(hosts("t.example.com"), paths("/api/*")), "t.example.com"),
        ({}, rule(paths("/*")), None),  # a rule on path only: the listener's own host name
        ({"host": "any.example.com"}, RuleSnapshot(ruleArn=LISTENER, actions=[], kind="listener"), "any.example.com"),
        ({}, rule({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET", "HEAD"]}}), None),
    ],
)
def test_a_probe_inside_its_route_gets_its_host_header(settings, route, host):
    assert probe_host(probe(**settings), Stage.AFTER_GREEN_HEALTHY, route) == host


@pytest.mark.parametrize(
    ("settings", "route", "says"),
    [
        ({"host": "prod.example.com"}, rule(hosts("test.example.com")), "not 'prod.example.com'"),
        ({}, rule(hosts("*.example.com")), "set the hook's 'host'"),
        ({"path": "/checkout"}, rule(hosts("t.example.com"), paths("/api/*")), "not '/checkout'"),
        ({"path": "/API/x"}, rule(paths("/api/*")), "not '/API/x'"),  # paths are case-sensitive
        ({}, rule({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}), "sends GET"),
        ({}, rule({"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}), "source-ip condition"),
    ],
)
def test_a_probe_outside_its_route_is_refused(settings, route, says):
    with pytest.raises(ProbeOutsideRoutes) as refused:
        probe_host(probe(**settings), Stage.AFTER_CUTOVER, route)
    assert says in str(refused.value) and "production route" in str(refused.value)


def test_config_load_checks_each_probe_against_its_stages_route():
    # Given a probe before the cutover (test route) and one after it (production route)
    hooks = HooksConfig(
        afterGreenHealthy=[probe(path="/checkout")],
        beforeDeleteOld=[probe(path="/")],
    )
    test, production = rule(hosts("test.example.com")), rule(hosts("www.example.com"))
    # Then each gets its own route's host name
    assert check_routes(hooks, test, production) == ["test.example.com", "www.example.com"]
    # ... and a production-only host on the test route is refused
    with pytest.raises(ProbeOutsideRoutes):
        check_routes(HooksConfig(eachTrafficStep=[probe(host="www.example.com")]), test, production)


@pytest.mark.parametrize(
    ("protocol", "port", "url"),
    [
        ("HTTP", 80, "http://lb.example.com/x"),
        ("HTTP", 8080, "http://lb.example.com:8080/x"),
        ("HTTPS", 443, "https://lb.example.com/x"),
        ("TLS", 8443, "https://lb.example.com:8443/x"),
        ("TCP", 80, "http://lb.example.com/x"),
    ],
)
def test_the_url_is_the_routes_listener(protocol, port, url):
    assert probe_url(protocol, "lb.example.com", port, "/x") == url


# --- a probe given as a URL -------------------------------------------------------------------------------------
def test_a_url_gives_the_host_and_path():
    hook = probe(url="https://Test.Shop.example.com/checkout?cart=1")
    assert (hook.target_host, hook.target_path, hook.url_listener) == (
        "test.shop.example.com",
        "/checkout?cart=1",
        ("https", None),
    )
    assert probe(url="http://t.example.com:8080").target_path == "/"
    # ... and survives the round trip through the execution's state
    assert HttpProbeHook.model_validate(hook.model_dump()).target_path == "/checkout?cart=1"


@pytest.mark.parametrize(
    ("url", "protocol", "port", "refused"),
    [
        ("http://t.example.com/x", "HTTP", 80, False),
        ("http://t.example.com:8080/x", "HTTP", 8080, False),
        ("https://t.example.com/x", "HTTPS", 8443, False),  # no port named: the listener's
        ("http://t.example.com:8080/x", "HTTP", 80, True),
        ("https://t.example.com/x", "HTTP", 80, True),
        ("http://t.example.com/x", "TLS", 443, True),
    ],
)
def test_a_url_must_name_its_routes_listener(url, protocol, port, refused):
    hook = probe(url=url)
    if refused:
        with pytest.raises(ProbeOutsideRoutes, match="route's listener is"):
            check_listener(hook, Stage.AFTER_GREEN_HEALTHY, protocol, port)
    else:
        check_listener(hook, Stage.AFTER_GREEN_HEALTHY, protocol, port)


def test_config_load_asks_the_listener_only_for_probes_given_as_urls():
    asked: list[str] = []

    def listener(route: str) -> tuple[str, int]:
        asked.append(route)
        return "HTTP", 80

    hooks = HooksConfig(afterGreenHealthy=[probe(path="/x")], afterCutover=[probe(url="http://www.example.com/")])
    check_urls(hooks, listener)
    assert asked == ["production"]
