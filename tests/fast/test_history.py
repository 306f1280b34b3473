"""Releases, ``--to-previous`` and delivery metrics from a seeded deployment history."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bluegreen.domain.history import delivery_stats, live_release, parse_since, previous_release, releases

ARN = "arn:aws:states:us-east-1:123456789012:execution:bluegreen-deployment:"
D0, D1, D4 = ("sha256:" + c * 64 for c in "014")
NOW = datetime(2026, 1, 31, tzinfo=UTC)
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def item(name: str, status: str, started: str, service: str = "web", **fields: object) -> dict:
    """A deployment item as DynamoDB returns it (ISO strings, Decimal numbers, empty error strings)."""
    return {
        "pk": f"SERVICE#{service}",
        "sk": f"DEPLOYMENT#{started}#{name}",
        "service": service,
        "executionArn": ARN + name,
        "status": status,
        "startedAt": started,
        "error": "",
        **fields,
    }


HISTORY = [
    item(
        "r0", "deployed", "2025-12-01T10:00:00+00:00", imageTag="v0", imageDigest=D0,
        productionAt="2025-12-01T10:10:00+00:00",
    ),
    item(
        "r1", "deployed", "2026-01-02T10:00:00+00:00", imageTag="v1", imageDigest=D1,
        imagePushedAt="2026-01-02T09:00:00+00:00", firstShiftAt="2026-01-02T10:20:00+00:00",
        productionAt="2026-01-02T10:20:00+00:00", endedAt="2026-01-02T10:30:00+00:00", approvalWaitSeconds=Decimal(600),
    ),
    item(
        "r2", "rolled_back", "2026-01-05T10:00:00+00:00", imageTag="v2", firstShiftAt="2026-01-05T10:30:00+00:00",
        restoredAt="2026-01-05T10:45:00+00:00", approvalWaitSeconds=Decimal(1200), error="AlarmTriggered",
    ),
    item("r3", "cleaned_up", "2026-01-06T10:00:00+00:00", imageTag="v3", error="Rejected"),
    item(
        "r4", "deployed", "2026-01-10T10:00:00+00:00", imageTag="v4", imageDigest=D4,
        imagePushedAt="2026-01-10T08:00:00+00:00", firstShiftAt="2026-01-10T10:10:00+00:00",
        productionAt="2026-01-10T10:20:00+00:00", approvalWaitSeconds=Decimal(300),
    ),
    item(
        "r5", "deployed", "2026-01-10T12:00:00+00:00", imageTag="v1", imageDigest=D1, rollbackOf=ARN + "r4",
        approvalSkipped=True, imagePushedAt="2026-01-02T09:00:00+00:00", firstShiftAt="2026-01-10T12:05:00+00:00",
        productionAt="2026-01-10T12:05:00+00:00",
    ),
    item(
        "a1", "deployed", "2026-01-15T10:00:00+00:00", service="api", imageTag="v9", imageDigest=D4,
        imagePushedAt="2026-01-15T09:50:00+00:00", firstShiftAt="2026-01-15T10:00:00+00:00",
        productionAt="2026-01-15T10:00:00+00:00",
    ),
]  # fmt: skip
WEB = [i for i in HISTORY if i["service"] == "web"]


def test_live_release_is_the_newest_deployed_one_even_if_it_was_a_rollback():
    # Given web's history ending with a --to-previous deployment back to v1
    # When the live release is looked up
    live = live_release(releases(WEB))
    # Then it is that rollback (r5, v1's digest)
    assert (live.name, live.imageDigest) == ("r5", D1)


def test_previous_skips_undone_releases_and_the_live_digest():
    # Given r4 (v4) was undone by r5 and r1 runs the digest that is live again
    # When --to-previous looks for the release to restore
    previous = previous_release(releases(WEB))
    # Then it restores v0 (r0): not the undone v4, not v1 that is already live
    assert (previous.name, previous.imageTag, previous.imageDigest) == ("r0", "v0", D0)


def test_previous_is_the_release_before_the_live_one():
    # Given v1 then v4 deployed (before the rollback)
    history = releases([i for i in WEB if i["executionArn"] != ARN + "r5"])
    # Then v4 is live and --to-previous restores v1
    assert live_release(history).name == "r4"
    assert previous_release(history).name == "r1"


@pytest.mark.parametrize(
    "items",
    [[], [WEB[1]], [WEB[2], WEB[3]]],
    ids=["never deployed", "one release", "nothing deployed"],
)
def test_no_previous_release(items):
    assert previous_release(releases(items)) is None


def test_service_stats_match_the_known_answers():
    # When web's delivery metrics over January are computed
    stats = delivery_stats(HISTORY, SINCE, NOW, service="web")
    # Then 5 deployments started in the window (r0 is older), 3 ended deployed: 0.1 a day over 30 days
    assert (stats.deployments, stats.succeeded, stats.days, stats.deploymentsPerDay) == (5, 3, 30.0, 0.1)
    # ... 4 reached production (not the rejected r3); r2 rolled back and r4 was undone: 2 of 4 failed
    assert (stats.reachedProduction, stats.changeFailures, stats.changeFailureRate) == (4, 2, 0.5)
    # ... restored after 15 min (r2's rollback) and 1h55 (r4 until r5 put v1 back)
    assert stats.timeToRestoreSeconds.model_dump() == {"count": 2, "mean": 3900.0, "median": 3900.0}
    # ... lead time 1h20 (r1) and 2h20 (r4); the rollback r5 redeploys an old image and is left out
    assert stats.leadTimeSeconds.model_dump() == {"count": 2, "mean": 6600.0, "median": 6600.0}
    # ... approvals waited 10 min, 20 min, 5 min
    assert stats.approvalWaitSeconds.model_dump() == {"count": 3, "mean": 700.0, "median": 600.0}
    assert stats.rollbacksToPrevious == 1


def test_stack_stats_cover_every_service():
    stats = delivery_stats(HISTORY, SINCE, NOW)
    assert (stats.deployments, stats.succeeded, stats.reachedProduction, stats.changeFailures) == (6, 4, 5, 2)
    assert stats.changeFailureRate == 0.4
    assert stats.leadTimeSeconds.count == 3 and stats.leadTimeSeconds.median == 4800.0


def test_empty_window_has_no_rates():
    stats = delivery_stats(HISTORY, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    assert (stats.deployments, stats.changeFailureRate, stats.leadTimeSeconds.mean) == (0, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", datetime(2026, 1, 1, tzinfo=UTC)), ("12h", datetime(2026, 1, 30, 12, tzinfo=UTC)),
     ("2w", datetime(2026, 1, 17, tzinfo=UTC)), ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC))],
)  # fmt: skip
def test_parse_since(text, expected):
    assert parse_since(text, NOW) == expected


def test_previous_is_the_image_the_live_release_replaced_when_none_is_recorded():
    # Given one recorded release (v1) that replaced an image deployed before the tool recorded anything
    first = item(
        "f1", "deployed", "2026-01-02T10:00:00+00:00", imageTag="v1", imageDigest=D1,
        replacedImage=f"123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{D0}",
        replacedTaskDefinition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    )  # fmt: skip
    # When --to-previous looks for the release to restore
    previous = previous_release(releases([first]))
    # Then it restores that image, pinned by digest, from the task definition it ran with
    assert (previous.imageDigest, previous.taskDefinition) == (D0, first["replacedTaskDefinition"])
    assert previous.executionArn == ""  # not a recorded release


def test_previous_prefers_the_recorded_release_with_the_replaced_digest():
    history = [WEB[0], {**WEB[1], "replacedImage": f"repo@{D0}"}]
    assert previous_release(releases(history)).name == "r0"


class FakeStore:
    """The two reads ``to_previous.plan`` makes: the service's lock and its recent deployments."""

    def __init__(self, items: list[dict], holder: str | None = None) -> None:
        self.items, self.holder = items, holder

    def lock_holder(self, service: str) -> str | None:
        return self.holder

    def deployments(self, service: str, limit: int = 20) -> list[dict]:
        return [i for i in self.items if i["service"] == service][:limit]


