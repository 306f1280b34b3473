"""An ECS lifecycle hook as a user writes it: the ``user-hook`` demo zips this file and creates it with the
Lambda API, and the emulator runs it in its own process (see docs/emulator-lambda.md).

Written only from the ECS contract ("Lambda hooks for Amazon ECS service deployments", Amazon ECS developer
guide): the function returns ``hookStatus`` (SUCCEEDED, FAILED or IN_PROGRESS), optionally ``callBackDelay``
(seconds before ECS invokes it again, 30 by default) and ``hookDetails``, which the next invocation receives.
It imports only the standard library, and nothing of the emulator.
"""

import os


def handler(event, context):  # noqa: ANN001, ANN201 - a user's function, as Lambda calls it
    details = event.get("hookDetails") or {}
    checks = int(details.get("checks", 0)) + 1
    wanted = int(os.environ.get("CHECKS", "3"))
    print(f"{event.get('lifecycleStage')}: check {checks} of {wanted} on {context.function_name}")  # noqa: T201 - its log
    if checks < wanted:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 15, "hookDetails": {**details, "checks": checks}}
    revision = (event.get("executionDetails") or {}).get("targetServiceRevisionArn")
    return {"hookStatus": "SUCCEEDED", "hookDetails": {"checks": checks, "revision": revision}}
