"""``bluegreen local serve``'s clock: behind the wall clock, moving with real time, never ahead of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bluegreen_emulator import simclock
from bluegreen_emulator.simclock import CLOCK_LAG, SimClock, serve_clock


class _RealTime:
    """Stands in for ``time`` in simclock: sleeping moves a fake wall clock."""

    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.wall += timedelta(seconds=seconds)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(__import__("time"), name)


def test_a_step_beyond_the_ceiling_waits_for_it_in_real_time(monkeypatch):
    # Given a clock 60 s behind a (fake) wall clock, which is its ceiling
    real = _RealTime(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(simclock, "time", real)
    clock = SimClock(start=real.wall - timedelta(seconds=60), ceiling=lambda: real.wall)

    # When it advances 50 s (within the lead), then 30 s (20 s beyond the wall clock)
    clock.advance(50)
    within = real.slept
    clock.advance(30)

    # Then the first step takes no real time, the second waits the 20 s; the clock is never ahead of the wall
    assert within == 0
    assert real.slept == 20
    assert clock.now() <= real.wall


def test_serve_starts_its_clock_a_day_behind_the_wall_clock():
    clock = serve_clock()
    lag = datetime.now(UTC) - clock.now()
    assert CLOCK_LAG <= lag <= CLOCK_LAG + timedelta(minutes=1)
    assert clock.ceiling is not None
