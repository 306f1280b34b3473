"""Simulated time: Wait states and Retry intervals advance a clock instead of sleeping.

moto's Step Functions interpreter really sleeps for ``Wait`` states and between
retries. The emulator patches those places (:mod:`.patches`) so that a wait of N seconds moves
the simulated clock N seconds forward and returns at once; the workflow code
reads the same clock through :mod:`bluegreen.domain.clock`. A deployment that would take
twenty minutes runs in a second, with the same number of polls and transitions.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from bluegreen.domain import clock as workflow_clock

REAL_PAUSE = 0.001  # yield the CPU a little on every simulated wait
CALLBACK_MIN_STEP = 2.0  # simulated seconds per step while a task waits for its token...
CALLBACK_GROWTH = 0.05  # ...growing by 5% of the time already waited: a year is crossed in ~350 steps


class SimClock:
    """Simulated time. ``ceiling`` (``bluegreen local serve``: the wall clock) is a time the clock never passes:
    an advance that would pass it waits, in real time, for the ceiling to move on."""

    def __init__(self, start: datetime | None = None, ceiling: Callable[[], datetime] | None = None) -> None:
        # On a minute boundary, as CloudWatch's one-minute datapoints are (the emulator counts its metric
        # minutes from its start), so GetMetricData periods aligned on the minute find whole minutes.
        self._start = start or datetime.now(UTC).replace(second=0, microsecond=0)
        self._offset = 0.0
        self._lock = threading.Lock()
        self._released = threading.Condition()
        self._holds = 0
        self.ceiling = ceiling
        self.listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._offset)

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._offset

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Stop time while an outside actor (a click in Slack) is being processed."""
        with self._released:
            self._holds += 1
        try:
            yield
        finally:
            with self._released:
                self._holds -= 1
                self._released.notify_all()

    def advance_to(self, elapsed: float) -> None:
        """Move the clock to ``elapsed`` simulated seconds (never backwards)."""
        with self._lock:
            now = self._offset
        self.advance(max(0.0, elapsed - now))
        with self._lock:  # floating point: land exactly on the deadline
            self._offset = max(self._offset, elapsed)

    def advance(self, seconds: float) -> None:
        with self._released:
            self._released.wait_for(lambda: self._holds == 0)
        seconds = max(0.0, float(seconds))
        if self.ceiling is not None:
            # Never ahead of the ceiling: the part of the step beyond it takes real time.
            ahead = (self.now() + timedelta(seconds=seconds) - self.ceiling()).total_seconds()
            if ahead > 0:
                time.sleep(min(ahead, seconds))
        with self._lock:
            self._offset += seconds
        for listener in list(self.listeners):
            listener()


# ``bluegreen local serve``'s clock starts this far behind the wall clock and runs with real time. The waits
# compressed into seconds (Wait states, approvals at serve's pace) spend this lead; the clock never passes the wall
# clock (SimClock's ceiling): once the lead is spent, waits take real time. So every time the emulator shows
# (execution starts, task set creation, alarm history) is in the past or now.
CLOCK_LAG = timedelta(days=1)


def serve_clock(lag: timedelta = CLOCK_LAG) -> SimClock:
    """The clock of ``local serve``: ``lag`` behind the wall clock, never ahead of it."""
    start = (datetime.now(UTC) - lag).replace(second=0, microsecond=0)
    return SimClock(start=start, ceiling=lambda: datetime.now(UTC))


class _SleepShim:
    """Stands in for the ``time`` module inside moto's retrier."""

    def __init__(self, sim: SimClock) -> None:
        self._sim = sim

    def sleep(self, seconds: float) -> None:
        self._sim.advance(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


class _SimThreading:
    """Stands in for ``threading`` in moto's task timeout: timeouts count simulated seconds."""

    def __init__(self, sim: SimClock) -> None:
        clock = sim

        class Event(threading.Event):
            def wait(self, timeout: float | None = None) -> bool:
                if timeout is None:
                    return super().wait()
                deadline = clock.elapsed + timeout
                while not super().wait(0.002):
                    if clock.elapsed >= deadline:
                        return False
                return True

        self.Event = Event

    def __getattr__(self, name: str):
        return getattr(threading, name)


class RealTimeTicker:
    """Moves a clock on with real time (``bluegreen local serve``): what waits for simulated time (a new task set's
    consistency window, tasks starting, targets turning healthy, alarm periods) ends on its own, deployment or not."""

    def __init__(self, sim: SimClock, interval: float = 0.25) -> None:
        self.sim = sim
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="real-time-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            try:
                self.sim.advance(now - last)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop time
                logging.getLogger(__name__).exception("the real-time ticker's advance failed")
            last = now


def wait_for_callback(sim: SimClock, answered: threading.Event, timeout: float | None, pace: float | None) -> None:
    """Let simulated time pass while a ``waitForTaskToken`` task waits for ``answered`` (or its timeout)."""
    start = sim.elapsed
    deadline = None if timeout is None else start + timeout
    while True:
        waited = sim.elapsed - start
        if deadline is not None and sim.elapsed >= deadline:
            break
        step = max(CALLBACK_MIN_STEP, waited * CALLBACK_GROWTH)
        if sim.ceiling is not None:  # at the ceiling, steps take real time: keep them short, to see an answer soon
            headroom = (sim.ceiling() - sim.now()).total_seconds()
            step = max(CALLBACK_MIN_STEP, min(step, headroom))
        if deadline is not None and step >= deadline - sim.elapsed:
            pause = REAL_PAUSE if pace is None else max(REAL_PAUSE, (deadline - sim.elapsed) / pace)
            if answered.wait(pause):
                break
            sim.advance_to(deadline)
            continue
        # With a pace, simulated time runs at most ``pace`` times faster than real time,
        # so a person (or another process) has time to answer.
        pause = REAL_PAUSE if pace is None else max(REAL_PAUSE, step / pace)
        if answered.wait(pause):
            break
        sim.advance(step)


@contextlib.contextmanager
def compressed_time(sim: SimClock, pace: float | None = None) -> Iterator[SimClock]:
    """Patch moto's waits and the workflow clock for the duration of the block.

    * ``Wait`` states and ``Retry`` intervals advance the clock by their duration at once;
    * a ``waitForTaskToken`` task makes time pass while it waits (in steps of at least 1 s),
      so the data plane moves on (alarms fire) and its timeout arrives in simulated time.
    """
    from .patches import Patcher, simulate_time

    patcher = Patcher()
    simulate_time(
        patcher,
        advance=sim.advance,
        callback_wait=lambda answered, timeout: wait_for_callback(sim, answered, timeout, pace),
        sleep_module=_SleepShim(sim),
        threading_module=_SimThreading(sim),
    )
    workflow_clock.set_source(sim.now)
    workflow_clock.set_sleeper(sim.advance)
    try:
        yield sim
    finally:
        patcher.restore()
        workflow_clock.set_source(None)
        workflow_clock.set_sleeper(None)
