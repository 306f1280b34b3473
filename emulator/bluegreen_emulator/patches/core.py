"""The Patcher (replace, then restore exactly) and the botocore call wrapper every API call passes through."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient

_MISSING = object()


class Patcher:
    """Replaces attributes and puts the originals back, last replaced first restored."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, value: Any, missing: bool = False) -> Any:
        """Set ``owner.name`` to ``value``; returns the original (``missing``: moto lacks it, it is added)."""
        original = getattr(owner, name, _MISSING) if missing else getattr(owner, name)
        saved = original
        if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod | staticmethod):
            saved = owner.__dict__[name]  # restored as the descriptor (getattr hands back a bound method)
        self._saved.append((owner, name, saved))
        setattr(owner, name, value)
        return original

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


ApiCallWrapper = Callable[[Callable[..., Any], Any, str, dict[str, Any]], Any]


def wrap_api_calls(patcher: Patcher, wrapper: ApiCallWrapper) -> None:
    """Every botocore API call goes through ``wrapper(original, client, operation_name, api_params)``."""
    # moto gap: moto keeps no record of who called which API (AWS has CloudTrail); the emulator
    # records each handler's calls, and injects faults, around botocore's single call path.
    original_call = BaseClient._make_api_call

    def make_api_call(self, operation_name, api_params):  # noqa: ANN001 - botocore's signature
        return wrapper(original_call, self, operation_name, api_params)

    patcher.replace(BaseClient, "_make_api_call", make_api_call)


_LOCK = threading.Lock()
