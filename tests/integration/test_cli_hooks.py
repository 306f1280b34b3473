"""Hook results in the Slack thread, ``bluegreen status`` and ``bluegreen history``."""

from __future__ import annotations

import json

from .test_cli import auto_emu, cli  # noqa: F401 - fixtures


def test_a_failed_hook_is_shown_in_slack_status_and_history(auto_emu, cli):  # noqa: F811
    # Given a service whose afterGreenHealthy hook fails
    arn = auto_emu.hook_arn()
    hooks = {"afterGreenHealthy": [{"functionArn": arn, "name": "smoke", "hookDetails": {"behaviour": "fail"}}]}
    demo = auto_emu.seed_service(config_overrides={"hooks": hooks})

    # When it is deployed
    result = auto_emu.run(demo.name, "v2")

    # Then the deployment was cleaned up, and each place says which hook failed, how long it took and why
    assert result.error == "HookFailed"
    line = "afterGreenHealthy hook smoke FAILED in 0s (1 call(s))"
    assert line in result.cause
    notes = [c.args for c in auto_emu.slack.calls_to("chat.postMessage") if line in json.dumps(c.args)]
    assert notes and notes[0].get("thread_ts")  # in the deployment's thread
    assert "GET /checkout returned 500" in json.dumps(notes[0])
    code, out, _ = cli("status", demo.name)
    assert code == 0 and line in " ".join(out.split())
    code, out, _ = cli("history", demo.name)
    assert code == 0 and "HookFailed" in out


def test_a_failed_before_delete_old_probe_is_shown_in_status_and_history(auto_emu, cli):  # noqa: F811
    # Given a service whose beforeDeleteOld HTTP probe expects a body v2 does not have
    probe = {"type": "http", "name": "deep-health", "path": "/", "requests": 3, "bodyPattern": "v3"}
    demo = auto_emu.seed_service(config_overrides={"hooks": {"beforeDeleteOld": [probe]}})

    # When it is deployed
    result = auto_emu.run(demo.name, "v2")

    # Then it rolled back after the bake, and status and history say which probe failed and why
    assert result.outcome == "rolled_back", result.cause
    line = "beforeDeleteOld hook deep-health FAILED in 0s (3 request(s))"
    assert line in result.cause and "3 x body did not match" in result.cause
    code, out, _ = cli("status", demo.name)
    assert code == 0 and line in " ".join(out.split())
    code, out, _ = cli("history", demo.name)
    assert code == 0 and "HookFailed" in out
    assert [ts["imageTag"] for ts in auto_emu.task_sets(demo.name)] == ["v1"]
    assert auto_emu.store.lock_holder(demo.name) is None
