"""The session service: start (asking a second operator's approval of it when that is
configured), end, get and history of GO sessions. No session starts while a change freeze holds
in its scope, unless an admin overrides the freeze, saying why (recorded on the session and
audited `GO_FREEZE_OVERRIDDEN` with the start)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from core.clock import Clock, format_utc
from core.errors import (
    FreezeInForce,
    InvalidInput,
    NoActiveSession,
    SessionAlreadyActive,
    StoreCorrupted,
    StoreUnavailable,
)
from core.ids import time_ordered_id
from core.models import (
    START_APPROVAL,
    AuditEvent,
    FreezeOverride,
    GoSession,
    GoWindow,
    Outcome,
    SessionChange,
    Snapshot,
)
from core.notes import clean_link, clean_notes
from core.outbox import SESSION_BOUND, OutboxItem, SessionPayload, new_item_id, outbox_item
from core.playbook import run_item
from core.ports import Approvals, Deliverer, NullDeliverer, UnitOfWork
from core.reminders import ReminderPolicy
from core.rules import not_this_session
from core.snapshots import SnapshotTaker
from core.windows import freeze_now

ScopeMode = Literal["workspace", "channel"]
MAX_HISTORY = 100


def new_session_id(now: datetime) -> str:
    """Time-ordered (core/ids.py): a store finds the session from its id's start time."""
    return time_ordered_id(now)


