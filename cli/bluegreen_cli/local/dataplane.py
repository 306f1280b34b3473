"""A small simulated data plane for moto, which runs no containers.

For every task set in the emulated ECS service it starts "tasks" after a delay,
registers their IPs in the task set's target group, and lets the targets turn
healthy after a further delay. Each image digest has a behaviour:

* ``healthy``  - targets pass health checks;
* ``unhealthy`` - targets fail health checks forever (``Target.ResponseCodeMismatch``);
* ``alarm``    - targets are healthy, but once production sends them traffic the
  service's 5xx alarm goes to ALARM after ``alarm_delay`` simulated seconds.

Deleted task sets have their targets deregistered. Time is the simulated clock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen import elbv2 as rules

from .metrics import AlbMetrics
from .patches import Patcher, simulate_target_health
from .route_state import backend_actions
from .simclock import SimClock

HEALTHY, UNHEALTHY, ALARM = "healthy", "unhealthy", "alarm"


@dataclass(frozen=True)
class Timing:
    """Simulated seconds."""

    task_start: float = 15.0
    healthy_after: float = 20.0
    alarm_delay: float = 20.0


@dataclass
class _TaskSetState:
    created: datetime
    target_group: str | None
    service: str = ""
    ips: list[str] = field(default_factory=list)
    production_since: datetime | None = None


@dataclass
class WatchedService:
    """What the data plane needs to know of a seeded service."""

    cluster: str
    service: str
    production_rule_arn: str
    alarm_name: str | None
    port: int


class DataPlane:
    def __init__(self, clock: SimClock, account: str, region: str, timing: Timing | None = None) -> None:
        self.clock = clock
        self.account = account
        self.region = region
        self.timing = timing or Timing()
        self.behaviours: dict[str, str] = {}  # image digest -> behaviour
        self.services: list[WatchedService] = []
        self.health: dict[tuple[str, str], tuple[str, str | None]] = {}  # (tg, ip) -> (state, reason)
        self._task_sets: dict[str, _TaskSetState] = {}
        self._lock = threading.RLock()
        self._ip_counter = 10
        self._patcher: Any = None  # patches.Patcher while installed
        self.alarm_changes: list[tuple[float, str, str]] = []  # (simulated seconds, alarm, new state)
        self.forced_alarms: set[str] = set()  # alarms held in ALARM whatever the traffic
        self.alarm_min_weight = 1  # share of production (percent) at which an "alarm" image starts failing

    # --- wiring ----------------------------------------------------------------------
    def install(self) -> None:
        self._patcher = Patcher()
        simulate_target_health(self._patcher, lambda tg, target: self.health.get((tg.arn, target["Id"])))
        self.clock.listeners.append(self.reconcile)

    def uninstall(self) -> None:
        if self._patcher is not None:
            self._patcher.restore()
            self._patcher = None
        if self.reconcile in self.clock.listeners:
            self.clock.listeners.remove(self.reconcile)

    def watch(self, service: WatchedService) -> None:
        self.services.append(service)

    def unwatch(self, service: str) -> None:
        """Stop simulating a service (its tasks keep their last state)."""
        with self._lock:
            self.services = [s for s in self.services if s.service != service]

    def mark_running(self, task_set_id: str, cluster: str, service: str) -> None:
        """Treat a task set as started long ago (the blue one at seed time)."""
        with self._lock:
            self._task_sets[task_set_id] = _TaskSetState(
                created=self.clock.now() - timedelta(hours=1), target_group=None, service=f"{cluster}:{service}"
            )

    # --- simulation ------------------------------------------------------------------
    def _behaviour(self, ecs_backend: Any, task_definition_arn: str) -> str:
        definition = ecs_backend.describe_task_definition(task_definition_arn)
        for container in definition.container_definitions:
            image = container.get("image", "")
            digest = image.split("@", 1)[1] if "@" in image else None
            if digest in self.behaviours:
                return self.behaviours[digest]
        return HEALTHY

    def _next_ip(self) -> str:
        self._ip_counter += 1
        return f"10.0.{1 + self._ip_counter // 250}.{self._ip_counter % 250 + 1}"

    def reconcile(self) -> None:
        with self._lock:
            ecs_backend = ecs_backends[self.account][self.region]
            elb_backend = elbv2_backends[self.account][self.region]
            now = self.clock.now()
            for watched in self.services:
                service = ecs_backend.services.get(f"{watched.cluster}:{watched.service}")
                if service is None:
                    continue
                live_ids = set()
                production = self._production_groups(elb_backend, watched)
                for task_set in service.task_sets:
                    live_ids.add(task_set.id)
                    self._reconcile_task_set(ecs_backend, elb_backend, service, task_set, watched, production, now)
                key = f"{watched.cluster}:{watched.service}"
                gone = [i for i, st in self._task_sets.items() if st.service == key and i not in live_ids]
                for task_set_id in gone:
                    self._stop(elb_backend, task_set_id)
                self._reconcile_alarm(watched, now)

    def _production_groups(self, elb_backend: Any, watched: WatchedService) -> dict[str, int]:
        """Target group -> share of production (percent)."""
        weights = rules.forward_weights(backend_actions(elb_backend, watched.production_rule_arn))  # rule or listener
        total = sum(weights.values()) or 1
        return {group: round(100 * weight / total) for group, weight in weights.items()}

    def _reconcile_task_set(self, ecs_backend, elb_backend, service, task_set, watched, production, now) -> None:  # noqa: ANN001
        state = self._task_sets.get(task_set.id)
        target_group = (task_set.load_balancers or [{}])[0].get("targetGroupArn")
        if state is None:
            state = self._task_sets[task_set.id] = _TaskSetState(created=now, target_group=target_group)
        state.target_group = target_group
        state.service = f"{watched.cluster}:{watched.service}"
        scale = float((task_set.scale or {}).get("value", 100.0))
        desired = math.ceil(service.desired_count * scale / 100)
        behaviour = self._behaviour(ecs_backend, task_set.task_definition)
        age = (now - state.created).total_seconds()
        started = age >= self.timing.task_start
        if started and target_group and len(state.ips) < desired:
            new_ips = [self._next_ip() for _ in range(desired - len(state.ips))]
            elb_backend.register_targets(target_group, [{"Id": ip, "Port": watched.port} for ip in new_ips])
            state.ips.extend(new_ips)
        healthy_age = age >= self.timing.task_start + self.timing.healthy_after
        for ip in state.ips:
            if behaviour == UNHEALTHY:
                self.health[(target_group, ip)] = (
                    ("unhealthy", "Target.ResponseCodeMismatch")
                    if healthy_age
                    else (
                        "initial",
                        "Elb.RegistrationInProgress",
                    )
                )
            else:
                self.health[(target_group, ip)] = (
                    ("healthy", None)
                    if healthy_age
                    else (
                        "initial",
                        "Elb.RegistrationInProgress",
                    )
                )
        running = desired if started else 0
        all_healthy = bool(state.ips) and all(self.health[(target_group, ip)][0] == "healthy" for ip in state.ips)
        task_set.computedDesiredCount = desired
        task_set.runningCount = running
        task_set.pendingCount = desired - running
        stability = "STEADY_STATE" if running == desired and all_healthy else "STABILIZING"
        if task_set.stabilityStatus != stability:
            task_set.stabilityStatus = stability
            task_set.stabilityStatusAt = now
        # An "alarm" image breaks once it serves at least ``alarm_min_weight`` percent of production.
        receives = production.get(target_group, 0) >= max(1, self.alarm_min_weight)
        state.production_since = (state.production_since or now) if receives else None
        task_set.bluegreen_behaviour = behaviour

    def _stop(self, elb_backend: Any, task_set_id: str) -> None:
        state = self._task_sets.pop(task_set_id)
        if state.target_group and state.ips:
            registered = [ip for ip in state.ips if ip in elb_backend.target_groups[state.target_group].targets]
            if registered:
                elb_backend.deregister_targets(state.target_group, [{"Id": ip} for ip in registered])
        for ip in state.ips:
            self.health.pop((state.target_group, ip), None)

    def _reconcile_alarm(self, watched: WatchedService, now: datetime) -> None:
        """ALB metrics from the simulated traffic and CloudWatch alarms evaluated over them (see metrics.py)."""
        # moto gap: moto never evaluates an alarm (nor publishes ALB metrics): metrics.py does, in simulated time.
        if "metrics" not in self.__dict__:
            self.metrics = AlbMetrics(self)
        self.metrics.force_pending()
        self.metrics.tick()
