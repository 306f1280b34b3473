"""The end of a watch (traffic step, bake, keep-old hold): it passes only with no watched alarm in ALARM."""

from __future__ import annotations

from typing import Any

from bluegreen import watch_end
from bluegreen.domain.models import SwapResult


def alarm(name: str, state: str, reason: str = "") -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": state, "StateReason": reason}


def no_explanation(_alarm: dict[str, Any]) -> None:
    return None


def test_a_watch_passes_when_no_watched_alarm_is_in_alarm():
    # Given the watched alarms are OK or have no data
    described = [alarm("web-5xx", "OK"), alarm("web-latency", "INSUFFICIENT_DATA")]
    # When the bake's end is judged
    found = watch_end.verdict(["web-5xx", "web-latency"], described, "the end of the bake", no_explanation)
    # Then it passes
    assert found is None


def test_an_alarm_in_alarm_at_the_end_fails_the_watch_naming_it_and_its_reason():
    # Given the 5xx alarm went to ALARM during the bake (its event never arrived) and is still there
    described = [alarm("web-5xx", "ALARM", "Threshold Crossed: 1 datapoint [42.0] > 5.0")]
    # When the bake's end is judged
    found = watch_end.verdict(["web-5xx"], described, "the end of the bake", no_explanation)
    # Then the bake fails with a cause that names the alarm, the moment and CloudWatch's reason
    assert found is not None
    assert found.alarm == "web-5xx"
    assert found.cause == (
        "Alarm web-5xx was found in ALARM at the end of the bake: Threshold Crossed: 1 datapoint [42.0] > 5.0"
    )


def test_the_first_configured_alarm_in_alarm_is_named_and_the_others_listed():
    # Given two watched alarms in ALARM, described in another order than configured, and an unwatched one
    described = [alarm("web-latency", "ALARM", "slow"), alarm("other", "ALARM"), alarm("web-5xx", "ALARM", "5xx")]
    # When the end of a traffic step is judged
    found = watch_end.verdict(["web-5xx", "web-latency"], described, "the end of traffic step 1", no_explanation)
    # Then the first configured one is named with its reason, the other listed; the unwatched one is ignored
    assert found is not None and found.alarm == "web-5xx"
    assert (
        found.cause == "Alarm web-5xx was found in ALARM at the end of traffic step 1 (also in ALARM: web-latency): 5xx"
    )


def test_an_analysis_alarm_is_explained_from_its_metrics_when_it_fails_the_watch():
    # Given the built-in analysis alarm is in ALARM and can be explained (its metrics)
    name = "bluegreen-analysis-web-exec1"
    asked: list[str] = []

    def explain(found: dict[str, Any]) -> str:
        asked.append(found["AlarmName"])
        return "green's 5xx rate 12% vs blue's 0.1%"

    # When the bake's end is judged
    found = watch_end.verdict([name], [alarm(name, "ALARM", "raw")], "the end of the bake", explain)
    # Then the explanation, not the raw state reason, is the reason, and only that alarm was explained
    assert found is not None and found.reason == "green's 5xx rate 12% vs blue's 0.1%"
    assert asked == [name]


def test_nothing_is_explained_when_the_watch_passes():
    asked: list[str] = []
    found = watch_end.verdict(["a"], [alarm("a", "OK")], "the end of the bake", lambda a: asked.append("x") or None)
    assert found is None and asked == []


def test_a_very_long_reason_keeps_the_cause_within_step_functions_limit():
    found = watch_end.verdict(["a"], [alarm("a", "ALARM", "x" * 40_000)], "the end of the bake", no_explanation)
    assert found is not None and len(found.cause) <= 32_768 and found.cause.endswith("…")


def test_the_cause_says_which_watch_ended():
    # Given the second step of a linear shift (40% on green)
    swap = SwapResult.model_validate(
        {
            "swappedAt": "2026-01-01T00:00:00",
            "bakeDeadline": "2026-01-01T00:10:00",
            "productionWeights": {},
            "step": 1,
            "weight": 40,
            "complete": False,
        }
    )
    # Then each watch's end reads as a user would say it
    assert watch_end.moment(watch_end.WatchEnd.STEP, swap) == "the end of traffic step 2 (40% on green)"
    assert watch_end.moment(watch_end.WatchEnd.BAKE) == "the end of the bake"
    assert watch_end.moment(watch_end.WatchEnd.KEEP_OLD) == "the end of the keep-old hold"