class SessionService:
    def __init__(
        self,
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        deliverer: Deliverer | None = None,
        policy: ReminderPolicy | None = None,
        scope_mode: ScopeMode = "workspace",
        new_id: Callable[[datetime], str] = new_session_id,
        approvals: Approvals | None = None,
    ) -> None:
        """`approvals`: whether a start needs a second operator, and the asking."""
        self._uow = uow
        self._store = uow.sessions
        self._audit = uow.audit
        self._outbox = uow.outbox
        self._snapshots = snapshots
        self._clock = clock
        self._scope_mode = scope_mode
        self._new_id = new_id
        self._deliverer: Deliverer = deliverer or NullDeliverer()
        self._policy = policy or ReminderPolicy()
        self._approvals = approvals

    def scope_for(self, channel: str | None) -> str:
        """`workspace` (one active session in all), or `channel:<id>` (one per channel)."""
        if self._scope_mode == "workspace":
            return "workspace"
        if not channel:
            raise InvalidInput(
                "Sessions are per channel here (GOBOT_SESSION_SCOPE=channel): name a channel."
            )
        return f"channel:{channel}"

    def get(self, channel: str | None = None) -> GoSession:
        """The scope's latest session, or the all-null inactive session if it has none."""
        return self._store.get(self.scope_for(channel)) or GoSession()

    def latest(self) -> GoSession:
        """The most recently started or ended session of any scope (or the inactive one)."""
        return self._store.latest() or GoSession()

    def active(self) -> list[GoSession]:
        return self._store.active()

    def _active(self, scope: str) -> GoSession | None:
        current = self._store.get(scope)
        return current if current is not None and current.active else None

    def ensure_can_start(self, channel: str | None) -> None:
        """Raise `SessionAlreadyActive` if the channel's scope has an active session (a form
        to start one would be filled in vain)."""
        if (current := self._active(self.scope_for(channel))) is not None:
            raise SessionAlreadyActive.about(current)

    def freeze(self, channel: str | None) -> GoWindow | None:
        """The change freeze in force now in the channel's scope, if any."""
        return freeze_now(self._uow.windows, self.scope_for(channel), self._clock.now())

    def ensure_can_end(self, channel: str | None) -> None:
        """Raise `NoActiveSession` if the channel's scope has no active session."""
        self._ending(self.scope_for(channel), None)

    def start(
        self,
        actor: str,
        channel: str | None,
        notes: str | None = None,
        reply_to: str | None = None,
        *,
        link: str | None = None,
        planned: timedelta | None = None,
        along: Callable[[GoSession, datetime], None] | None = None,
        override: str | None = None,
    ) -> SessionChange:
        """Snapshot (slow, outside any lock), then record the start in one unit of work: the
        audit record, the session, and the snapshot post and playbook message owed to the
        channel, all or nothing; `along(session, now)` adds its own writes to that unit of
        work (a planned window marked started), or raises to keep the session from starting.
        `reply_to` is where to tell the operator if the post turns out undeliverable. When a
        start needs a second operator, the session is recorded with that approval pending and
        its request owed in the thread (core/approvals.py). While a change freeze holds,
        `FreezeInForce` unless `override` says why an admin (the caller checked the role)
        starts anyway."""
        text = clean_notes(notes)
        url = clean_link(link)
        reason = clean_notes(override) if override is not None else None
        if reason == "":
            raise InvalidInput("Overriding a change freeze needs a reason: say why.")
        scope = self.scope_for(channel)
        self.ensure_can_start(channel)
        self._unfrozen(scope, actor, reason, self._clock.now())
        snapshot = self._snapshots.take()
        with self._uow:
            if (current := self._active(scope)) is not None:
                raise SessionAlreadyActive.about(current)
            now = self._clock.now()
            overridden = self._unfrozen(scope, actor, reason, now)
            session = self._policy.initial(
                GoSession(
                    active=True,
                    started_at_utc=now,
                    cone_band=snapshot.cone.band,
                    status=snapshot.status.status,
                    notes=text,
                    snapshot=snapshot,
                    id=self._new_id(now),
                    scope=scope,
                    channel=channel,
                    started_by=actor,
                    link=url,
                    planned_end_utc=now + planned if planned else None,
                    freeze_override=overridden,
                ),
                now,
            )
            self._audit.append(
                AuditEvent(
                    event="GO_SESSION_START",
                    actor=actor,
                    channel=channel,
                    session_id=session.id,
                    data={
                        "cone_band": session.cone_band,
                        "status": session.status,
                        "notes": text,
                        **({"link": url} if url else {}),
                        **({"planned_end_utc": format_utc(now + planned)} if planned else {}),
                    },
                ),
                now,
            )
            if overridden is not None:
                self._audit.append(
                    AuditEvent(
                        event="GO_FREEZE_OVERRIDDEN",
                        actor=actor,
                        channel=channel,
                        session_id=session.id,
                        data={"freeze": overridden.freeze_id, "reason": overridden.reason},
                    ),
                    now,
                )
            self._store.create(session)
            if along is not None:
                along(session, now)
            self._outbox.add(posted_with_run("snapshot", session, now, reply_to, actor))
            if self._approvals is not None and self._approvals.needs(START_APPROVAL):
                session, _ = self._approvals.ask(session, START_APPROVAL, by=actor, notes=text)
            self._uow.commit()
        return self._delivered(session)

    def _unfrozen(
        self, scope: str, actor: str, reason: str | None, now: datetime
    ) -> FreezeOverride | None:
        """Raise `FreezeInForce` if a freeze holds in `scope` and no `reason` overrides it; the
        override to record, if one does (none without a freeze: there is nothing to
        override)."""
        freeze = freeze_now(self._uow.windows, scope, now)
        if freeze is None:
            return None
        if reason is None:
            raise FreezeInForce(freeze)
        return FreezeOverride(freeze_id=freeze.id, by=actor, reason=reason, at_utc=now)

    def redeliver(self, session: GoSession) -> SessionChange | None:
        """Try the session's owed messages again now (what they waited for may be fixed); None
        if it owes none."""
        with self._uow:
            woken = self._outbox.wake(session.channel or "", self._clock.now())
            self._uow.commit()
        if woken == 0:
            return None
        return self._delivered(session)

    def _delivered(self, session: GoSession) -> SessionChange:
        """Deliver now what the committed change owes; return the session as stored after that
        (where its post landed), or as committed if nothing landed or the store cannot be read
        now (the change is kept either way)."""
        delivery = self._deliverer.deliver(session.id or "")
        if delivery.message is None:
            return SessionChange(session=session, delivery=delivery)  # nothing landed: as is
        try:
            stored = self._store.get(session.scope or "")
        except (StoreUnavailable, StoreCorrupted):
            stored = None
        if stored is not None and stored.id == session.id:
            session = stored
        return SessionChange(session=session, delivery=delivery)

    def end(
        self,
        actor: str,
        channel: str | None,
        notes: str | None = None,
        session_id: str | None = None,
        reply_to: str | None = None,
        *,
        outcome: Outcome = "completed",
    ) -> SessionChange:
        """End the scope's active session with its outcome; with `session_id`, only if it is
        that session (a button on an old message must not end a newer session). Pending
        reminders, drift alerts and playbook edits of the session are dropped in the same unit
        of work; the summary and the playbook message's final state are owed."""
        text = clean_notes(notes)
        scope = self.scope_for(channel)
        self._ending(scope, session_id)
        snapshot = self._snapshots.take()
        with self._uow:
            current = self._ending(scope, session_id)
            ended = close(
                self._uow,
                current,
                actor=actor,
                channel=channel,
                notes=text,
                outcome=outcome,
                snapshot=snapshot,
                now=self._clock.now(),
                reply_to=reply_to,
            )
            self._uow.commit()
        return self._delivered(ended)

    def _ending(self, scope: str, session_id: str | None) -> GoSession:
        current = self._active(scope)
        if current is None and session_id is not None:
            raise not_this_session(
                self._store.find(session_id), "That GO session has already ended."
            )
        if current is None:
            where = "" if self._scope_mode == "workspace" else " in this channel"
            raise NoActiveSession(f"There is no active GO session{where} to end.")
        if session_id is not None and current.id != session_id:
            raise not_this_session(
                self._store.find(session_id), "That GO session has already ended."
            )
        return current

    def history(self, limit: int = 10, channel: str | None = None) -> list[GoSession]:
        """Ended sessions, newest first; in channel scope, those of the given channel (or of
        every channel when none is named)."""
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"History length must be between 1 and {MAX_HISTORY}.")
        scope = self.scope_for(channel) if self._scope_mode == "channel" and channel else None
        return with_posts(self._uow, self._store.history(limit, scope))


