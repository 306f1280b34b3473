"""The workflow's notion of "now".

Deadlines (health wait, bake) are computed from this clock. In AWS it is the
system clock; the local emulator replaces it with a simulated clock so waits of
minutes run in milliseconds.
"""

from __future__ import annotations

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
