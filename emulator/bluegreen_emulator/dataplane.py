"""A small simulated data plane for moto, which runs no containers.

For every task set in the emulated ECS service it starts ECS tasks (moto ``Task``
objects, ``startedBy`` = the task set id, one ENI address each) after a delay,
registers their addresses in the task set's target group and moves each target
through the ALB's states:

* ``initial`` (``Elb.RegistrationInProgress`` for the first health-check interval,
  then ``Elb.InitialHealthChecking``) until interval x healthy threshold of the
  target group's health check has passed, then ``healthy`` (or ``unhealthy``);
* ``draining`` (``Target.DeregistrationInProgress``) for the target group's
  ``deregistration_delay.timeout_seconds`` after its task stopped, then gone;
* ``unused`` (``Target.NotInUse``) while no listener rule forwards to the group.

Tasks stop, with a ``stoppedReason`` kept for describe/list: when their task set is
deleted or scaled in, when an image crash-loops, or when a test injects a crash;
ECS then starts a replacement (a new address) while the old one drains.
Each image digest has a behaviour:

* ``healthy``  - targets pass health checks;
* ``unhealthy`` - targets fail health checks forever (``Target.ResponseCodeMismatch``; behind an NLB
  ``Target.FailedHealthChecks``);
* ``alarm``    - targets are healthy, but once production sends them traffic the
  service's 5xx alarm goes to ALARM after ``alarm_delay`` simulated seconds;
* ``rising5xx`` - targets are healthy; their 5xx rate rises minute by minute once production
  reaches them (:mod:`.metrics`);
* ``slowtail`` / ``slowmean`` - healthy targets with worse response times in the ALB metrics: a slow tail with
  a good mean, or a worse mean with a short tail (:data:`.metrics.LATENCY_PROFILES`);
* ``crashloop`` - every task exits ``crash_after`` seconds after it starts.

Each task is placed in one of its task set's subnets, spread over their Availability Zones as ECS
does (``zone_out_of_capacity`` keeps new tasks out of a zone), and DescribeTasks reports its
``availabilityZone``. ``dns_zones`` and ``forwards_to`` say what a Network Load Balancer does with those
targets (cross-zone off by default: a node reaches only its zone's healthy targets; a zone without one in a
group leaves DNS; a group with no healthy target fails open).

ECS is eventually consistent: for ``consistency_delay`` simulated seconds a new task
set is missing from DescribeTaskSets and a changed primary still shows its old
status (see :mod:`.patches`). Time is the simulated clock.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ecr.models import ecr_backends
from moto.ecs.models import Task, ecs_backends
from moto.elbv2.models import elbv2_backends
from moto.ssm.models import ssm_backends

from bluegreen.aws import elbv2 as rules
from bluegreen.aws.config import parameter_name

from .behaviours import Behaviour, Behaviours
from .metrics import FAILING_5XX_SHARE, AlbMetrics
from .patches import EcsTaskPatches, Patcher, private_dns_names, scheduler_reacts, simulate_target_health
from .route_state import backend_actions
from .simclock import SimClock

HEALTHY, UNHEALTHY, ALARM, CRASHLOOP = "healthy", "unhealthy", "alarm", "crashloop"
SLOW = "slow"  # Healthy, but each HTTP answer takes 1.5 simulated seconds (local/http_front.py)
RISING_5XX = "rising5xx"  # Healthy targets whose 5xx rate rises once production reaches them
# Healthy targets whose response times are worse than healthy's (local/metrics.py LATENCY_PROFILES):
SLOW_TAIL = "slowtail"  # a slow tail (7% of requests at 400 ms) with a mean better than healthy's
SLOW_MEAN = "slowmean"  # every request somewhat slower (mean 1.7x healthy's), p95 within 1.5x healthy's
_PLANE_KINDS = {
    "healthy": HEALTHY,
    "unhealthy": UNHEALTHY,
    "errors": ALARM,
    "crash": CRASHLOOP,
    "slow": SLOW,
    "rising5xx": RISING_5XX,
    "slowtail": SLOW_TAIL,
    "slowmean": SLOW_MEAN,
}
CRASH_REASON = "Essential container in task exited"
SCALE_IN_REASON = "Scaling activity initiated by (deployment {})"
NLB_PROTOCOLS = {"TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC"}  # Target group protocols of NLBs


def rolling_key(cluster: str, service: str) -> str:
    """The data plane's key for the tasks of a service on the ECS or CODE_DEPLOY controller."""
    return f"rolling:{cluster}:{service}"


