"""The HTTP probe hook (``type: http``) — where it is sent, how it is judged, and the requests.

A probe sends ``requests`` GET requests to ``path`` through its stage's route: the test route before the cutover
(``afterGreenHealthy``, ``eachTrafficStep``: green only), the first production route after it (``afterCutover``,
``beforeDeleteOld``). The URL is the route's listener on its load balancer (``http(s)://<DNS name>:<port>``) and
the ``Host`` header the route's host name (or the hook's ``host``, which must be one the route matches).

RunHooks (outside any VPC) resolves the route and invokes the probe function with a :class:`ProbeRequest`; the
probe function (which the stack may place in the VPC, for internal load balancers) sends the requests and
answers the :class:`ProbeSample` of each; RunHooks judges them with :func:`verdict`. The probe function calls
no AWS API: a function in private subnets needs no NAT gateway or VPC endpoint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import urllib3
from pydantic import BaseModel, Field

from bluegreen.domain import clock
from bluegreen.domain.errors import ProbeOutsideRoutes
from bluegreen.domain.hooks import HooksConfig, HttpProbeHook, Stage
from bluegreen.domain.models import RuleSnapshot
from bluegreen.domain.settings import get_settings

USER_AGENT = "bluegreen-probe/1"
MAX_BODY_BYTES = 256 * 1024  # the body pattern is searched in the first 256 KiB


# A load balancer's DNS name: ALB ``name-id.region.elb.amazonaws.com``, NLB ``name-id.elb.region.amazonaws.com``
# (``.com.cn`` in China). The probe function sends nothing elsewhere, whoever invokes it.
LOAD_BALANCER_URL = r"^https?://[A-Za-z0-9.-]+\.elb(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?(:\d{1,5})?/"


class ProbeRequest(BaseModel):
    """What RunHooks asks the probe function to send."""

    url: str = Field(pattern=LOAD_BALANCER_URL)  # scheme://<load balancer DNS name>[:<port>]<path>
    host: str | None = None  # the Host header (the route's host name); None: the URL's
    requests: int = Field(ge=1, le=100)
    requestTimeoutSeconds: float = Field(gt=0, le=60)
    bodyPattern: str | None = None


class ProbeSample(BaseModel):
    """One request's outcome."""

    status: int | None = None
    latencyMs: float = 0.0
    bodyMatched: bool | None = None  # None: no pattern (or no answer)
    error: str | None = None  # no HTTP answer: "timed out", "connection failed", ...


class ProbeAnswer(BaseModel):
    samples: list[ProbeSample] = Field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- pure: the route, the URL, the verdict ----------------------------------------------------------------
def probe_route(stage: Stage) -> Literal["test", "production"]:
    """Which route a stage's probe goes through: green only behind the test route until the cutover."""
    return "test" if stage in (Stage.AFTER_GREEN_HEALTHY, Stage.EACH_TRAFFIC_STEP) else "production"


def _wildcard(pattern: str, text: str, ignore_case: bool) -> bool:
    """An ELB condition value (``*`` any characters, ``?`` one character) matches ``text``."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _values(condition: dict[str, Any], config: str) -> list[str]:
    return list((condition.get(config) or {}).get("Values") or condition.get("Values") or [])


def probe_host(hook: HttpProbeHook, stage: Stage, route: RuleSnapshot) -> str | None:
    """The Host header that reaches ``route`` with the hook's path, or :class:`ProbeOutsideRoutes`.

    A listener route (default actions) takes any host; a rule's host-header, path-pattern and
    http-request-method conditions must all let the probe through (other conditions it cannot meet).
    """
    where = f"The {stage.value} probe {hook.label!r} goes through the {probe_route(stage)} route {route.ruleArn}"
    if route.kind == "listener":
        return hook.target_host
    host = hook.target_host
    path = hook.target_path.split("?", 1)[0]
    for condition in route.conditions:
        field = condition.get("Field")
        if field == "host-header":
            hosts = _values(condition, "HostHeaderConfig")
            if host is None:
                host = next((h for h in hosts if "*" not in h and "?" not in h), None)
                if host is None:
                    raise ProbeOutsideRoutes(
                        f"{where}, whose host names are patterns ({', '.join(hosts)}): set the hook's 'host' to a "
                        f"host name they match."
                    )
            elif not any(_wildcard(h, host, ignore_case=True) for h in hosts):
                raise ProbeOutsideRoutes(
                    f"{where}, which matches host {', '.join(hosts)}, not {host!r}: fix the hook's 'host'."
                )
        elif field == "path-pattern":
            paths = _values(condition, "PathPatternConfig")
            if not any(_wildcard(p, path, ignore_case=False) for p in paths):
                raise ProbeOutsideRoutes(f"{where}, which matches path {', '.join(paths)}, not {path!r}: fix 'path'.")
        elif field == "http-request-method":
            methods = [m.upper() for m in _values(condition, "HttpRequestMethodConfig")]
            if "GET" not in methods:
                raise ProbeOutsideRoutes(f"{where}, which matches methods {', '.join(methods)}; the probe sends GET.")
        else:
            raise ProbeOutsideRoutes(
                f"{where}, which has a {field} condition the probe cannot meet: probe through a route of host "
                f"names and paths only, or use a Lambda hook."
            )
    return host


def check_routes(hooks: HooksConfig, test: RuleSnapshot, production: RuleSnapshot) -> list[str | None]:
    """At configuration load: every probe reaches its stage's route (:class:`ProbeOutsideRoutes` if not).

    Returns each probe's Host header. Rules of higher priority on the same listener are not consulted.
    """
    return [
        probe_host(hook, stage, test if probe_route(stage) == "test" else production)
        for stage in Stage
        for hook in hooks.at(stage)
        if isinstance(hook, HttpProbeHook)
    ]


def check_listener(hook: HttpProbeHook, stage: Stage, protocol: str | None, port: int) -> None:
    """A hook's ``url`` naming another scheme or port than its route's listener is :class:`ProbeOutsideRoutes`."""
    scheme, url_port = hook.url_listener
    listener_scheme = _scheme(protocol)
    if scheme is None or (scheme == listener_scheme and url_port in (None, port)):
        return
    raise ProbeOutsideRoutes(
        f"The {stage.value} probe {hook.label!r} names {hook.url}, but its {probe_route(stage)} route's listener is "
        f"{listener_scheme} on port {port}: fix the hook's 'url' (or give 'host' and 'path')."
    )


def check_urls(hooks: HooksConfig, listener: Callable[[Literal["test", "production"]], tuple[str | None, int]]) -> None:
    """At configuration load: each probe ``url`` names its route's listener (``listener``: its protocol and port)."""
    for stage in Stage:
        for hook in hooks.at(stage):
            if isinstance(hook, HttpProbeHook) and hook.url is not None:
                check_listener(hook, stage, *listener(probe_route(stage)))


