"""Redelivered work does not happen twice: the Slack follow-up's reply, the reconciler's once-only marks."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.slack.interactions import FollowUp, follow_up


class _Notifier:
    def __init__(self) -> None:
        self.replies: list[tuple[str, str]] = []
        self.updates = 0

    def update_gate(self, gate: Any) -> bool:
        self.updates += 1
        return True

    def respond(self, url: str, text: str) -> None:
        self.replies.append((url, text))


def test_a_redelivered_slack_follow_up_does_not_reply_twice(store):
    # Given the follow-up of a click (an ephemeral reply to send)
    job = FollowUp(response_url="https://hooks.slack.com/actions/T/1/x", text="Approved.")
    notifier = _Notifier()

    # When Lambda delivers it twice (or bluegreen events replay re-sends a kept one)
    follow_up(job, store, notifier)
    follow_up(FollowUp.load(job.dump()), store, notifier)

    # Then the user got one reply
    assert notifier.replies == [(job.response_url, "Approved.")]
    # And another click's follow-up is its own
    follow_up(FollowUp(response_url=job.response_url, text="Rejected."), store, notifier)
    assert [text for _, text in notifier.replies] == ["Approved.", "Rejected."]


def test_a_follow_up_whose_reply_failed_is_sent_by_the_replay(store):
    # Given a follow-up whose reply failed (Slack down): the invocation fails, nothing is marked
    job = FollowUp(response_url="https://hooks.slack.com/actions/T/1/y", text="Approved.")

    class Down(_Notifier):
        def respond(self, url: str, text: str) -> None:
            raise ConnectionError("slack down")

    with pytest.raises(ConnectionError):
        follow_up(job, store, Down())

    # When it is replayed with Slack back
    notifier = _Notifier()
    follow_up(job, store, notifier)

    # Then the reply is sent
    assert notifier.replies == [(job.response_url, "Approved.")]


def test_once_marks_are_written_once_and_unseen_pushes_reported_once(store):
    # Given a mark written once
    assert store.once("FOLLOWUP#k", "DONE") is True

    # Then it is known, and a second write is refused
    assert store.done_before("FOLLOWUP#k", "DONE") is True
    assert store.once("FOLLOWUP#k", "DONE") is False
    assert store.done_before("FOLLOWUP#other", "DONE") is False
    assert store.note_unseen_push("web", "sha256:abc", "v9") is True
    assert store.note_unseen_push("web", "sha256:abc", "v9") is False


def test_repairs_are_listed_newest_first(store):
    # Given two repairs of a service
    store.record_repair("web", {"kind": "lock", "action": "released the lock", "at": "2026-06-01T12:00:00+00:00"}, 30)
    store.record_repair("web", {"kind": "gate", "action": "closed the gate", "at": "2026-06-01T12:05:00+00:00"}, 30)

    # Then status reads the newest first, and only that service's
    assert [r["kind"] for r in store.repairs_of("web")] == ["gate", "lock"]
    assert store.repairs_of("api") == []
