"""The store contract: every port method of the unit of work (sessions, history queries, audit
records, verification and copying, windows, outbox, claims, the requests ledger, GitHub
deployments, legacy progress), the same tests against the JSON store and the PostgreSQL store,
and `gobot migrate` copying either store into another, port to port."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import NoActiveSession, SessionAlreadyActive, StoreCorrupted
from core.gate_models import Deployment
from core.ids import id_time, time_ordered_id
from core.models import (
    AuditEvent,
    GoSession,
    GoWindow,
    MessageRef,
    Posted,
    StepCompletion,
    TimelineEntry,
)
from core.outbox import Failed, Kind, OutboxItem, SessionPayload, outbox_item
from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork
from core.stores.migrate import copy_store
from core.timing import REPLAY_WINDOW
from tests.conftest import T0
from tests.units import committing


def active(scope: str = "workspace", at: datetime = T0, **fields: Any) -> GoSession:
    return GoSession(
        active=True,
        id=time_ordered_id(at),
        scope=scope,
        channel=scope.partition(":")[2] or "C1",
        started_at_utc=at,
        started_by="U1",
        **fields,
    )


def ended(session: GoSession, at: datetime) -> GoSession:
    started = session.started_at_utc or at
    return session.model_copy(
        update={
            "active": False,
            "ended_at_utc": at,
            "ended_by": "U1",
            "duration_seconds": (at - started).total_seconds(),
            "reminder": session.reminder.model_copy(update={"next_due_utc": None}),
        }
    )


def run(uow: UnitOfWork, scope: str, start: datetime, minutes: int = 30) -> GoSession:
    """A session of `scope` started at `start` and ended `minutes` later."""
    session = active(scope, start)
    uow.sessions.create(session)
    done = ended(session, start + timedelta(minutes=minutes))
    uow.sessions.finish(done)
    return done


# sessions ------------------------------------------------------------------------------------
def test_a_session_is_created_read_replaced_and_finished(uow: UnitOfWork) -> None:
    store = uow.sessions
    assert store.get("workspace") is None and store.latest() is None and store.active() == []
    session = active()
    store.create(session)
    assert store.get("workspace") == session and store.latest() == session
    assert store.active() == [session] and store.find(session.id or "") == session
    with pytest.raises(SessionAlreadyActive):
        store.create(active(at=T0 + timedelta(minutes=1)))
    noted = session.model_copy(update={"notes": "rolling out"})
    assert store.replace(noted) and store.get("workspace") == noted
    done = ended(noted, T0 + timedelta(hours=1))
    store.finish(done)
    assert store.get("workspace") == done and store.active() == []
    assert store.find(session.id or "") == done and store.history(10) == [done]
    with pytest.raises(NoActiveSession):
        store.finish(done)
    assert not store.replace(active(at=T0 + timedelta(hours=2)))


def test_one_active_session_per_scope_and_each_scope_its_own(uow: UnitOfWork) -> None:
    first, second = active("channel:C1"), active("channel:C2", T0 + timedelta(seconds=1))
    uow.sessions.create(first)
    uow.sessions.create(second)
    with pytest.raises(SessionAlreadyActive):
        uow.sessions.create(active("channel:C1", T0 + timedelta(seconds=2)))
    assert sorted(s.id or "" for s in uow.sessions.active()) == sorted([first.id, second.id])
    assert uow.sessions.get("channel:C2") == second and uow.sessions.get("channel:C3") is None


def test_due_lists_active_sessions_with_a_reminder_or_check_due(uow: UnitOfWork) -> None:
    reminder = active("channel:C1")
    reminder.reminder.next_due_utc = T0 + timedelta(minutes=15)
    check = active("channel:C2")
    check.watch.next_check_utc = T0 + timedelta(minutes=5)
    uow.sessions.create(reminder)
    uow.sessions.create(check)
    assert uow.sessions.due(T0) == []
    assert [s.id for s in uow.sessions.due(T0 + timedelta(minutes=5))] == [check.id]
    both = uow.sessions.due(T0 + timedelta(minutes=15))
    assert sorted(s.id or "" for s in both) == sorted([reminder.id, check.id])


def test_a_unit_of_work_keeps_its_writes_only_when_committed(uow: UnitOfWork) -> None:
    session = active()
    with pytest.raises(RuntimeError), uow:
        uow.sessions.create(session)
        assert uow.sessions.find(session.id or "") == session  # seen inside it
        uow.audit.append(AuditEvent(event="GO_SESSION_START", session_id=session.id), T0)
        uow.commit()
        raise RuntimeError("undone")
    assert uow.sessions.find(session.id or "") is None and uow.audit.tail(10) == []
    with uow:  # no commit: nothing kept
        uow.sessions.create(session)
        uow.audit.append(AuditEvent(event="GO_SESSION_START", session_id=session.id), T0)
    assert uow.sessions.find(session.id or "") is None and uow.audit.tail(10) == []
    with uow:
        done = run(uow, "workspace", T0)
        assert uow.sessions.find(done.id or "") == done and uow.sessions.history(1) == [done]
        uow.commit()
    assert uow.sessions.find(done.id or "") == done and uow.sessions.history(1) == [done]


def test_a_nested_unit_of_work_is_kept_by_the_outer_ones_commit(uow: UnitOfWork) -> None:
    first, second = active("channel:C1"), active("channel:C2")
    with uow, uow:
        uow.sessions.create(first)
        uow.commit()  # left to the outer block
    assert uow.sessions.find(first.id or "") is None
    with uow:
        with uow:
            uow.sessions.create(second)
        uow.commit()
    assert uow.sessions.find(second.id or "") == second
    with pytest.raises(RuntimeError, match="inside"):
        uow.commit()


# history -------------------------------------------------------------------------------------
def test_history_is_newest_first_by_scope_page_and_time_range(uow: UnitOfWork) -> None:
    sessions = [run(uow, f"channel:C{n % 2}", T0 + timedelta(hours=n)) for n in range(10)]
    newest_first = sessions[::-1]
    assert uow.sessions.history(100) == newest_first
    assert uow.sessions.history(3) == newest_first[:3]
    assert uow.sessions.history(3, offset=4) == newest_first[4:7]
    assert uow.sessions.history(5, offset=8) == newest_first[8:]
    assert uow.sessions.history(5, offset=10) == [] and uow.sessions.history(0) == []
    assert uow.sessions.history(100, "channel:C1") == newest_first[0::2]
    assert uow.sessions.history(2, "channel:C0", offset=1) == newest_first[3:7:2]
    since, until = sessions[3].ended_at_utc, sessions[7].ended_at_utc
    assert uow.sessions.history(100, since=since, until=until) == newest_first[3:7]
    assert uow.sessions.history(2, since=since, until=until, offset=1) == newest_first[4:6]
    assert uow.sessions.history(100, "channel:C1", since=since) == newest_first[0:7:2]
    assert uow.sessions.history(100, until=sessions[0].ended_at_utc) == []


def test_a_session_is_found_by_id_among_many_whatever_its_age(uow: UnitOfWork) -> None:
    sessions = [run(uow, "workspace", T0 + timedelta(minutes=45 * n)) for n in range(60)]
    for session in (sessions[0], sessions[29], sessions[-1]):
        assert uow.sessions.find(session.id or "") == session
    assert uow.sessions.find(time_ordered_id(T0 + timedelta(minutes=1))) is None
    assert uow.sessions.find(uuid.uuid4().hex) is None


def test_a_session_whose_id_carries_no_time_is_found_too(uow: UnitOfWork) -> None:
    """Ids made before they carried the start time (uuid4)."""
    old = active().model_copy(update={"id": uuid.uuid4().hex})
    uow.sessions.create(old)
    assert uow.sessions.find(old.id or "") == old
    done = ended(old, T0 + timedelta(minutes=10))
    uow.sessions.finish(done)
    run(uow, "workspace", T0 + timedelta(hours=1))
    assert id_time(old.id or "") is None and uow.sessions.find(old.id or "") == done


# audit ---------------------------------------------------------------------------------------
def event(name: str, session_id: str | None = None) -> AuditEvent:
    return AuditEvent(event=name, actor="U1", channel="C1", session_id=session_id)


def test_the_audit_chain_appends_tails_and_verifies(uow: UnitOfWork) -> None:
    assert uow.audit.verify().ok and uow.audit.tail(5) == []
    records = [uow.audit.append(event(f"E{n}"), T0 + timedelta(seconds=n)) for n in range(5)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[1]["prev"] == records[0]["hash"]
    assert uow.audit.tail(2) == records[3:] and uow.audit.tail(100) == records
    verification = uow.audit.verify()
    assert verification.ok and verification.records == 5


def test_a_sessions_audit_records_are_its_own_in_order(uow: UnitOfWork) -> None:
    first, second = active("channel:C1"), active("channel:C2")
    for minute, (name, session) in enumerate(
        [("START", first), ("START", second), ("NOTE", first), (None, None), ("END", first)]
    ):
        at = T0 + timedelta(minutes=minute)
        uow.audit.append(event(name or "OTHER", session.id if session else None), at)
    done = ended(first, T0 + timedelta(minutes=4))
    mine = uow.audit.session_records(done)
    assert [(r["event"], r["seq"]) for r in mine] == [("START", 1), ("NOTE", 3), ("END", 5)]
    assert [r["event"] for r in uow.audit.session_records(second)] == ["START"]
    assert uow.audit.session_records(active(at=T0 + timedelta(days=1))) == []


def test_verifying_recent_records_checks_what_was_appended_since(uow: UnitOfWork) -> None:
    assert uow.audit.verify_recent().ok
    for n in range(3):
        uow.audit.append(event(f"E{n}"), T0 + timedelta(seconds=n))
    first = uow.audit.verify_recent()
    assert first.ok and first.records == 3
    for n in range(3, 5):
        uow.audit.append(event(f"E{n}"), T0 + timedelta(seconds=n))
    again = uow.audit.verify_recent()
    assert again.ok and again.records == 5
    assert uow.audit.verify_recent().records == 5


# windows and claims --------------------------------------------------------------------------
def window(window_id: str, starts: datetime, **fields: Any) -> GoWindow:
    return GoWindow(
        id=window_id,
        scope="workspace",
        channel="C1",
        starts_at_utc=starts,
        duration_seconds=3600,
        scheduled_by="U1",
        **fields,
    )


def test_windows_are_put_read_and_listed_between_two_times(uow: UnitOfWork) -> None:
    later, sooner = window("w2", T0 + timedelta(days=2)), window("w1", T0 + timedelta(days=1))
    uow.windows.put(later)
    uow.windows.put(sooner)
    assert uow.windows.all() == [sooner, later] and uow.windows.get("w1") == sooner
    assert uow.windows.get("nope") is None
    cancelled = later.model_copy(update={"status": "cancelled", "revision": 1})
    uow.windows.put(cancelled)
    assert uow.windows.get("w2") == cancelled
    assert uow.windows.between(T0, T0 + timedelta(days=3)) == [sooner, cancelled]
    assert uow.windows.between(T0 + timedelta(days=1), T0 + timedelta(days=2)) == [sooner]
    assert uow.windows.between(T0 + timedelta(days=3), T0 + timedelta(days=4)) == []


def test_a_claim_is_granted_once(uow: UnitOfWork) -> None:
    assert uow.claims.claim("digest:2026-W01", T0)
    assert not uow.claims.claim("digest:2026-W01", T0 + timedelta(days=1))
    assert uow.claims.claim("digest:2026-W02", T0)
    assert uow.claims.claimed("digest:2026-W01") and not uow.claims.claimed("digest:2026-W03")


def test_claims_made_before_a_time_are_pruned_by_prefix(uow: UnitOfWork) -> None:
    later = T0 + timedelta(days=2)
    for n in range(300):  # spread over every part of a store that splits its claims
        assert uow.claims.claim(f"reminder:s{n}:{n}", T0)
        assert uow.claims.claim(f"reminder:t{n}:{n}", later)
    uow.claims.claim("digest:2026-W01", T0)
    assert uow.claims.prune(T0 + timedelta(days=1), prefix="reminder:") == 300
    assert uow.claims.prune(T0 + timedelta(days=1), prefix="reminder:") == 0
    kept = uow.claims.all()
    assert len(kept) == 301 and kept["digest:2026-W01"] == T0 and kept["reminder:t0:0"] == later
    assert uow.claims.claim("reminder:s0:0", later)  # forgotten: claimable again
    assert uow.claims.prune(later + timedelta(seconds=1)) == 302
    assert uow.claims.all() == {}


def test_a_write_outside_a_unit_of_work_raises_and_writes_nothing(bare_uow: UnitOfWork) -> None:
    session = active()
    done = StepCompletion(completed_at_utc=T0, completed_by="U1")
    writes = [
        lambda: bare_uow.sessions.create(session),
        lambda: bare_uow.audit.append(event("GO_SESSION_START", session.id), T0),
        lambda: bare_uow.outbox.add([item(session)]),
        lambda: bare_uow.outbox.set_posted(session.id or "", Posted()),
        lambda: bare_uow.windows.put(window("w1", T0)),
        lambda: bare_uow.claims.claim("digest:2026-W01", T0),
        lambda: bare_uow.requests.first("request-1", T0),
        lambda: bare_uow.deployments.add(deployment("d1")),
        lambda: bare_uow.progress.mark_done("health", done),
    ]
    for write in writes:
        with pytest.raises(RuntimeError, match=r"inside `with uow: \.\.\.; uow.commit\(\)`"):
            write()
    # reads stay allowed anywhere, and found nothing written
    assert bare_uow.sessions.find(session.id or "") is None and bare_uow.sessions.active() == []
    assert bare_uow.audit.tail(1) == [] and bare_uow.outbox.items() == []
    assert bare_uow.windows.all() == [] and bare_uow.claims.all() == {}
    assert bare_uow.deployments.all() == [] and bare_uow.progress.load().completed == {}
    with bare_uow:
        assert bare_uow.requests.first("request-1", T0)  # it was not recorded
        bare_uow.commit()
    assert bare_uow.audit.verify_recent().ok  # its verified mark is a unit of its own


# outbox --------------------------------------------------------------------------------------
def item(session: GoSession, kind: Kind = "snapshot", at: datetime = T0) -> OutboxItem:
    return outbox_item(kind, SessionPayload(session=session), at, item_id=uuid.uuid4().hex)


def test_the_outbox_hands_out_each_sessions_first_item_in_order(uow: UnitOfWork) -> None:
    one, two = active("channel:C1"), active("channel:C2")
    first, second, other = item(one), item(one, "ended"), item(two)
    uow.outbox.add([first, second, other])
    assert uow.outbox.depth() == 3
    assert [i.id for i in uow.outbox.ready(T0)] == [first.id, other.id]
    leased = uow.outbox.lease(first, T0, T0 + timedelta(seconds=30))
    assert leased is not None and leased.attempts == 1
    assert uow.outbox.lease(first, T0, T0 + timedelta(seconds=30)) is None
    assert [i.id for i in uow.outbox.ready(T0)] == [other.id]  # the session waits its turn
    uow.outbox.done(leased)
    assert [i.id for i in uow.outbox.ready(T0)] == [second.id, other.id]
    assert uow.outbox.depth() == 2


def test_one_sessions_next_item_is_found_on_its_own(uow: UnitOfWork) -> None:
    one, two = active("channel:C1"), active("channel:C2")
    first, second, other = item(one), item(one, "ended"), item(two)
    uow.outbox.add([first, second, other])
    found = uow.outbox.ready_of(one.id or "", T0)
    assert found is not None and found.id == first.id
    taken = uow.outbox.lease(first, T0, T0 + timedelta(seconds=30))
    assert taken is not None
    assert uow.outbox.ready_of(one.id or "", T0) is None  # its head is being sent: it waits
    uow.outbox.retry(taken, T0 + timedelta(minutes=1), Failed(error="internal_error"))
    assert uow.outbox.ready_of(one.id or "", T0) is None  # not due before its retry
    due = uow.outbox.ready_of(one.id or "", T0 + timedelta(minutes=1))
    assert due is not None and due.id == first.id
    assert uow.outbox.ready_of("no-such-session", T0) is None


def test_a_retried_item_waits_and_an_expired_lease_is_taken_over(uow: UnitOfWork) -> None:
    session = active()
    owed = item(session)
    uow.outbox.add([owed])
    taken = uow.outbox.lease(owed, T0, T0 + timedelta(seconds=30))
    assert taken is not None
    uow.outbox.retry(taken, T0 + timedelta(minutes=1), Failed(error="ratelimited"), told=True)
    assert uow.outbox.ready(T0 + timedelta(seconds=59)) == []
    [due] = uow.outbox.ready(T0 + timedelta(minutes=1))
    assert due.last_error == "ratelimited" and due.operator_told and due.lease_until_utc is None
    lost = uow.outbox.lease(due, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    assert lost is not None and not lost.maybe_sent
    again = uow.outbox.lease(lost, T0 + timedelta(minutes=3), T0 + timedelta(minutes=4))
    assert again is not None and again.maybe_sent and again.attempts == 3


def test_wake_and_drop(uow: UnitOfWork) -> None:
    session = active("channel:C1")
    later = item(session, "snapshot", T0)
    later.next_attempt_utc = T0 + timedelta(hours=1)
    being_sent, kept = item(session, "snapshot"), item(session, "ended")
    uow.outbox.add([being_sent, later, kept])
    assert uow.outbox.lease(being_sent, T0, T0 + timedelta(seconds=30)) is not None
    assert uow.outbox.wake("C1", T0) == 3 and uow.outbox.wake("C9", T0) == 0
    assert uow.outbox.drop(session.id or "", ("snapshot",), T0) == 1  # not the one being sent
    assert uow.outbox.depth() == 2
    assert uow.outbox.drop(session.id or "", ("snapshot",), T0 + timedelta(minutes=1)) == 1
    assert uow.outbox.depth() == 1


def test_where_a_sessions_messages_landed_is_remembered(uow: UnitOfWork) -> None:
    assert uow.outbox.posted("s1") == Posted()
    posted = Posted(post=MessageRef(channel="C1", ts="1.1"))
    uow.outbox.set_posted("s1", posted)
    playbook = posted.model_copy(update={"playbook": MessageRef(channel="C1", ts="1.2")})
    uow.outbox.set_posted("s1", playbook)
    assert uow.outbox.posted("s1") == playbook and uow.outbox.posted("s2") == Posted()
    uow.outbox.set_posted("s3", Posted(playbook=MessageRef(channel="C1", ts="3.2")))
    assert uow.outbox.posts(["s1", "s2", "s3"]) == {"s1": MessageRef(channel="C1", ts="1.1")}
    assert uow.outbox.posts([]) == {}


# requests ledger and legacy progress ---------------------------------------------------------
def test_a_request_is_first_once_within_the_replay_window(uow: UnitOfWork) -> None:
    assert uow.requests.first("sig-1", T0)
    assert not uow.requests.first("sig-1", T0 + REPLAY_WINDOW - timedelta(seconds=1))
    assert uow.requests.first("sig-2", T0)
    assert uow.requests.first("sig-1", T0 + REPLAY_WINDOW + timedelta(seconds=1))


def test_no_legacy_progress_loads_empty_and_archives_to_nothing(uow: UnitOfWork) -> None:
    assert uow.progress.load().completed == {}
    uow.progress.archive()
    assert uow.progress.load().completed == {}


def test_a_timeline_survives_the_round_trip(uow: UnitOfWork) -> None:
    session = active(timeline=[TimelineEntry(kind="note", at_utc=T0, by="U1", text="go")])
    uow.sessions.create(session)
    done = ended(session, T0 + timedelta(minutes=5))
    uow.sessions.finish(done)
    assert uow.sessions.find(session.id or "") == done
    assert uow.sessions.history(1)[0].timeline == session.timeline


# what `gobot migrate` copies with -------------------------------------------------------------
def test_records_copied_from_another_chain_verify_and_a_stranger_is_refused(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    other = committing(JsonUnitOfWork(tmp_path / "other"))
    for n in range(3):
        other.audit.append(event(f"E{n}", "s1"), T0 + timedelta(seconds=n))
    assert uow.audit.restore(other.audit.lines()) == 3
    assert uow.audit.lines() == other.audit.lines() and uow.audit.verify().records == 3
    owner = active().model_copy(update={"id": "s1"})
    assert [r["event"] for r in uow.audit.session_records(owner)] == ["E0", "E1", "E2"]
    with pytest.raises(StoreCorrupted, match="record 4"):
        uow.audit.restore(other.audit.lines()[:1])  # seq 1 again
    assert uow.audit.verify().records == 3


def test_pending_items_marks_and_legacy_steps_are_listed(uow: UnitOfWork) -> None:
    session = active()
    first, second = item(session), item(session, "ended")
    uow.outbox.add([first, second])
    assert [i.id for i in uow.outbox.items()] == [first.id, second.id]
    uow.claims.claim("digest:2026-W01", T0)
    assert uow.claims.all() == {"digest:2026-W01": T0}
    done = StepCompletion(completed_at_utc=T0, completed_by="U1")
    assert uow.progress.mark_done("health", done) is None
    assert uow.progress.mark_done("health", done.model_copy(update={"completed_by": "U2"})) == done
    assert uow.progress.load().completed == {"health": done}


def test_migrate_copies_a_store_into_another_port_to_port(uow: UnitOfWork, tmp_path: Path) -> None:
    """Either store as the source, an empty JSON data dir as the target (the CLI's JSON to
    PostgreSQL copy is tested end to end in tests/bot/test_migrate.py)."""
    history = [run(uow, f"channel:C{n % 2}", T0 + timedelta(hours=n)) for n in range(4)]
    still = active("channel:C1", T0 + timedelta(days=1))
    with uow:
        uow.sessions.create(still)
        uow.audit.append(event("GO_SESSION_START", still.id), T0 + timedelta(days=1))
        uow.outbox.add([item(still)])
        uow.commit()
    posted = Posted(post=MessageRef(channel="C1", ts="1.0"))
    uow.outbox.set_posted(still.id or "", posted)
    uow.windows.put(window("w1", T0 + timedelta(days=2)))
    uow.claims.claim("digest:2026-W01", T0)
    done = StepCompletion(completed_at_utc=T0, completed_by="U1")
    uow.progress.mark_done("health", done)
    uow.deployments.add(deployment("d1"))
    target = JsonUnitOfWork(tmp_path / "copy")

    copied = copy_store(uow, target)

    assert (copied.sessions, copied.steps, copied.audit_records) == (5, 1, 1)
    assert (copied.outbox_items, copied.windows, copied.deployments) == (1, 1, 1)
    assert target.deployments.all() == uow.deployments.all()
    assert target.sessions.history(10) == uow.sessions.history(10) == history[::-1]
    assert target.sessions.active() == [still] and target.sessions.get("channel:C0") == history[2]
    assert target.audit.lines() == uow.audit.lines() and target.audit.verify().ok
    assert [i.id for i in target.outbox.items()] == [i.id for i in uow.outbox.items()]
    assert target.outbox.posted(still.id or "") == posted
    assert target.windows.all() == uow.windows.all()
    assert target.claims.all() == uow.claims.all()
    assert target.progress.load() == uow.progress.load()
    with pytest.raises(StoreCorrupted, match="already holds gobot data"):
        copy_store(uow, target)
    assert target.audit.lines() == uow.audit.lines()


def deployment(deployment_id: str, at: datetime = T0) -> Deployment:
    return Deployment(
        id=deployment_id,
        delivery=f"g-{deployment_id}",
        repository="acme/shop",
        environment="production",
        channel="C1",
        scope="workspace",
        sha="abc1234def",
        creator="octocat",
        installation_id=11,
        callback_url="https://api.github.com/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        asked_at_utc=at,
    )


def test_a_deployment_is_added_once_and_answered_once(uow: UnitOfWork) -> None:
    first, second = deployment("d1"), deployment("d2", T0 + timedelta(minutes=1))
    assert uow.deployments.add(second) and uow.deployments.add(first)
    assert not uow.deployments.add(first.model_copy(update={"delivery": "again"}))
    assert uow.deployments.get("d1") == first and uow.deployments.get("nope") is None
    waits = first.model_copy(update={"session_id": "s1", "reason": "step 3 not reached"})
    uow.deployments.put(waits)
    assert uow.deployments.pending() == [waits, second] == uow.deployments.all()

    approved = waits.model_copy(update={"state": "approved", "decided_at_utc": T0})
    with uow:
        assert uow.deployments.settle(approved)
        uow.commit()
    rejected = waits.model_copy(update={"state": "rejected", "decided_at_utc": T0})
    with uow:
        assert not uow.deployments.settle(rejected)  # answered already: the caller drops it
    assert uow.deployments.get("d1") == approved
    assert uow.deployments.pending() == [second]
    assert uow.deployments.all() == [approved, second]


def test_a_deployment_left_uncommitted_is_not_kept(uow: UnitOfWork) -> None:
    with uow:
        uow.deployments.add(deployment("d1"))
    assert uow.deployments.all() == []