def test_to_previous_plan_and_its_refusals():
    from bluegreen.domain import to_previous

    before_rollback = [i for i in WEB if i["executionArn"] != ARN + "r5"]
    chosen = to_previous.plan(FakeStore(before_rollback), "web", running=lambda arn: False)
    assert (chosen.live.name, chosen.previous.name) == ("r4", "r1")
    # a running deployment is named; a stale lock (its execution ended) is not in the way
    running = to_previous.plan(FakeStore(WEB, holder=ARN + "r9"), "web", running=lambda arn: True)
    assert (running.reason, running.holder) == ("running", ARN + "r9")
    assert isinstance(to_previous.plan(FakeStore(WEB, holder=ARN + "r9"), "web", lambda arn: False), to_previous.Plan)
    # an old Slack message: the release it was posted under is no longer live
    stale = to_previous.plan(FakeStore(WEB), "web", lambda arn: False, expected_live="r4")
    assert stale.reason == "not-live" and "r5 is" in stale.message
    assert to_previous.plan(FakeStore([]), "web", lambda arn: False).reason == "no-release"
    assert to_previous.plan(FakeStore([WEB[1]]), "web", lambda arn: False).reason == "no-previous"
    assert to_previous.BUTTON_VALUE.fullmatch(to_previous.button_value("web", "web-v2-1a2b"))


TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:"


def test_previous_of_a_configuration_change_is_the_release_whose_task_definition_it_replaced():
    # Given v1 deployed (revision 7), then only its environment changed (revision 8, the same digest)
    image = item("r1", "deployed", "2026-01-02T10:00:00+00:00", imageTag="v1", imageDigest=D1, taskDefinition=TD + "7")
    config = item(
        "r2", "deployed", "2026-01-03T10:00:00+00:00", imageTag="v1", imageDigest=D1, taskDefinition=TD + "8",
        replacedTaskDefinition=TD + "7", replacedImage=f"repo@{D1}",
    )  # fmt: skip
    # When --to-previous looks for the release to restore
    previous = previous_release(releases([image, config]))
    # Then it is r1 with its own task definition (its environment), although the digest is the live one
    assert (previous.name, previous.taskDefinition) == ("r1", TD + "7")


def test_previous_of_a_configuration_change_before_any_recorded_release_is_the_replaced_definition():
    config = item(
        "r2", "deployed", "2026-01-03T10:00:00+00:00", imageTag="v1", imageDigest=D1, taskDefinition=TD + "8",
        replacedTaskDefinition=TD + "3", replacedImage=f"repo@{D1}",
    )  # fmt: skip
    previous = previous_release(releases([config]))
    assert (previous.executionArn, previous.taskDefinition, previous.imageDigest) == ("", TD + "3", D1)


def test_to_previous_deploys_the_whole_previous_task_definition_when_it_is_recorded():
    from bluegreen.domain import to_previous
    from bluegreen.domain.history import Release

    recorded = Release.model_validate(item("r1", "deployed", "2026-01-02T10:00:00+00:00", imageDigest=D1,
                                           taskDefinition=TD + "7"))  # fmt: skip
    assert to_previous.release_of(recorded, "v1") == {"taskDefinition": TD + "7"}
    older = recorded.model_copy(update={"taskDefinition": None})  # recorded before task definitions were
    assert to_previous.release_of(older, "v1") == {"imageTag": "v1", "imageDigest": D1}