def _scheme(protocol: str | None) -> str:
    return "https" if (protocol or "HTTP").upper() in ("HTTPS", "TLS") else "http"


def probe_url(protocol: str | None, dns_name: str, port: int, path: str) -> str:
    """The listener's URL: HTTPS and TLS listeners over https, HTTP and TCP ones over http (default port left out)."""
    scheme = _scheme(protocol)
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{dns_name}{'' if port == default else f':{port}'}{path}"


def failure_of(hook: HttpProbeHook, sample: ProbeSample) -> str | None:
    """Why one request failed, or ``None`` if it passed."""
    if sample.error:
        return sample.error
    if sample.latencyMs > hook.requestTimeoutSeconds * 1000:
        return "timed out"
    if sample.status is None or not any(low <= sample.status <= high for low, high in hook.statuses):
        return f"status {sample.status}"
    if hook.bodyPattern is not None and not sample.bodyMatched:
        return "body did not match"
    if hook.maxLatencyMs is not None and sample.latencyMs > hook.maxLatencyMs:
        return f"slower than {hook.maxLatencyMs} ms"
    return None


def verdict(hook: HttpProbeHook, samples: list[ProbeSample]) -> tuple[bool, str]:
    """Passed when at least ``successRatio`` of the hook's ``requests`` passed; a short account either way."""
    reasons = Counter(reason for reason in (failure_of(hook, s) for s in samples) if reason)
    passed = len(samples) - sum(reasons.values())
    ok = passed >= hook.successRatio * hook.requests - 1e-9
    text = f"{passed}/{hook.requests} passed (need {hook.successRatio:.0%})"
    latencies = sorted(s.latencyMs for s in samples if s.status is not None)
    if latencies:
        text += f", median {latencies[len(latencies) // 2]:.0f} ms, max {latencies[-1]:.0f} ms"
    if reasons:
        text += "; " + ", ".join(f"{count} x {reason}" for reason, count in reasons.most_common())
    return ok, text


# --- the requests (in the probe function) ---------------------------------------------------------------
def run(request: ProbeRequest) -> ProbeAnswer:
    """The probe function: send the requests (through ``PROBE_PROXY_URL`` if set) and answer what happened."""
    return send(http_pool(get_settings().probeProxyUrl, request), request)


def http_pool(proxy_url: str, request: ProbeRequest) -> urllib3.PoolManager:
    """Direct, or through ``PROBE_PROXY_URL``; an https URL checks the certificate of the Host header's name."""
    tls: dict[str, Any] = {}
    if request.url.startswith("https://") and request.host:
        tls = {"server_hostname": request.host, "assert_hostname": request.host}
    return urllib3.ProxyManager(proxy_url, **tls) if proxy_url else urllib3.PoolManager(**tls)


def send(pool: urllib3.PoolManager, request: ProbeRequest) -> ProbeAnswer:
    pattern = re.compile(request.bodyPattern) if request.bodyPattern else None
    return ProbeAnswer(samples=[_one(pool, request, pattern) for _ in range(request.requests)])


def _one(pool: urllib3.PoolManager, request: ProbeRequest, pattern: re.Pattern[str] | None) -> ProbeSample:
    headers = {"User-Agent": USER_AGENT, **({"Host": request.host} if request.host else {})}
    started = clock.now()
    try:
        response = pool.request(
            "GET",
            request.url,
            headers=headers,
            timeout=urllib3.Timeout(total=request.requestTimeoutSeconds),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            body = response.read(MAX_BODY_BYTES, decode_content=True)
        finally:
            response.drain_conn()
            response.release_conn()
    except urllib3.exceptions.HTTPError as error:  # refused, timed out, TLS, protocol errors
        return ProbeSample(latencyMs=_ms(started), error=_reason(error))
    latency = _ms(started)
    matched = None if pattern is None else pattern.search(body.decode(errors="replace")) is not None
    return ProbeSample(status=response.status, latencyMs=latency, bodyMatched=matched)


def _ms(started: Any) -> float:
    return round((clock.now() - started).total_seconds() * 1000, 1)


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    if isinstance(error, urllib3.exceptions.ProxyError):
        return "proxy unreachable"
    if isinstance(error, urllib3.exceptions.NewConnectionError):  # before TimeoutError: it subclasses it
        return "connection failed"
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return "timed out"
    return f"request failed ({type(error).__name__})"
