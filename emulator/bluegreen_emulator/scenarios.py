"""The demo scenarios of ``bluegreen local demo`` (plain data: no moto, so ``bluegreen --help`` lists them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    tag: str
    expected_outcome: str
    description: str
    click: tuple[str, str] | None = None  # (gate kind, button) the operator clicks in Slack; else auto-approve
    config: dict[str, Any] | None = None
    alarm_min_weight: int = 1  # the v2-5xx image fails once it serves this share of production
    seed: dict[str, Any] | None = None  # How the service is seeded (e.g. empty, no task set)
    layout: str = "rules"  # How the service's routes are set up (see local/seed.py LAYOUTS)
    release: dict[str, Any] | None = None  # The release in place of imageTag (images, overrides...)
    sidecar: bool = False  # seed the service with a sidecar (its own repository, env vars, a secret)
    stop_at: str | None = None  # The operator stops the execution (StopExecution) at this gate
    to_previous: bool = False  # Once deployed, `bluegreen rollback --to-previous` restores v1
    zones_out: tuple[str, ...] = ()  # Once seeded, ECS can place no new task in these zones
    user_hook: bool = False  # create USER_HOOK_ARN from local/example_hook.py (a zip, through the Lambda API) first
    own_service: bool = False  # nothing seeded: the service is built through the API (local/own_service.py)
    alarm_events_lost: bool = False  # the alarm rule is disabled: no alarm state-change event is delivered
    lose_end_event: bool = False  # the execution's end event never reaches ExecutionEnded: the reconciler repairs
    rehearsal: bool = False  # the service is snapshotted in another emulator, and the release runs on the file


# An environment variable, the task memory and the sidecar's image change in one release.
CONFIG_CHANGE = {
    "taskDefinitionOverrides": {
        "memory": "1024",
        "containers": {
            "web": {"environment": {"FEATURE_CHECKOUT": "on"}},
            "log-router": {"image": "1.1"},
        },
    }
}


# The emulator's demo hook Lambda (ECS lifecycle-hook contract, see local/hook_lambdas.py).
DEMO_HOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-demo"


def _smoke(behaviour: str) -> dict[str, Any]:
    details = {"behaviour": behaviour}
    return {"name": "smoke", "functionArn": DEMO_HOOK_ARN, "timeoutSeconds": 300, "hookDetails": details}


# A hook Lambda a user wrote (local/example_hook.py), created as a zip by the demo: it runs in its own process.
USER_HOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bluegreen-hook-user-example"


def _probe(path: str = "/checkout", **settings: Any) -> dict[str, Any]:
    """An HTTP probe hook (the emulator's load balancers answer real HTTP on 127.0.0.1)."""
    return {"type": "http", "name": f"GET {path}", "path": path, "requests": 5, **settings}


SCENARIOS = {
    "happy": Scenario("v2", "deployed", "v1 -> v2: green turns healthy, production swaps, bake passes, blue deleted"),
    "unhealthy": Scenario(
        "v2-broken", "cleaned_up", "v2-broken never passes health checks: green deleted, production untouched"
    ),
    "alarm": Scenario("v2-5xx", "rolled_back", "v2-5xx fires the 5xx alarm during the bake: rules restored, blue back"),
    "reject": Scenario(
        "v2",
        "cleaned_up",
        "someone clicks Reject in Slack: green deleted, production untouched",
        ("approval", "reject"),
    ),
    "manual-rollback": Scenario(
        "v2",
        "rolled_back",
        "someone clicks Roll back in Slack during the bake: rules restored, blue back",
        ("bake", "rollback"),
        {"bakeSeconds": 3600},
    ),
    "canary": Scenario(
        "v2",
        "deployed",
        "canary: 10% of production on v2 for 5 minutes, then 100%, bake, blue deleted",
        config={"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}},
    ),
    "crash-loop": Scenario(
        "v2-crash",
        "cleaned_up",
        "v2-crash exits 10 s after every start: the crash-loop breaker stops it, green deleted, production untouched",
    ),
    "linear-alarm": Scenario(
        "v2-5xx",
        "rolled_back",
        "linear: +20% every 2 minutes; v2-5xx fails from 40%: rolled back from the partial weight in one call",
        config={"trafficShift": {"type": "LINEAR", "percent": 20, "intervalSeconds": 120}},
        alarm_min_weight=40,
    ),
    "first-deploy": Scenario(
        "v2",
        "deployed",
        "first deployment: an empty EXTERNAL service (production answers 503) gets its first task set from the "
        "configured network; production points at it once it is healthy",
        seed={"first_task_set": False, "production_action": "fixed-response"},
    ),
    "config-change": Scenario(
        "config-change",
        "deployed",
        "one release changes an env var, the task memory and the sidecar's image: plan shown, approved, deployed",
        release=CONFIG_CHANGE,
        sidecar=True,
    ),
    "smoke-fail": Scenario(
        "v2-5xx",
        "cleaned_up",
        "an HTTP probe of GET /checkout through the test route gets 500 from green before approval: cleaned up, "
        "nobody asked, production untouched",
        config={"hooks": {"afterGreenHealthy": [_probe()]}},
    ),
    "probe-pass": Scenario(
        "v2",
        "deployed",
        "HTTP probes pass: green through the test route (auto-approved), then production before blue is deleted "
        "(beforeDeleteOld, body must name v2)",
        config={
            "hooks": {
                "afterGreenHealthy": [_probe(maxLatencyMs=500)],
                "beforeDeleteOld": [_probe("/", bodyPattern=r"\bv2\b", requests=10)],
            },
            "approval": {"autoApproveWhenHooksPass": True},
        },
    ),
    "analysis-rollback": Scenario(
        "v2-5xx-rising",
        "rolled_back",
        "canary 10% with no alarm configured: green's 5xx rate rises, the built-in analysis (green vs blue) fails "
        "it and production is restored from the partial weight in one call",
        config={
            "alarmNames": [],
            "trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 600},
            "analysis": {"minRequests": 50},
        },
    ),
    "analysis-slow-tail": Scenario(
        "v2-slow-tail",
        "rolled_back",
        "canary 10%, no alarm: green's mean response time is better than blue's but its slowest 7% take 400 ms; the "
        "analysis judges the p95, fails the canary step and names the percentile, both values and the limit",
        config={
            "alarmNames": [],
            "trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 600},
            "analysis": {"minRequests": 50, "responseTime": {"maxSeconds": 0.05, "maxRatioToBlue": 1.5}},
        },
    ),
    # An alarm whose EventBridge event is lost: the end of the bake (or step) reads the alarms again
    "alarm-event-lost": Scenario(
        "v2-5xx",
        "rolled_back",
        "the alarm rule is disabled (its events are lost); v2-5xx's 5xx alarm goes to ALARM in the bake and nobody "
        "is told, but the bake's end reads the alarms, finds it in ALARM and rolls back: blue back, green deleted",
        alarm_events_lost=True,
    ),
    "canary-alarm-event-lost": Scenario(
        "v2-5xx",
        "rolled_back",
        "canary 10% for 5 minutes with the alarm rule disabled: v2-5xx's alarm fires at 10% and no event arrives; "
        "the step's end finds it in ALARM and restores 100% blue in one call instead of shifting to 100%",
        config={"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}},
        alarm_min_weight=10,
        alarm_events_lost=True,
    ),
    "hooks-long": Scenario(
        "v2",
        "deployed",
        "three ten-minute smoke hooks before approval (half an hour, twice RunHooks' 900 s timeout): each runs in "
        "its own invocation, none is re-run, no timeout",
        config={
            "hooks": {
                "afterGreenHealthy": [{**_smoke("long"), "name": f"suite-{n}", "timeoutSeconds": 840} for n in range(3)]
            }
        },
    ),
    "hooks-pass-auto-approve": Scenario(
        "v2",
        "deployed",
        "the smoke hook answers IN_PROGRESS twice then SUCCEEDED; autoApproveWhenHooksPass skips the approval",
        config={
            "hooks": {"afterGreenHealthy": [_smoke("slow")], "afterCutover": [_smoke("pass")]},
            "approval": {"autoApproveWhenHooksPass": True},
        },
    ),
    "user-hook": Scenario(
        "v2",
        "deployed",
        "a hook Lambda written to the ECS contract, created as a Python zip through the Lambda API, runs in its own "
        "process: IN_PROGRESS twice (callBackDelay 15 s), then SUCCEEDED; approved, swapped, blue deleted",
        config={"hooks": {"afterGreenHealthy": [{"name": "user-smoke", "functionArn": USER_HOOK_ARN}]}},
        user_hook=True,
    ),
    "stopped": Scenario(
        "v2",
        "aborted",
        "someone stops the execution during the bake (no Catch runs): the execution-ended path restores the rules, "
        "blue back, green deleted, lock released",
        config={"bakeSeconds": 3600},
        stop_at="bake",
    ),
    "lost-end-event": Scenario(
        "v2",
        "aborted",
        "someone stops the execution during the bake and its end event is lost: lock, green and moved rules stay "
        "until the reconciler's next run restores the rules, deletes green and releases the lock",
        config={"bakeSeconds": 3600},
        stop_at="bake",
        lose_end_event=True,
    ),
    "rollback-to-previous": Scenario(
        "v2",
        "deployed",
        "v1 -> v2 deployed and finished, then `bluegreen rollback --to-previous`: v1's digest back with one swap, "
        "no approval",
        to_previous=True,
    ),
    # --- routes ---
    "listener-ports": Scenario(
        "v2",
        "deployed",
        "CodeDeploy layout: production listener :80 and test listener :8080 moved with ModifyListener, blue deleted",
        layout="listener-ports",
    ),
    "listener-ports-alarm": Scenario(
        "v2-5xx",
        "rolled_back",
        "CodeDeploy layout, v2-5xx fires the alarm in the bake: both listeners' default actions restored",
        layout="listener-ports",
    ),
    "nlb": Scenario(
        "v2",
        "deployed",
        "Network Load Balancer, TCP listeners :80 and :8080: canary 10% for 5 minutes, then 100%, blue deleted",
        config={"trafficShift": {"type": "CANARY", "percent": 10, "intervalSeconds": 300}},
        layout="nlb",
    ),
    "nlb-alarm": Scenario(
        "v2-5xx",
        "rolled_back",
        "Network Load Balancer, v2-5xx fires the alarm in the bake: listeners restored, blue back",
        layout="nlb",
    ),
    "nlb-one-zone": Scenario(
        "v2",
        "cleaned_up",
        "Network Load Balancer (cross-zone off), ECS can place tasks only in us-east-1a: green is healthy there "
        "but not where blue also serves (us-east-1b), so no switch; timed out, green deleted, production untouched",
        config={"healthWaitTimeoutSeconds": 120},
        layout="nlb",
        zones_out=("us-east-1b",),
    ),
    "own-service": Scenario(
        "v2",
        "deployed",
        "a service built through the API only (VPC, ALB, rules, target groups, ECR, task definition, EXTERNAL "
        "service, create-task-set, SSM configuration), nothing seeded: v1 -> v2 approved, deployed",
        own_service=True,
    ),
    "rehearsal": Scenario(
        "v2",
        "deployed",
        "rehearsal: the service of account 210987654321 is snapshotted (describe calls only), a second emulator "
        "starts from the file alone with the same ARNs, and v1 -> v2 is released on it",
        layout="several-rules",
        sidecar=True,
        rehearsal=True,
    ),
}
