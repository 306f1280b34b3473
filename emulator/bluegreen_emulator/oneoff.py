"""One-off ECS tasks (the ``ecsTask`` hooks) run and exit in simulated time.

moto creates a RunTask task RUNNING and, on each DescribeTasks, walks it towards STOPPED with exit code 0,
whatever it runs (a task would "pass" after four polls). Here a task started by a hook
(``startedBy=bluegreen-hook``) runs :data:`RUN_SECONDS` simulated seconds and then stops with the exit code its
command names: ``--exit=N`` (default 0); a command containing ``--hang`` never exits (the hook's timeout stops
it). StopTask stops it at once (moto's own StopTask).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.ecs.models import ecs_backends

from bluegreen.aws.hook_calls import HOOK_STARTED_BY

from .patches import Patcher, hold_one_off_tasks
from .simclock import SimClock

RUN_SECONDS = 45.0


def exit_code(command: list[str]) -> int | None:
    """The exit code a demo one-off task's command asks for (``None``: it never exits)."""
    if "--hang" in command:
        return None
    code = next((item.split("=", 1)[1] for item in command if item.startswith("--exit=")), "0")
    return int(code) if code.lstrip("-").isdigit() else 1


class OneOffTasks:
    def __init__(self, clock: SimClock, account: str, region: str) -> None:
        self.clock = clock
        self.account, self.region = account, region
        self.started: dict[str, float] = {}  # task ARN -> simulated seconds when first seen
        self._lock = threading.Lock()
        self._previous = 0.0  # the clock at the last tick: a task first seen now was started since then

    def install(self) -> None:
        self._patcher = Patcher()
        hold_one_off_tasks(self._patcher, self.controlled)
        self.clock.listeners.append(self.tick)

    def uninstall(self) -> None:
        if self.tick in self.clock.listeners:
            self.clock.listeners.remove(self.tick)
        self._patcher.restore()

    @staticmethod
    def controlled(task: Any) -> bool:
        return getattr(task, "started_by", "") == HOOK_STARTED_BY

    def tick(self) -> None:
        now = self.clock.elapsed
        backend = ecs_backends[self.account][self.region]
        with self._lock:
            for tasks in backend.tasks.values():
                for arn, task in tasks.items():
                    if not self.controlled(task) or task.last_status == "STOPPED":
                        continue
                    started = self.started.setdefault(arn, self._previous)
                    overrides = (task.overrides or {}).get("containerOverrides") or [{}]
                    code = exit_code(list(overrides[0].get("command") or []))
                    if code is None or now - started < RUN_SECONDS:
                        continue
                    for container in task.containers:
                        container.exitCode = code
                        container.last_status = "STOPPED"
                    task.last_status = "STOPPED"
                    task.desired_status = "STOPPED"
                    task.stopped_reason = "Essential container in task exited"
            self._previous = now
