"""core/workspace.py: the session's timeline (notes, and messages added from the channel, each
once) and its handover, audited and owing one line in the session's thread; on both stores.

That the new owner may own the session (an operator) is the edge's check, through
`AccessPolicy.permits` (tests/core/test_access.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInput, NoActiveSession
from core.models import Delivery, MessageRef, TimelineEntry
from core.outbox import TimelinePayload
from core.services import Services
from core.workspace import MAX_TIMELINE, Source
from tests.conftest import FakeClock, audit_records, json_only
from tests.core.fakes import FakeTransport
from tests.units import committing

LINK = "https://team.slack.com/archives/C1/p1700000000000100"


def records(services: Services, event: str) -> list[dict[str, Any]]:
    return [r for r in audit_records(services) if r["event"] == event]


def lines_owed(services: Services, clock: FakeClock) -> list[TimelineEntry]:
    """The timeline lines owed in the thread, in order (each taken off the outbox as sent)."""
    entries = []
    while ready := services.outbox.ready(clock.now()):
        for item in ready:
            committing(services.uow).outbox.done(item)
            if item.kind == "timeline":
                assert isinstance(item.data, TimelinePayload)
                assert item.data.session.timeline == []  # no message shows it: not copied
                entries.append(item.data.entry)
    return entries


@pytest.fixture
def session_id(services: Services) -> str:
    return services.sessions.start("U1", "C1", "deploy").session.id or ""


def test_a_note_joins_the_timeline_is_audited_and_owes_a_line(
    services: Services, clock: FakeClock, session_id: str
) -> None:
    clock.advance(timedelta(minutes=5))
    added = services.workspace.note("U2", "C1", "  canary looks fine\u200b ")
    expected = TimelineEntry(
        kind="note",
        at_utc=datetime(2026, 1, 1, 9, 5, tzinfo=UTC),
        by="U2",
        text="canary looks fine",
    )
    assert (added.entry, added.newly) == (expected, True)
    assert added.delivery == Delivery(pending=True)  # no transport in this process
    assert services.sessions.get("C1").timeline == [expected]
    [record] = records(services, "GO_NOTE_ADDED")
    assert (record["actor"], record["channel"], record["session_id"]) == ("U2", "C1", session_id)
    assert record["data"] == {"kind": "note", "text": "canary looks fine"}
    assert record["at_utc"] == "2026-01-01T09:05:00.000000Z"
    assert lines_owed(services, clock) == [expected]


def test_the_same_note_again_moments_later_is_a_retry_not_a_second_note(
    services: Services, clock: FakeClock, session_id: str
) -> None:
    first = services.workspace.note("U2", "C1", "canary at 5%")
    clock.advance(timedelta(seconds=90))
    again = services.workspace.note("U2", "C1", " canary at 5% ")
    assert (again.entry, again.newly) == (first.entry, False)
    other = services.workspace.note("U3", "C1", "canary at 5%")  # someone else says it too
    assert other.newly
    services.workspace.note("U2", "C1", "canary at 25%")
    later = services.workspace.note("U2", "C1", "canary at 5%")  # not the last one said
    assert later.newly
    clock.advance(timedelta(minutes=2))
    assert services.workspace.note("U2", "C1", "canary at 5%").newly  # long enough after
    assert len(records(services, "GO_NOTE_ADDED")) == 5


@pytest.mark.parametrize("text", [None, "", "   ", "\u200b\u200d\n"])
def test_an_empty_note_is_refused(services: Services, session_id: str, text: str | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.workspace.note("U1", "C1", text)
    assert raised.value.message == (
        "Usage: `/go-note <text>`: the note was empty, nothing was added."
    )
    assert services.sessions.get("C1").timeline == []
    assert records(services, "GO_NOTE_ADDED") == []


def test_an_overlong_note_is_refused_not_cut(services: Services, session_id: str) -> None:
    with pytest.raises(InvalidInput, match="Notes are 2001 characters long; the limit is 2000"):
        services.workspace.note("U1", "C1", "x" * 2001)
    assert services.sessions.get("C1").timeline == []


def test_no_note_and_no_handover_without_an_active_session(services: Services) -> None:
    with pytest.raises(NoActiveSession) as raised:
        services.workspace.note("U1", "C1", "hello")
    assert raised.value.message == (
        "There is no active GO session to add a note to: start one with `/go-start` first."
    )
    services.sessions.start("U1", "C1", "")
    services.sessions.end("U1", "C1", "")
    with pytest.raises(NoActiveSession) as raised:
        services.workspace.handover("U1", "C1", "U2")
    assert raised.value.message == (
        "There is no active GO session to hand over: start one with `/go-start` first."
    )
    assert records(services, "GO_NOTE_ADDED") == records(services, "GO_SESSION_HANDOVER") == []


def test_a_message_joins_the_timeline_once_however_often_it_is_added(
    services: Services, clock: FakeClock, session_id: str
) -> None:
    source = Source.of("C1", "1700000000.000100", "rollout at 50%", "U7", LINK)
    first = services.workspace.note("U2", "C1", source.text, source)
    assert first.newly
    assert first.entry.model_dump(exclude={"at_utc"}) == {
        "kind": "message",
        "by": "U2",
        "text": "rollout at 50%",
        "author": "U7",
        "permalink": LINK,
        "key": "C1:1700000000.000100",
        "to": None,
    }
    clock.advance(timedelta(minutes=1))
    for actor in ("U2", "U3"):  # a retried event, and a second person pinning it
        again = services.workspace.note(actor, "C1", source.text, source)
        assert (again.entry, again.newly, again.delivery) == (first.entry, False, Delivery())
    assert services.sessions.get("C1").timeline == [first.entry]
    [record] = records(services, "GO_NOTE_ADDED")
    assert record["data"] == {
        "kind": "message",
        "text": "rollout at 50%",
        "key": "C1:1700000000.000100",
        "author": "U7",
    }
    assert lines_owed(services, clock) == [first.entry]


def test_the_same_message_may_join_a_later_sessions_timeline(
    services: Services, session_id: str
) -> None:
    source = Source.of("C1", "1.1", "again", "U7", None)
    services.workspace.note("U1", "C1", source.text, source)
    services.sessions.end("U1", "C1", "")
    services.sessions.start("U1", "C1", "")
    assert services.workspace.note("U1", "C1", source.text, source).newly
    assert len(records(services, "GO_NOTE_ADDED")) == 2


def test_only_messages_of_the_sessions_channel_join_it(services: Services, session_id: str) -> None:
    source = Source.of("C2", "1.1", "elsewhere", "U7", None)
    with pytest.raises(InvalidInput) as raised:
        services.workspace.note("U1", "C2", source.text, source)
    assert raised.value.message == (
        "Only messages of the session's own channel can join its timeline: nothing was added."
    )
    assert services.workspace.note("U1", "C2", "a typed note is fine").newly  # one workspace
    assert [e.kind for e in services.sessions.get().timeline] == ["note"]


def test_a_long_message_is_cut_visibly_to_what_a_note_holds() -> None:
    source = Source.of("C1", "1.1", "word " * 1000, None, None)
    assert len(source.text) <= 2000
    assert source.text.endswith("word … (truncated)")
    assert source.key == "C1:1.1"
    exact = Source.of("C1", "1.2", "y" * 2000, "U1", LINK)
    assert exact.text == "y" * 2000  # at the limit: kept whole


def test_handover_moves_the_owner_audits_and_owes_a_line(
    services: Services, clock: FakeClock, session_id: str
) -> None:
    assert services.sessions.get("C1").current_owner == "U1"
    clock.advance(timedelta(minutes=10))
    added = services.workspace.handover("U1", "C1", "U2", " going home ")
    assert added.newly and added.entry == TimelineEntry(
        kind="handover",
        at_utc=datetime(2026, 1, 1, 9, 10, tzinfo=UTC),
        by="U1",
        text="going home",
        to="U2",
    )
    session = services.sessions.get("C1")
    assert (session.owner, session.current_owner, session.started_by) == ("U2", "U2", "U1")
    [record] = records(services, "GO_SESSION_HANDOVER")
    assert (record["actor"], record["session_id"]) == ("U1", session_id)
    assert record["data"] == {"kind": "handover", "text": "going home", "from": "U1", "to": "U2"}
    services.workspace.handover("U3", "C1", "U3")  # taking it over
    assert services.sessions.get("C1").current_owner == "U3"
    assert [r["data"]["from"] for r in records(services, "GO_SESSION_HANDOVER")] == ["U1", "U2"]
    assert [e.to for e in lines_owed(services, clock)] == ["U2", "U3"]


def test_handover_to_the_owner_changes_nothing(services: Services, session_id: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.workspace.handover("U2", "C1", "U1")
    assert raised.value.message == "That person already owns the GO session: nothing changed."
    assert services.sessions.get("C1").timeline == []
    assert records(services, "GO_SESSION_HANDOVER") == []


def test_a_take_over_button_of_an_ended_session_changes_nothing(
    services: Services, session_id: str
) -> None:
    services.sessions.end("U1", "C1", "")
    newer = services.sessions.start("U1", "C1", "").session
    with pytest.raises(NoActiveSession) as raised:
        services.workspace.handover("U2", "C1", "U2", session_id=session_id)
    assert raised.value.message == "That GO session has already ended."
    assert services.sessions.get("C1").current_owner == "U1"
    services.workspace.handover("U2", "C1", "U2", session_id=newer.id)
    assert services.sessions.get("C1").current_owner == "U2"


def test_channel_scope_notes_go_to_the_channels_own_session(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(session_scope="channel")
    services.sessions.start("U1", "C1", "")
    with pytest.raises(NoActiveSession):
        services.workspace.note("U1", "C2", "wrong room")
    services.workspace.note("U1", "C1", "right room")
    assert [e.text for e in services.sessions.get("C1").timeline] == ["right room"]


@json_only  # 500 notes: ~5 s on either store, the rule is the service's
def test_a_full_timeline_refuses_more(services: Services, session_id: str) -> None:
    for number in range(MAX_TIMELINE):
        services.workspace.note("U1", "C1", f"n{number}")
    with pytest.raises(InvalidInput) as raised:
        services.workspace.note("U1", "C1", "one more")
    assert raised.value.message == (
        f"The session's timeline is full ({MAX_TIMELINE} entries): nothing was added."
    )
    with pytest.raises(InvalidInput, match="timeline is full"):
        services.workspace.handover("U1", "C1", "U2")
    session = services.sessions.get("C1")
    assert len(session.timeline) == MAX_TIMELINE and session.current_owner == "U1"
    assert len(records(services, "GO_NOTE_ADDED")) == MAX_TIMELINE


def test_with_a_transport_the_line_lands_in_the_sessions_thread(
    wired: Callable[..., Services], transport: FakeTransport
) -> None:
    services = wired()
    services.sessions.start("U1", "C1", "")
    added = services.workspace.note("U1", "C1", "hello")
    post = MessageRef(channel="C1", ts="1.0")
    assert added.delivery.message == MessageRef(channel="C1", ts="3.0")
    assert transport.sent[-1] == ("timeline", services.sessions.get().id, post)
    assert transport.kinds() == ["snapshot", "playbook", "timeline"]