@dataclass(frozen=True)
class Timing:
    """Simulated seconds."""

    task_start: float = 15.0
    healthy_after: float | None = None  # None: the target group's health-check interval x healthy threshold
    alarm_delay: float = 20.0
    crash_after: float = 10.0  # a ``crashloop`` task exits this long after it started
    consistency_delay: float = 3.0  # ECS read-after-write lag (DescribeTaskSets)


@dataclass
class _SimTask:
    task: Any  # the moto Task
    ip: str
    launched: datetime
    running: bool = False
    zone: str | None = None  # The Availability Zone of the task's subnet


@dataclass
class _Target:
    registered: datetime
    behaviour: str
    draining_until: datetime | None = None
    flapping_until: datetime | None = None
    zone: str | None = None  # The zone of the task behind the target


@dataclass
class _TaskSetState:
    created: datetime
    target_group: str | None
    service: str = ""
    tasks: list[_SimTask] = field(default_factory=list)
    stopped: list[_SimTask] = field(default_factory=list)
    production_since: datetime | None = None
    long_running: bool = False

    @property
    def ips(self) -> list[str]:
        return [t.ip for t in self.tasks if t.running]


@dataclass
class WatchedService:
    """What the data plane needs to know of a service it drives.

    A seeded service is watched explicitly; every other service of the ECS backend is discovered at each
    reconcile (:meth:`DataPlane.watched`), its production route read from its SSM configuration document.
    """

    cluster: str
    service: str
    production_rule_arn: str  # "": unknown, every route to the service's target groups counts as production
    alarm_name: str | None
    port: int  # 0: each task set's own containerPort


class _LiveHealth(Mapping):
    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane

    def __getitem__(self, key: tuple[str, str]) -> tuple[str, str | None]:
        if key not in self.plane.targets:
            raise KeyError(key)
        return self.plane.state_of(*key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self.plane.targets))

    def __len__(self) -> int:
        return len(self.plane.targets)


