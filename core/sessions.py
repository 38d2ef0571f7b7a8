"""The session service: start, end, get and history of GO sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

from core.clock import Clock, format_utc, parse_utc
from core.errors import InvalidInput, NoActiveSession, SessionAlreadyActive
from core.models import AuditEvent, Delivery, GoSession, MessageRef, SessionChange
from core.notes import clean_notes
from core.ports import AuditLog, Notifier, NullNotifier, SessionStore
from core.snapshots import SnapshotTaker

ScopeMode = Literal["workspace", "channel"]
MAX_HISTORY = 100


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        audit: AuditLog,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        notifier: Notifier | None = None,
        scope_mode: ScopeMode = "workspace",
        new_id: Callable[[], str] = new_session_id,
    ) -> None:
        self._store = store
        self._audit = audit
        self._snapshots = snapshots
        self._clock = clock
        self._scope_mode = scope_mode
        self._new_id = new_id
        self._notifier: Notifier = notifier or NullNotifier()

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

    def start(self, actor: str, channel: str | None, notes: str | None = None) -> SessionChange:
        """Snapshot (slow, outside any lock), then record the start: audit first, then state,
        in one transaction, so no state change is ever without its audit record."""
        text = clean_notes(notes)
        scope = self.scope_for(channel)
        if (current := self._active(scope)) is not None:
            raise SessionAlreadyActive.about(current)
        snapshot = self._snapshots.take()
        with self._store.transaction():
            if (current := self._active(scope)) is not None:
                raise SessionAlreadyActive.about(current)
            session = GoSession(
                active=True,
                started_at_utc=format_utc(self._clock.now()),
                cone_band=snapshot.cone.band,
                status=snapshot.status.status,
                notes=text,
                snapshot=snapshot,
                id=self._new_id(),
                scope=scope,
                channel=channel,
                started_by=actor,
            )
            self._audit.append(
                AuditEvent(
                    event="GO_SESSION_START",
                    actor=actor,
                    channel=channel,
                    session_id=session.id,
                    data={"cone_band": session.cone_band, "status": session.status, "notes": text},
                ),
                session.started_at_utc or "",
            )
            self._store.create(session)
        delivery = self._notifier.session_started(session)
        if delivery.message is not None:
            session = self._attach(session, delivery.message)
        self._audit_delivery(actor, session, delivery)
        return SessionChange(session=session, delivery=delivery)

    def end(
        self,
        actor: str,
        channel: str | None,
        notes: str | None = None,
        session_id: str | None = None,
    ) -> SessionChange:
        """End the scope's active session; with `session_id`, only if it is that session (a
        button on an old message must not end a newer session)."""
        text = clean_notes(notes)
        scope = self.scope_for(channel)
        self._ending(scope, session_id)
        snapshot = self._snapshots.take()
        with self._store.transaction():
            current = self._ending(scope, session_id)
            ended_at = self._clock.now()
            started_at = parse_utc(current.started_at_utc or format_utc(ended_at))
            ended = current.model_copy(
                update={
                    "active": False,
                    "ended_at_utc": format_utc(ended_at),
                    "ended_by": actor,
                    "end_notes": text,
                    "end_snapshot": snapshot,
                    "duration_seconds": round((ended_at - started_at).total_seconds(), 3),
                }
            )
            self._audit.append(
                AuditEvent(
                    event="GO_SESSION_END",
                    actor=actor,
                    channel=channel or current.channel,
                    session_id=ended.id,
                    data={
                        "duration_seconds": ended.duration_seconds,
                        "cone_band": snapshot.cone.band,
                        "status": snapshot.status.status,
                        "notes": text,
                    },
                ),
                ended.ended_at_utc or "",
            )
            self._store.finish(ended)
        delivery = self._notifier.session_ended(ended)
        self._audit_delivery(actor, ended, delivery)
        return SessionChange(session=ended, delivery=delivery)

    def _attach(self, session: GoSession, message: MessageRef) -> GoSession:
        """Record where the session was posted, on whatever version is stored now."""
        with self._store.transaction():
            current = self._store.get(session.scope or "")
            if current is None or current.id != session.id:
                return session
            updated = current.model_copy(update={"message": message})
            self._store.replace(updated)
            return updated

    def _ending(self, scope: str, session_id: str | None) -> GoSession:
        current = self._active(scope)
        if current is None:
            where = "" if self._scope_mode == "workspace" else " in this channel"
            raise NoActiveSession(f"There is no active GO session{where} to end.")
        if session_id is not None and current.id != session_id:
            raise NoActiveSession("That GO session has already ended.")
        return current

    def _audit_delivery(self, actor: str, session: GoSession, delivery: Delivery) -> None:
        if delivery.problem is None:
            return
        self._audit.append(
            AuditEvent(
                event="GO_POST_FAILED",
                actor=actor,
                channel=session.channel,
                session_id=session.id,
                data={"problem": delivery.problem},
            ),
            format_utc(self._clock.now()),
        )

    def history(self, limit: int = 10, channel: str | None = None) -> list[GoSession]:
        """Ended sessions, newest first; in channel scope, those of the given channel."""
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"History length must be between 1 and {MAX_HISTORY}.")
        scope = self.scope_for(channel) if self._scope_mode == "channel" else None
        return self._store.history(limit, scope)