def posted_with_run(
    kind: Literal["snapshot", "ended"],
    session: GoSession,
    now: datetime,
    reply_to: str | None,
    actor: str,
) -> list[OutboxItem]:
    """What a start or an end owes the channel: its post (the snapshot, or the end's update and
    summary), then the playbook message's state."""
    payload = SessionPayload(session=session)
    post = outbox_item(kind, payload, now, item_id=new_item_id(), reply_to=reply_to, actor=actor)
    return [post, run_item(session, now)]


def with_posts(uow: UnitOfWork, sessions: list[GoSession]) -> list[GoSession]:
    """`sessions` as read, each ended one whose snapshot post landed only after its end (its
    record was kept without it) carrying where the post landed."""
    wanting = [s.id for s in sessions if s.message is None and not s.active and s.id]
    posts = uow.outbox.posts(wanting) if wanting else {}
    return [
        session.model_copy(update={"message": posts[session.id]})
        if session.id in posts and session.message is None and not session.active
        else session
        for session in sessions
    ]


def close(
    uow: UnitOfWork,
    current: GoSession,
    *,
    actor: str,
    channel: str | None,
    notes: str,
    outcome: Outcome,
    snapshot: Snapshot,
    now: datetime,
    reply_to: str | None = None,
) -> GoSession:
    """Inside a unit of work: end `current` (the active session) with its outcome, as `actor`
    at `now`, with the end `snapshot` taken already; audit it, drop its pending reminders,
    drift alerts and playbook edits, and owe the summary and the playbook message's final
    state. Returns the ended session."""
    started_at = current.started_at_utc or now
    ended = current.model_copy(
        update={
            "active": False,
            "ended_at_utc": now,
            "ended_by": actor,
            "end_notes": notes,
            "end_snapshot": snapshot,
            "outcome": outcome,
            "duration_seconds": round((now - started_at).total_seconds(), 3),
        }
    )
    uow.audit.append(
        AuditEvent(
            event="GO_SESSION_END",
            actor=actor,
            channel=channel or current.channel,
            session_id=ended.id,
            data={
                "duration_seconds": ended.duration_seconds,
                "cone_band": snapshot.cone.band,
                "status": snapshot.status.status,
                "notes": notes,
                "outcome": outcome,
            },
        ),
        now,
    )
    uow.sessions.finish(ended)
    uow.outbox.drop(ended.id or "", (*SESSION_BOUND, "playbook"), now)
    uow.outbox.add(posted_with_run("ended", ended, now, reply_to, actor))
    return ended
