"""The emulator's demo hook Lambda, speaking the ECS lifecycle-hook contract.

Deployed as ``bluegreen-hook-demo`` (inside the stack's default ``HookFunctionNamePattern``). What it
answers is chosen by the hook's ``hookDetails.behaviour`` in the service configuration:

* ``pass`` / ``fail``: SUCCEEDED / FAILED at once;
* ``slow``: IN_PROGRESS (callBackDelay 20 s) twice, then SUCCEEDED — the count travels in hookDetails,
  as an ECS hook keeps state between invocations;
* ``never``: IN_PROGRESS forever (the hook's timeout ends it);
* ``long``: IN_PROGRESS (callBackDelay 60 s) ``rounds`` times (hookDetails, default 10), then SUCCEEDED -- a hook
  of about ten minutes, so a stage of several outlasts one RunHooks invocation;
* ``garbage``: a response without a valid hookStatus; ``error``: the function raises.
"""

from __future__ import annotations

from typing import Any

DEMO_HOOK = "bluegreen-hook-demo"
BEHAVIOURS = ("pass", "fail", "slow", "never", "long", "garbage", "error")


class DemoHookError(Exception):
    """What the ``error`` behaviour raises (a Lambda function error)."""


def demo_hook(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    details = dict(event.get("hookDetails") or {})
    behaviour = details.get("behaviour", "pass")
    seen = {
        "stage": event.get("lifecycleStage"),
        "revision": (event.get("executionDetails") or {}).get("targetServiceRevisionArn"),
    }
    if behaviour == "pass":
        return {"hookStatus": "SUCCEEDED", "hookDetails": seen}
    if behaviour == "fail":
        return {"hookStatus": "FAILED", "hookDetails": {**seen, "reason": "smoke test: GET /checkout returned 500"}}
    if behaviour == "slow":
        polls = int(details.get("polls", 0)) + 1
        if polls > 2:
            return {"hookStatus": "SUCCEEDED", "hookDetails": {**seen, "polls": polls}}
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 20, "hookDetails": {**details, "polls": polls}}
    if behaviour == "long":
        polls = int(details.get("polls", 0)) + 1
        if polls > int(details.get("rounds", 10)):
            return {"hookStatus": "SUCCEEDED", "hookDetails": {**seen, "polls": polls}}
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 60, "hookDetails": {**details, "polls": polls}}
    if behaviour == "never":
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 30}
    if behaviour == "garbage":
        return {"status": "ok", "message": "all good"}
    raise DemoHookError(f"demo hook crashed (behaviour {behaviour!r})")
