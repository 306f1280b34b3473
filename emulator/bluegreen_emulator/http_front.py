"""The simulated load balancers answer real HTTP on 127.0.0.1.

One threaded HTTP server per emulator, started and stopped with it. The probe function reaches it as its HTTP
proxy (the template's ``ProbeProxyUrl``, which the emulator sets to :attr:`HttpFront.url`): a request's line names
the load balancer and listener (``GET http://<DNS name>:<port>/path``) and its ``Host`` header the host name,
as a real request to the load balancer would. The server routes it as an Application Load Balancer does:

* the listener's rules by priority (host-header, path-pattern and http-request-method conditions; a rule with
  any other condition never matches here), else the listener's default actions;
* a ``forward`` picks a target group by the weights (smooth weighted round robin per route: deterministic, and
  a 10 % canary gets every tenth request), then a target of it: the healthy ones in turn; all registered ones
  when none is healthy (the ALB fails open); ``503`` when the group has none; ``fixed-response`` answers as set;
* target group stickiness (``ForwardConfig.TargetGroupStickinessConfig`` enabled): the answer sets the
  ``AWSALBTG`` cookie naming the chosen group, and a request bringing it back goes to that group while the cookie
  lasts (``DurationSeconds``, simulated time) and the group is in the forward action, whatever its weight, even 0;
* a long-lived TCP connection (:meth:`HttpFront.connect`, as through a Network Load Balancer) is bound to the
  target it was opened to: a later listener change moves new connections only, and the connection lasts until its
  target goes away (its task set deleted), as on an NLB.

The chosen target answers per its image's behaviour in the data plane:

* healthy: ``200``, the body naming the service and the image tag;
* alarm (the ``-5xx`` images): ``500`` on every path but the target group's health check path;
* unhealthy, crashloop: the target refuses the connection; the load balancer answers ``502``;
* slow (``v2-slow``): ``200`` after :data:`SLOW_SECONDS` simulated seconds (the clock moves; nothing sleeps).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from .dataplane import ALARM, CRASHLOOP, SLOW, UNHEALTHY, DataPlane
from .loopback import LoopbackServer
from .route_state import backend_actions

SLOW_SECONDS = 1.5


def _wildcard(pattern: str, text: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _values(condition: dict[str, Any], config: str) -> list[str]:
    return list((condition.get(config) or {}).get("Values") or condition.get("Values") or [])


def rule_matches(conditions: list[dict[str, Any]], method: str, host: str, path: str) -> bool:
    """An ALB rule's conditions (all of them) match the request."""
    for condition in conditions:
        field = condition.get("Field")
        if field == "host-header":
            ok = any(_wildcard(v, host, ignore_case=True) for v in _values(condition, "HostHeaderConfig"))
        elif field == "path-pattern":
            ok = any(_wildcard(v, path, ignore_case=False) for v in _values(condition, "PathPatternConfig"))
        elif field == "http-request-method":
            ok = method.upper() in [v.upper() for v in _values(condition, "HttpRequestMethodConfig")]
        else:
            ok = False  # headers, query strings, source addresses: not simulated
        if not ok:
            return False
    return True


STICKY_COOKIE = "AWSALBTG"  # the ALB's target group stickiness cookie


def sticky_token(group: str, expires: float) -> str:
    """The cookie's value: the group and when it expires (simulated seconds); the ALB's own is opaque."""
    return base64.urlsafe_b64encode(f"{group}|{expires:.3f}".encode()).decode()


