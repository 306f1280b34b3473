"""The moto version these patches are written for, checked before any of moto's internals is imported."""

from __future__ import annotations

import importlib.metadata

MOTO_VERSION = "5.2.5"


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the emulator's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    """Raise :class:`MotoVersionError` unless moto :data:`MOTO_VERSION` is installed."""
    if installed is None:
        try:
            installed = importlib.metadata.version("moto")
        except importlib.metadata.PackageNotFoundError:
            installed = "none"
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the bluegreen emulator patches moto {MOTO_VERSION} but moto {installed} is installed; "
            f"install the pinned one: pip install 'ecs-bluegreen[local]' (moto=={MOTO_VERSION})"
        )