class DataPlane:
    def __init__(self, clock: SimClock, account: str, region: str, timing: Timing | None = None) -> None:
        self.clock = clock
        self.account = account
        self.region = region
        self.timing = timing or Timing()
        self.behaviours: dict[str, str] = {}  # image digest -> behaviour (the seeded demo images)
        self.tag_behaviours = Behaviours()  # any other image: by its tag (local/behaviours.py, --behaviours FILE)
        self.services: list[WatchedService] = []  # seeded services; every other service is discovered
        self._ignored: set[str] = set()  # "cluster:service" keys no longer simulated (unwatch)
        self.targets: dict[tuple[str, str], _Target] = {}  # (tg, ip) -> target
        self._rolling_ips: dict[str, list[str]] = {}  # Tasks of ECS/CODE_DEPLOY services, by rolling_key
        self._task_sets: dict[str, _TaskSetState] = {}
        self._lock = threading.RLock()
        self._ip_counter = 10
        self._patcher: Any = None  # patches.Patcher while installed
        self.alarm_changes: list[tuple[float, str, str]] = []  # (simulated seconds, alarm, new state)
        self.forced_alarms: set[str] = set()  # alarms held in ALARM whatever the traffic
        self.alarm_min_weight = 1  # share of production (percent) at which an "alarm" image starts failing
        self.events: list[tuple[float, str]] = []  # (simulated seconds, data-plane event) injected by hand
        self.consistency_delay = self.timing.consistency_delay
        self.patches = EcsTaskPatches(
            lambda: self.clock.elapsed, lambda: self.consistency_delay, self.reconcile, self.deregistration_delay
        )
        self._used_groups: set[str] = set()
        self.zones_out: set[str] = set()  # Zones where ECS cannot place new tasks (no capacity)

    # --- wiring ----------------------------------------------------------------------
    def install(self) -> None:
        self._patcher = Patcher()
        private_dns_names(self._patcher)  # tasks in a VPC made with a plain ``aws ec2 create-vpc``
        simulate_target_health(
            self._patcher,
            lambda tg, target: self.state_of(tg.arn, target["Id"]) if (tg.arn, target["Id"]) in self.targets else None,
        )
        self.patches.install()
        # The ECS scheduler reacts to a new task set, a new service, and a desired count or scale change at once
        # (their tasks are placed, PROVISIONING, from then), whoever made the call: the API, a seed, a deployment.
        scheduler_reacts(self._patcher, self.account, self.region, self.reconcile)
        self.clock.listeners.append(self.reconcile)

    def uninstall(self) -> None:
        if self._patcher is not None:
            self._patcher.restore()
            self._patcher = None
        self.patches.uninstall()
        if self.reconcile in self.clock.listeners:
            self.clock.listeners.remove(self.reconcile)

    def watch(self, service: WatchedService) -> None:
        """Simulate ``service`` (a service watched already is watched with the new details instead)."""
        with self._lock:
            self._ignored.discard(f"{service.cluster}:{service.service}")
            self.services = [s for s in self.services if (s.cluster, s.service) != (service.cluster, service.service)]
            self.services.append(service)

    def unwatch(self, service: str) -> None:
        """Stop simulating a service (its tasks keep their last state)."""
        with self._lock:
            self._ignored.update(f"{s.cluster}:{s.service}" for s in self.services if s.service == service)
            self.services = [s for s in self.services if s.service != service]
            backend = ecs_backends[self.account][self.region]
            self._ignored.update(key for key in list(backend.services) if key.split(":", 1)[1] == service)

    def watched(self) -> list[WatchedService]:
        """Every service the data plane drives: the seeded ones, then every other service of the ECS backend.

        ECS runs the tasks of every service, not of a list: a service created through the API (the AWS CLI,
        CloudFormation) is driven like a seeded one. Its production route (for the traffic its task sets get,
        hence the load balancer metrics and alarms) is the one its configuration document in SSM names; without
        one, every route forwarding to its task sets' target groups (:meth:`_unconfigured_production`).
        """
        with self._lock:
            explicit = {f"{s.cluster}:{s.service}" for s in self.services}
            found = list(self.services)
            backend = ecs_backends[self.account][self.region]
            for key, service in list(backend.services.items()):
                if key in explicit or key in self._ignored:
                    continue
                external = (service.deployment_controller or {}).get("type") == "EXTERNAL"
                if not external and not service.load_balancers:
                    continue
                cluster, name = key.split(":", 1)
                found.append(WatchedService(cluster, name, self._configured_route(name), None, 0))
            return found

    def _configured_route(self, service: str) -> str:
        """The first production route of the service's configuration document in SSM ("" without one)."""
        parameters = ssm_backends[self.account][self.region]._parameters
        versions = parameters.get(parameter_name(service))
        if not versions:
            return ""
        try:
            config = json.loads(versions[-1].value)
        except (ValueError, AttributeError):
            return ""
        if not isinstance(config, dict):
            return ""
        routes = config.get("productionRoutes") or [config.get("productionRuleArn") or ""]
        return str(routes[0] or "") if isinstance(routes, list) and routes else ""

    def mark_running(self, task_set_id: str, cluster: str, service: str) -> None:
        """Treat a task set as started long ago (the blue one at seed time)."""
        with self._lock:
            long_ago = self.clock.now() - timedelta(hours=1)
            state = self._task_sets.get(task_set_id)
            if state is None:
                state = self._task_sets[task_set_id] = _TaskSetState(created=long_ago, target_group=None)
            # The scheduler may have placed its tasks already (CreateTaskSet reconciles): they started long ago too.
            state.created, state.service, state.long_running = long_ago, f"{cluster}:{service}", True
            for sim in state.tasks:
                sim.launched = long_ago
            backend = ecs_backends[self.account][self.region]
            for task_set in backend.services[f"{cluster}:{service}"].task_sets:
                if task_set.id == task_set_id:  # seeded long ago: no consistency window
                    self.patches.window.hidden_until.pop(task_set.task_set_arn, None)
                    self.patches.window.stale_status.pop(task_set.task_set_arn, None)

    # --- target states -----------------------------------------------------------------
    @property
    def health(self) -> Mapping[tuple[str, str], tuple[str, str | None]]:
        """(tg, ip) -> (state, reason) of every simulated target, computed when read."""
        return _LiveHealth(self)

    def _health_check_time(self, target_group: Any) -> tuple[float, float]:
        """(seconds until the first check, seconds until healthy) for a target registered now."""
        interval = float(target_group.health_check_interval_seconds or 30)
        threshold = int(target_group.healthy_threshold_count or 5)
        total = self.timing.healthy_after if self.timing.healthy_after is not None else interval * threshold
        return total / max(1, threshold), total

    def state_of(self, target_group: str, ip: str) -> tuple[str, str | None]:
        target = self.targets.get((target_group, ip))
        if target is None:
            return "unused", "Target.NotRegistered"
        now = self.clock.now()
        if target.draining_until is not None:
            return "draining", "Target.DeregistrationInProgress"
        if target_group not in self._used_groups:
            return "unused", "Target.NotInUse"
        group = elbv2_backends[self.account][self.region].target_groups.get(target_group)
        first, total = self._health_check_time(group) if group else (0.0, 0.0)
        age = (now - target.registered).total_seconds()
        if age < first:
            return "initial", "Elb.RegistrationInProgress"
        if age < total:
            return "initial", "Elb.InitialHealthChecking"
        # A Network Load Balancer's group (TCP, TLS, UDP, TCP_UDP) reports every failed check as
        # Target.FailedHealthChecks; ResponseCodeMismatch and Timeout apply only to ALBs (TargetHealth reference).
        network = group is not None and group.protocol in NLB_PROTOCOLS
        if target.behaviour == UNHEALTHY:
            return "unhealthy", "Target.FailedHealthChecks" if network else "Target.ResponseCodeMismatch"
        if target.flapping_until is not None and now < target.flapping_until:
            return "unhealthy", "Target.FailedHealthChecks" if network else "Target.Timeout"
        return "healthy", None

    def _used_target_groups(self, elb_backend: Any) -> set[str]:
        """Target groups a listener rule (or default action) forwards to."""
        used: set[str] = set()
        for balancer in elb_backend.load_balancers.values():
            for listener in balancer.listeners.values():
                for rule in listener.rules.values():
                    actions = [a.data if hasattr(a, "data") else a for a in rule.actions]
                    for action in actions:
                        if action.get("Type") != "forward":
                            continue
                        if action.get("TargetGroupArn"):
                            used.add(action["TargetGroupArn"])
                        for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
                            used.add(group["TargetGroupArn"])
        return used

    # --- simulation ------------------------------------------------------------------
    def _behaviour(self, ecs_backend: Any, task_definition_arn: str) -> str:
        return self._behaviour_of(ecs_backend, task_definition_arn).plane_name

    def _behaviour_of(self, ecs_backend: Any, task_definition_arn: str) -> Behaviour:
        """A seeded image's behaviour (by digest), else the one its tag gets (local/behaviours.py)."""
        definition = ecs_backend.describe_task_definition(task_definition_arn)
        containers = list(definition.container_definitions)
        for container in containers:
            image = container.get("image", "")
            digest = image.split("@", 1)[1] if "@" in image else None
            if digest in self.behaviours:
                kind = {v: k for k, v in _PLANE_KINDS.items()}.get(self.behaviours[digest], "healthy")
                return Behaviour(kind=kind, crashAfterSeconds=self.timing.crash_after)  # type: ignore[arg-type]
        essential = [c for c in containers if c.get("essential", True)] or containers
        for container in essential:
            behaviour = self.tag_behaviours.of_tags(self._tags_of(container.get("image", "")))
            if behaviour.kind != "healthy":
                return behaviour
        return Behaviour(crashAfterSeconds=self.timing.crash_after)

    def _tags_of(self, image: str) -> list[str]:
        """The tags an image reference names: ``repo:tag``, or the ECR tags of ``repo@sha256:...``."""
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        if not digest:
            return [last.split(":", 1)[1]] if ":" in last else ["latest"]
        repository_name = name.split("/", 1)[1] if "/" in name and "." in name.split("/", 1)[0] else name
        repository = ecr_backends[self.account][self.region].repositories.get(repository_name.split(":", 1)[0])
        if repository is None:
            return []
        return [tag for stored in list(repository.images) if stored.image_digest == digest for tag in stored.image_tags]

    def _next_ip(self) -> str:
        self._ip_counter += 1
        return f"10.0.{1 + self._ip_counter // 250}.{self._ip_counter % 250 + 1}"

    def reconcile(self) -> None:
        with self._lock:
            ecs_backend = ecs_backends[self.account][self.region]
            elb_backend = elbv2_backends[self.account][self.region]
            now = self.clock.now()
            self._used_groups = self._used_target_groups(elb_backend)
            for watched in self.watched():
                service = ecs_backend.services.get(f"{watched.cluster}:{watched.service}")
                if service is None:
                    continue
                live_ids = set()
                production = self._production_groups(elb_backend, watched)
                for task_set in service.task_sets:
                    live_ids.add(task_set.id)
                    self._reconcile_task_set(ecs_backend, elb_backend, service, task_set, watched, production, now)
                if (service.deployment_controller or {}).get("type") != "EXTERNAL" and service.load_balancers:
                    live_ids.add(rolling_key(watched.cluster, watched.service))
                    self._reconcile_rolling(elb_backend, service, watched, now)
                key = f"{watched.cluster}:{watched.service}"
                gone = [i for i, st in self._task_sets.items() if st.service == key and i not in live_ids]
                for task_set_id in gone:
                    self._stop(task_set_id, now)
                self._reconcile_alarm(watched, now)
            self._finish_drains(elb_backend, now)

    def _production_groups(self, elb_backend: Any, watched: WatchedService) -> dict[str, int]:
        """Target group -> share of production (percent)."""
        if not watched.production_rule_arn:
            return self._unconfigured_production(elb_backend, watched)
        try:
            actions = backend_actions(elb_backend, watched.production_rule_arn)  # rule or listener
        except Exception:  # noqa: BLE001 - moto's not-found errors: the route was deleted or mistyped
            return {}
        if not any(action.get("Type") == "forward" for action in actions):
            return {}  # A fixed response (nothing live yet)
        weights = rules.forward_weights(actions)
        total = sum(weights.values()) or 1
        return {group: round(100 * weight / total) for group, weight in weights.items()}

    def _unconfigured_production(self, elb_backend: Any, watched: WatchedService) -> dict[str, int]:
        """A service without a configuration document: every route forwarding to one of its task sets' target
        groups carries production traffic (a group's share is its largest share of any such route)."""
        service = ecs_backends[self.account][self.region].services.get(f"{watched.cluster}:{watched.service}")
        groups = {
            (task_set.load_balancers or [{}])[0].get("targetGroupArn")
            for task_set in (service.task_sets if service else [])
        } - {None}
        shares: dict[str, int] = {}
        for balancer in list(elb_backend.load_balancers.values()):
            for listener in list(balancer.listeners.values()):
                for rule in list(listener.rules.values()):
                    actions = [a.data if hasattr(a, "data") else a for a in rule.actions]
                    if not any(action.get("Type") == "forward" for action in actions):
                        continue
                    weights = rules.forward_weights(actions)
                    if not groups & set(weights):
                        continue
                    total = sum(weights.values()) or 1
                    for group, weight in weights.items():
                        shares[group] = max(shares.get(group, 0), round(100 * weight / total))
        return {group: share for group, share in shares.items() if group in groups}

    def _launch(self, ecs_backend: Any, task_set: Any, state: _TaskSetState, when: datetime) -> _SimTask:
        cluster = ecs_backend.clusters[task_set.cluster.split("/")[-1]]
        definition = ecs_backend.describe_task_definition(task_set.task_definition)
        task = Task(
            cluster,
            definition,
            None,
            None,
            ecs_backend,
            group=f"service:{task_set.service.split('/')[-1]}",
            launch_type=task_set.launch_type or "FARGATE",
            started_by=task_set.id,
            networking_configuration=task_set.network_configuration,
            platform_version=task_set.platform_version,
        )
        task._transitions = []  # the data plane moves it (moto would jump it to STOPPED on the next read)
        ip = self._next_ip()
        subnet, zone = self._place(task_set, state)
        for attachment in task.attachments:
            for detail in attachment["details"]:
                if detail["name"] == "privateIPv4Address":
                    detail["value"] = ip
                if detail["name"] == "subnetId" and subnet:
                    detail["value"] = subnet
        # moto gap: moto's Task has no Availability Zone (DescribeTasks ``availabilityZone``); moto serialises the
        # attribute when it is set, so the data plane sets it from the subnet the task was placed in.
        task.availability_zone = zone
        task.last_status = "PROVISIONING"
        task.desired_status = "RUNNING"
        task.started_at = None
        ecs_backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        sim = _SimTask(task=task, ip=ip, launched=when, zone=zone)
        state.tasks.append(sim)
        return sim

    # --- Availability Zones --------------------------------------------------------------
    def _place(self, task_set: Any, state: _TaskSetState) -> tuple[str | None, str | None]:
        """(subnet, zone) for a new task: ECS spreads a task set's tasks across the zones of its subnets,
        skipping zones where it cannot place tasks (``zones_out``)."""
        subnets = ((task_set.network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
        ec2 = ec2_backends[self.account][self.region]
        zoned = [(subnet, ec2.get_subnet(subnet).availability_zone) for subnet in subnets]
        usable = [(subnet, zone) for subnet, zone in zoned if zone not in self.zones_out] or zoned
        if not usable:
            return None, None
        counts = {zone: sum(1 for t in state.tasks if t.zone == zone) for _, zone in usable}
        return min(usable, key=lambda pair: (counts[pair[1]], pair[1]))

    def zone_out_of_capacity(self, zone: str, out: bool = True) -> None:
        """ECS can place no new task in ``zone`` (or can again): new tasks go to the task set's other zones."""
        with self._lock:
            (self.zones_out.add if out else self.zones_out.discard)(zone)
            self.events.append((self.clock.elapsed, f"zone {zone} {'out of' if out else 'back to'} capacity"))

    def zone_of(self, target_group: str, ip: str) -> str | None:
        target = self.targets.get((target_group, ip))
        return target.zone if target else None

    def _cross_zone(self, elb_backend: Any, balancer: Any, group_arn: str) -> bool:
        group = elb_backend.target_groups.get(group_arn)
        value = (group.attributes if group else {}).get("load_balancing.cross_zone.enabled")
        if value in (None, "use_load_balancer_configuration"):
            # An ALB's cross-zone is always on at the load balancer level; an NLB's is off by default.
            value = (
                "true" if balancer.type == "application" else balancer.attrs.get("load_balancing.cross_zone.enabled")
            )
        return str(value).lower() == "true"

    def _healthy_by_zone(self, group_arn: str) -> dict[str, list[str]]:
        zones: dict[str, list[str]] = {}
        for (group, ip), target in list(self.targets.items()):
            if group == group_arn and self.state_of(group, ip)[0] == "healthy":
                zones.setdefault(target.zone or "", []).append(ip)
        return zones

    def dns_zones(self, balancer_arn: str) -> set[str]:
        """The zones whose load balancer node is in DNS, as ELB decides for a Network Load Balancer.

        A zone stays in DNS while every target group of the load balancer has a healthy target it can reach
        from that zone (in the zone, or anywhere with cross-zone on). A group with no healthy target at all
        fails open (it constrains nothing); when no zone qualifies, every zone is returned (fail open).
        """
        with self._lock:
            backend = elbv2_backends[self.account][self.region]
            balancer = backend.load_balancers[balancer_arn]
            enabled = {zone.zone_name for zone in balancer.availability_zones}
            kept = set(enabled)
            for group_arn in self._groups_of(balancer):
                healthy = self._healthy_by_zone(group_arn)
                if not healthy:
                    continue  # fail open: every target of the group gets traffic, healthy or not
                if not self._cross_zone(backend, balancer, group_arn):
                    kept &= set(healthy)
            return kept or enabled

    def forwards_to(self, balancer_arn: str, zone: str, group_arn: str) -> list[str]:
        """The targets the load balancer node in ``zone`` sends ``group_arn``'s share of traffic to.

        Healthy targets in its zone (cross-zone off) or anywhere (on); every registered target when the group
        has no healthy target anywhere (fail open); none when cross-zone is off and only other zones have some.
        """
        with self._lock:
            backend = elbv2_backends[self.account][self.region]
            healthy = self._healthy_by_zone(group_arn)
            if not healthy:
                return sorted(ip for group, ip in self.targets if group == group_arn)
            if self._cross_zone(backend, backend.load_balancers[balancer_arn], group_arn):
                return sorted(ip for ips in healthy.values() for ip in ips)
            return sorted(healthy.get(zone, []))

    @staticmethod
    def _groups_of(balancer: Any) -> set[str]:
        groups: set[str] = set()
        for listener in balancer.listeners.values():
            for rule in listener.rules.values():
                for action in [a.data if hasattr(a, "data") else a for a in rule.actions]:
                    if action.get("Type") != "forward":
                        continue
                    if action.get("TargetGroupArn"):
                        groups.add(action["TargetGroupArn"])
                    for group in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
                        groups.add(group["TargetGroupArn"])
        return groups

    def _reconcile_task_set(self, ecs_backend, elb_backend, service, task_set, watched, production, now) -> None:  # noqa: ANN001, PLR0913
        state = self._task_sets.get(task_set.id)
        target_group = (task_set.load_balancers or [{}])[0].get("targetGroupArn")
        if state is None:
            state = self._task_sets[task_set.id] = _TaskSetState(created=now, target_group=target_group)
        state.target_group = target_group
        state.service = f"{watched.cluster}:{watched.service}"
        scale = float((task_set.scale or {}).get("value", 100.0))
        desired = math.ceil(service.desired_count * scale / 100)
        chosen = self._behaviour_of(ecs_backend, task_set.task_definition)
        behaviour = chosen.plane_name
        load_balancer = (task_set.load_balancers or [{}])[0]
        port = int(load_balancer.get("containerPort") or watched.port or 80)
        # Scale in: ECS stops the newest tasks first.
        while len(state.tasks) > desired:
            self._stop_task(
                state, state.tasks[-1], SCALE_IN_REASON.format(task_set.id), now, "ServiceSchedulerInitiated"
            )
        # Scale out, first start, replacements: the scheduler launches the missing tasks.
        while len(state.tasks) < desired:
            self._launch(ecs_backend, task_set, state, state.created if state.long_running else now)
        state.long_running = False  # a seeded task set started long ago; later tasks start now
        for sim in list(state.tasks):
            started_at = sim.launched + timedelta(seconds=self.timing.task_start)
            if not sim.running and now >= started_at:
                sim.running = True
                sim.task.last_status = "RUNNING"
                sim.task.started_at = started_at
                if target_group:
                    elb_backend.register_targets(target_group, [{"Id": sim.ip, "Port": port}])
                    self.targets[(target_group, sim.ip)] = _Target(
                        registered=started_at, behaviour=behaviour, zone=sim.zone
                    )
            elif not sim.running:
                sim.task.last_status = "PENDING"
            if (
                sim.running
                and behaviour == CRASHLOOP
                and now >= started_at + timedelta(seconds=chosen.crashAfterSeconds)
            ):
                self._stop_task(state, sim, CRASH_REASON, now, "EssentialContainerExited")
        while len(state.tasks) < desired:  # crashed tasks are replaced at once (they start after task_start)
            self._launch(ecs_backend, task_set, state, now)
        running = sum(1 for sim in state.tasks if sim.running)
        healthy = sum(1 for ip in state.ips if target_group and self.state_of(target_group, ip)[0] == "healthy")
        task_set.computedDesiredCount = desired
        task_set.runningCount = running
        task_set.pendingCount = len(state.tasks) - running
        stability = "STEADY_STATE" if running == desired and healthy == desired else "STABILIZING"
        if task_set.stabilityStatus != stability:
            task_set.stabilityStatus = stability
            task_set.stabilityStatusAt = now
        # An "alarm" image breaks once it serves at least ``alarm_min_weight`` percent of production.
        receives = production.get(target_group, 0) >= max(1, self.alarm_min_weight)
        state.production_since = (state.production_since or now) if receives else None
        task_set.bluegreen_behaviour = behaviour
        task_set.bluegreen_error_share = chosen.errorShare if chosen.kind == "errors" else FAILING_5XX_SHARE

    def _reconcile_rolling(self, elb_backend: Any, service: Any, watched: WatchedService, now: datetime) -> None:
        """A service on the ECS (rolling) or CODE_DEPLOY controller runs its own tasks behind the
        service's target group; scaling it down (or deleting it) drains them."""
        key = rolling_key(watched.cluster, watched.service)
        target_group = (service.load_balancers or [{}])[0].get("targetGroupArn")
        state = self._task_sets.get(key)
        if state is None:
            state = self._task_sets[key] = _TaskSetState(created=now, target_group=target_group)
        state.target_group = target_group
        state.service = f"{watched.cluster}:{watched.service}"
        ips = self._rolling_ips.setdefault(key, [])
        desired = service.desired_count if service.status == "ACTIVE" else 0
        started = state.long_running or (now - state.created).total_seconds() >= self.timing.task_start
        if started and target_group and len(ips) < desired:
            new_ips = [self._next_ip() for _ in range(desired - len(ips))]
            port = int((service.load_balancers or [{}])[0].get("containerPort") or watched.port or 80)
            elb_backend.register_targets(target_group, [{"Id": ip, "Port": port} for ip in new_ips])
            registered = state.created if state.long_running else now
            for ip in new_ips:
                self.targets[(target_group, ip)] = _Target(registered=registered, behaviour=HEALTHY)
            ips.extend(new_ips)
        while len(ips) > desired:
            self._drain(target_group, ips.pop(), now)
        service.running_count = len(ips)
        service.pending_count = max(0, desired - len(ips))

    def _stop_task(self, state: _TaskSetState, sim: _SimTask, reason: str, now: datetime, code: str) -> None:
        """ECS stops a task: its target drains for the target group's deregistration delay."""
        state.tasks.remove(sim)
        state.stopped.append(sim)
        task = sim.task
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = code
        task.stopped_at = now
        if sim.running and state.target_group:
            self._drain(state.target_group, sim.ip, now)
        sim.running = False

    def deregistration_delay(self, target_group: str | None) -> float:
        """The target group's deregistration delay (how long its stopped tasks' targets drain), 300 s by default."""
        group = elbv2_backends[self.account][self.region].target_groups.get(target_group) if target_group else None
        return float((group.attributes if group else {}).get("deregistration_delay.timeout_seconds", 300))

    def _drain(self, target_group: str, ip: str, now: datetime) -> None:
        target = self.targets.get((target_group, ip))
        if target is None or target.draining_until is not None:
            return
        target.draining_until = now + timedelta(seconds=self.deregistration_delay(target_group))

    def _finish_drains(self, elb_backend: Any, now: datetime) -> None:
        for (group_arn, ip), target in list(self.targets.items()):
            if target.draining_until is None or now < target.draining_until:
                continue
            group = elb_backend.target_groups.get(group_arn)
            if group is not None and ip in group.targets:
                elb_backend.deregister_targets(group_arn, [{"Id": ip}])
            del self.targets[(group_arn, ip)]

    def _stop(self, task_set_id: str, now: datetime) -> None:
        """A deleted task set: ECS stops its tasks; their targets drain."""
        state = self._task_sets.pop(task_set_id)
        for sim in list(state.tasks):
            self._stop_task(state, sim, SCALE_IN_REASON.format(task_set_id), now, "ServiceSchedulerInitiated")

    # --- data-plane events (tests and the chaos suite) -------------------------------------
    def _state(self, task_set_id: str) -> _TaskSetState:
        return self._task_sets[task_set_id]

    def crash_task(
        self, task_set_id: str, index: int = 0, reason: str = CRASH_REASON, zone: str | None = None
    ) -> str | None:
        """A running task of the task set (in ``zone`` if given) exits; ECS replaces it (new address,
        placed like any new task) and its target drains."""
        with self._lock:
            state = self._state(task_set_id)
            running = [sim for sim in state.tasks if sim.running] or state.tasks
            if zone is not None:
                running = [sim for sim in running if sim.zone == zone]
            if not running:
                return None
            sim = running[index % len(running)]
            self._stop_task(state, sim, reason, self.clock.now(), "EssentialContainerExited")
            self.events.append((self.clock.elapsed, f"task {sim.ip} of {task_set_id} stopped: {reason}"))
        self.reconcile()
        return sim.ip

    def flap(self, task_set_id: str, seconds: float = 30.0, index: int = 0) -> str | None:
        """One target of the task set fails its health checks for a while, then recovers."""
        with self._lock:
            state = self._state(task_set_id)
            if not state.ips:
                return None
            ip = state.ips[index % len(state.ips)]
            target = self.targets[(state.target_group, ip)]
            target.flapping_until = self.clock.now() + timedelta(seconds=seconds)
            self.events.append((self.clock.elapsed, f"target {ip} of {task_set_id} flaps for {seconds}s"))
        self.reconcile()
        return ip

    def set_deregistration_delay(self, target_group: str, seconds: int) -> None:
        """A slow drain: the target group keeps deregistered targets longer."""
        with self._lock:
            group = elbv2_backends[self.account][self.region].target_groups[target_group]
            group.attributes["deregistration_delay.timeout_seconds"] = seconds
            self.events.append((self.clock.elapsed, f"deregistration delay of {target_group} set to {seconds}s"))

    def scale_service(self, cluster: str, service: str, desired: int) -> None:
        """Service auto scaling changes the desired count; every task set follows by its percent."""
        with self._lock:
            ecs_backends[self.account][self.region].services[f"{cluster}:{service}"].desired_count = desired
            self.events.append((self.clock.elapsed, f"{service} scaled to {desired}"))
        self.reconcile()

    def task_set_of_group(self, service: str, target_group: str) -> str | None:
        with self._lock:
            return next(
                (
                    i
                    for i, st in self._task_sets.items()
                    if st.service.endswith(f":{service}") and st.target_group == target_group
                ),
                None,
            )

    def _reconcile_alarm(self, watched: WatchedService, now: datetime) -> None:
        """ALB metrics from the simulated traffic and CloudWatch alarms evaluated over them (see metrics.py)."""
        # moto never evaluates an alarm (nor publishes ALB metrics): metrics.py does, in simulated time.
        if "metrics" not in self.__dict__:
            self.metrics = AlbMetrics(self)
        self.metrics.force_pending()
        self.metrics.tick()