def sticky_group(cookie_header: str, now: float) -> str | None:
    """The target group an unexpired ``AWSALBTG`` cookie in the ``Cookie`` header names (else ``None``)."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name != STICKY_COOKIE or not value:
            continue
        try:
            group, _, expires = base64.urlsafe_b64decode(value.encode()).decode().rpartition("|")
            if group and float(expires) > now:
                return group
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Connection:
    """A long-lived connection through a load balancer, bound to one target of one group when it was opened."""

    group: str
    ip: str


class HttpFront(LoopbackServer):
    """The load balancers of the emulator's account, answering on 127.0.0.1."""

    def __init__(self, plane: DataPlane, tag_of: Callable[[str], str]) -> None:
        super().__init__()
        self.plane = plane
        self.tag_of = tag_of  # image digest -> tag
        self._lock = threading.Lock()
        self._weights: dict[str, dict[str, float]] = {}  # route -> target group -> current (smooth round robin)
        self._turn: dict[str, int] = {}  # target group -> next target
        self.requests: list[tuple[float, str, int]] = []  # (simulated seconds, "GET url Host", status)

    def start(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                cookie = self.headers.get("Cookie", "")
                status, body, headers = front.answer("GET", self.path, self.headers.get("Host", ""), cookie)
                data = body.encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "text/plain", "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
                return  # requests are kept in front.requests

        self._serve(Handler, "http-front")

    # --- routing -----------------------------------------------------------------------------------
    def answer(self, method: str, target: str, host_header: str, cookie: str = "") -> tuple[int, str, dict[str, str]]:
        status, body, headers, slow = self._route(method, target, host_header, cookie)
        if slow:
            self.plane.clock.advance(SLOW_SECONDS)  # the answer takes simulated time; nothing sleeps
        self.requests.append((self.plane.clock.elapsed, f"{method} {target} Host {host_header}", status))
        return status, body, headers

    def _route(
        self, method: str, target: str, host_header: str, cookie: str = ""
    ) -> tuple[int, str, dict[str, str], bool]:
        url = urlsplit(target)
        if not url.scheme or not url.hostname:
            return 400, "send requests to http://<load balancer DNS name>:<port>/path through this proxy\n", {}, False
        port = url.port or (443 if url.scheme == "https" else 80)
        host = (host_header or url.netloc).split(":", 1)[0]
        path = url.path or "/"
        backend = elbv2_backends[self.plane.account][self.plane.region]
        with self.plane._lock:
            balancer = next(
                (b for b in backend.load_balancers.values() if b.dns_name.lower() == url.hostname.lower()), None
            )
            listener = next((x for x in (balancer.listeners.values() if balancer else []) if int(x.port) == port), None)
            if listener is None:  # no such load balancer or listener: the connection fails; a proxy says 502
                return 502, f"cannot connect to {url.hostname}:{port}\n", {}, False
            rules = sorted(
                (r for r in listener.rules.values() if not getattr(r, "is_default", False)),
                key=lambda r: int(r.priority),
            )
            route = next((r.arn for r in rules if rule_matches(r.conditions or [], method, host, path)), listener.arn)
            actions = backend_actions(backend, route)
            return self._act(route, actions, path, cookie)

    def _act(
        self, route: str, actions: list[dict[str, Any]], path: str, cookie: str = ""
    ) -> tuple[int, str, dict[str, str], bool]:
        action = next((a for a in actions if a.get("Type") in ("forward", "fixed-response", "redirect")), None)
        if action is None:
            return 401, "authentication required\n", {}, False
        if action["Type"] == "fixed-response":
            config = action.get("FixedResponseConfig") or {}
            return int(config.get("StatusCode", 503)), str(config.get("MessageBody", "")), {}, False
        if action["Type"] == "redirect":
            return 301, "", {"Location": str((action.get("RedirectConfig") or {}).get("Path", "/"))}, False
        groups = [
            (g["TargetGroupArn"], float(g.get("Weight", 1)))
            for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        ]
        if not groups and action.get("TargetGroupArn"):
            groups = [(action["TargetGroupArn"], 1.0)]
        stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
        sticky = bool(stickiness.get("Enabled"))
        # Stickiness takes precedence over the weights: a cookie holder goes back to its group while the cookie
        # lasts and the forward action lists the group, whatever its weight (even 0). The cookie is the
        # ALB's AWSALBTG (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/sticky-sessions.html).
        held = sticky_group(cookie, self.plane.clock.elapsed) if sticky else None
        group = held if held in {g for g, _ in groups} else None
        headers: dict[str, str] = {}
        if group is None:
            group = self._pick_group(route, [(g, w) for g, w in groups if w > 0])
            if group is not None and sticky:
                expires = self.plane.clock.elapsed + float(stickiness.get("DurationSeconds") or 0)
                headers["Set-Cookie"] = f"{STICKY_COOKIE}={sticky_token(group, expires)}; Path=/"
        if group is None:
            return 503, "no target group with weight\n", {}, False
        status, body, more, slow = self._target_answer(group, path)
        return status, body, {**more, **headers}, slow

    # --- long-lived connections (NLB) ---------------------------------------------------------------
    def connect(self, route: str) -> Connection | None:
        """Open a connection through ``route`` (a listener): its forward weights pick a group, then a target.

        A Network Load Balancer applies a listener change to new connections only; an open connection stays on
        its target (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-listeners.html).
        ``None``: no target to connect to.
        """
        backend = elbv2_backends[self.plane.account][self.plane.region]
        with self.plane._lock:
            actions = backend_actions(backend, route)
            action = next((a for a in actions if a.get("Type") == "forward"), None)
            groups = [
                (g["TargetGroupArn"], float(g.get("Weight", 1)))
                for g in ((action or {}).get("ForwardConfig") or {}).get("TargetGroups") or []
            ]
            if not groups and action and action.get("TargetGroupArn"):
                groups = [(action["TargetGroupArn"], 1.0)]
            group = self._pick_group(route, [(g, w) for g, w in groups if w > 0])
            if group is None:
                return None
            targets = sorted(ip for (g, ip), t in self.plane.targets.items() if g == group and t.draining_until is None)
            if not targets:
                return None
            with self._lock:
                turn = self._turn.get(group, 0)
                self._turn[group] = turn + 1
            return Connection(group, targets[turn % len(targets)])

    def alive(self, connection: Connection) -> bool:
        """The connection still reaches its target: reset once the target's task stopped (it drains or is gone)."""
        with self.plane._lock:
            target = self.plane.targets.get((connection.group, connection.ip))
            return target is not None and target.draining_until is None

    def _pick_group(self, route: str, groups: list[tuple[str, float]]) -> str | None:
        """Smooth weighted round robin: each group gets its share, interleaved, the same way every run."""
        if not groups:
            return None
        with self._lock:
            current = self._weights.setdefault(route, {})
            total = sum(weight for _, weight in groups)
            for group, weight in groups:
                current[group] = current.get(group, 0.0) + weight
            chosen = max(groups, key=lambda item: current[item[0]])[0]
            current[chosen] -= total
            return chosen

    def _target_answer(self, group: str, path: str) -> tuple[int, str, dict[str, str], bool]:
        targets = [(ip, t) for (g, ip), t in self.plane.targets.items() if g == group and t.draining_until is None]
        healthy = [(ip, t) for ip, t in targets if self.plane.state_of(group, ip)[0] == "healthy"]
        pool = sorted(healthy or targets, key=lambda item: item[0])  # the ALB fails open when none is healthy
        if not pool:
            return 503, "Service Temporarily Unavailable\n", {}, False
        with self._lock:
            turn = self._turn.get(group, 0)
            self._turn[group] = turn + 1
        ip, target = pool[turn % len(pool)]
        behaviour = target.behaviour
        if behaviour in (UNHEALTHY, CRASHLOOP):
            return 502, "Bad Gateway (the target refused the connection)\n", {}, False
        health_path = self._health_path(group)
        if behaviour == ALARM and path != health_path:
            return 500, "Internal Server Error\n", {}, False
        return 200, f"{self._image_of(group, ip)} ok\n", {}, behaviour == SLOW

    def _health_path(self, group: str) -> str:
        target_group = elbv2_backends[self.plane.account][self.plane.region].target_groups.get(group)
        return str(getattr(target_group, "health_check_path", None) or "/")

    def _image_of(self, group: str, ip: str) -> str:
        """``<service> <tag>`` of the task behind the target (its task definition's image digest)."""
        for state in self.plane._task_sets.values():
            if state.target_group != group:
                continue
            for sim in state.tasks:
                if sim.ip != ip:
                    continue
                ecs = ecs_backends[self.plane.account][self.plane.region]
                definition = ecs.describe_task_definition(sim.task.task_definition_arn)
                image = definition.container_definitions[0].get("image", "")
                return f"{state.service.split(':', 1)[-1]} {self.tag_of(image.split('@')[-1])}"
        return "unknown image"
