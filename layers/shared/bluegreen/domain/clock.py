"""The workflow's notion of "now".

Deadlines (health wait, bake) are computed from this clock. In AWS it is the
system clock; the local emulator replaces it with a simulated clock so waits of
minutes run in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Use another time source (``None`` restores the system clock)."""
    global _source
    _source = source or _system_now


_sleeper: Callable[[float], None] = time.sleep


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a short, bounded pause inside one invocation; the emulator advances its clock)."""
    _sleeper(seconds)


def set_sleeper(sleeper: Callable[[float], None] | None) -> None:
    """Use another way to wait (``None`` restores ``time.sleep``)."""
    global _sleeper
    _sleeper = sleeper or time.sleep
