"""Planned GO windows and change freezes: scheduled, moved and cancelled by operators (audited
`GO_WINDOW_*` and `GO_FREEZE_*`), never two of either kind overlapping in one scope (a
`WindowOverlap` carries the other one, for each client to show in its own way); a reminder in
the window's channel before it, a prompt at its start, a note if it was missed, each owed once
however many processes tick; a session started from a window carries its notes, link and
planned duration. A freeze (its `notes` say why) owes no message: it holds from its start to
its end, stays scheduled until cancelled, and while it holds no session starts in its scope
unless an admin overrides it (`SessionService.start`) and the gate denies.

Each message of a window is claimed by key (the window, the message and the window's revision,
core/claims.py: a moved window's messages are owed again) inside one unit of work, with the
message it owes. A bot that was down through a window's lead or start owes only the message
that is still true (a missed window is not also reminded). The window's `reminded` and
`prompted` are still written with the claims, as a record of what was owed and so that the
tick opens no unit of work for a window with nothing due; the claim decides.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from core.claims import window_key
from core.clock import Clock, format_utc
from core.errors import InvalidInput, UnknownWindow
from core.models import AuditEvent, GoSession, GoWindow, SessionChange, WindowKind
from core.notes import clean_link, clean_notes
from core.outbox import WindowPayload, new_item_id, notice_item
from core.ports import UnitOfWork, WindowStore

if TYPE_CHECKING:  # the session service reads freezes from here
    from core.sessions import SessionService

log = logging.getLogger("gobot.windows")
MAX_DURATION = timedelta(hours=24)
MAX_FREEZE = timedelta(days=31)  # a freeze may span a holiday season
MAX_AHEAD = timedelta(days=366)
CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")  # an ID, or a name as Slack allows


NAMES: dict[WindowKind, str] = {"window": "GO window", "freeze": "change freeze"}


class WindowOverlap(InvalidInput):
    """A window or freeze would overlap `other`, scheduled in the same scope; the message is
    plain text (a client with its own markup renders `other` itself)."""

    def __init__(self, other: GoWindow) -> None:
        super().__init__(
            f"That overlaps the {NAMES[other.kind]} {other.id} in {other.channel} from "
            f"{format_utc(other.starts_at_utc)} to {format_utc(other.ends_at_utc)} "
            f"(scheduled by {other.scheduled_by}): move or cancel one of them."
        )
        self.other = other


def freeze_in_force(windows: list[GoWindow], scope: str, now: datetime) -> GoWindow | None:
    """Of `windows`, the scheduled change freeze of `scope` that holds at `now` (the one that
    ends last, if several do)."""
    holding = [
        w
        for w in windows
        if w.kind == "freeze"
        and w.status == "scheduled"
        and w.scope == scope
        and w.starts_at_utc <= now < w.ends_at_utc
    ]
    return max(holding, key=lambda w: w.ends_at_utc, default=None)


def freeze_now(store: WindowStore, scope: str, now: datetime) -> GoWindow | None:
    """The change freeze of `scope` in force at `now`, read from `store` (one that starts at
    `now` holds already)."""
    started = store.between(now - MAX_FREEZE, now + timedelta(microseconds=1))
    return freeze_in_force(started, scope, now)


@dataclass(frozen=True)
class WindowPolicy:
    lead: timedelta = timedelta(minutes=30)  # the reminder comes this long before the start


class WindowService:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        sessions: SessionService,
        *,
        policy: WindowPolicy,
        new_id: Callable[[], str] = new_item_id,
    ) -> None:
        self._uow = uow
        self._store = uow.windows
        self._clock = clock
        self._sessions = sessions
        self._policy = policy
        self._new_id = new_id

    # reading -----------------------------------------------------------------------------
    def upcoming(self, channel: str | None = None) -> list[GoWindow]:
        """Scheduled windows that have not ended, soonest first (of `channel`'s scope)."""
        now = self._clock.now()
        scope = self._sessions.scope_for(channel) if channel else None
        return [
            w
            for w in self._store.all()
            if w.status == "scheduled" and w.ends_at_utc > now and scope in (None, w.scope)
        ]

    def between(self, start: datetime, end: datetime) -> list[GoWindow]:
        """Every window (any status) that starts within [start, end)."""
        return self._store.between(start, end)

    def find(self, window_id: str) -> GoWindow:
        window = self._store.get(window_id)
        if window is None:
            raise UnknownWindow(f"There is no GO window {window_id!r}.")
        return window

    # changes -----------------------------------------------------------------------------
    def schedule(
        self,
        actor: str,
        channel: str | None,
        starts_at: datetime,
        duration: timedelta,
        *,
        notes: str | None = None,
        link: str | None = None,
    ) -> GoWindow:
        text = clean_notes(notes)
        return self._plan(
            "window", actor, channel, starts_at, duration=duration, text=text, link=link
        )

    def schedule_freeze(
        self,
        actor: str,
        channel: str | None,
        starts_at: datetime,
        duration: timedelta,
        reason: str,
    ) -> GoWindow:
        """A change freeze in `channel`'s scope, for up to `MAX_FREEZE`, saying why."""
        text = clean_notes(reason)
        if not text:
            raise InvalidInput("A change freeze needs a reason: say why changes are held.")
        return self._plan("freeze", actor, channel, starts_at, duration=duration, text=text)

    def _plan(
        self,
        kind: WindowKind,
        actor: str,
        channel: str | None,
        starts_at: datetime,
        *,
        duration: timedelta,
        text: str,
        link: str | None = None,
    ) -> GoWindow:
        name = NAMES[kind]
        if not channel:
            raise InvalidInput(f"A {name} needs a channel to run in.")
        if not CHANNEL.fullmatch(channel):
            raise InvalidInput(
                f"A {name}'s channel is a Slack channel ID (C…) or a channel's name (letters, "
                "digits, - and _)."
            )
        url = clean_link(link)
        with self._uow:
            now = self._clock.now()
            window = GoWindow(
                id=uuid.uuid4().hex[:12],
                kind=kind,
                scope=self._sessions.scope_for(channel),
                channel=channel,
                starts_at_utc=starts_at,
                duration_seconds=self._checked(kind, starts_at, duration, now),
                notes=text,
                link=url,
                scheduled_by=actor,
            )
            self._refuse_overlap(window)
            extra: dict[str, object] | None = {"reason": text} if kind == "freeze" else None
            self._audit("SCHEDULED", actor, window, now, extra)
            self._store.put(window)
            self._uow.commit()
            return window

    def move(
        self,
        actor: str,
        window_id: str,
        starts_at: datetime,
        duration: timedelta,
        *,
        channel: str | None = None,
    ) -> GoWindow:
        with self._uow:
            now = self._clock.now()
            window = self.scheduled(window_id, channel)
            moved = window.model_copy(
                update={
                    "starts_at_utc": starts_at,
                    "duration_seconds": self._checked(window.kind, starts_at, duration, now),
                    "reminded": False,
                    "prompted": False,
                    "revision": window.revision + 1,
                }
            )
            self._refuse_overlap(moved)
            self._audit("MOVED", actor, moved, now, {"from_utc": format_utc(window.starts_at_utc)})
            self._store.put(moved)
            self._uow.outbox.drop(f"window:{window.id}", ("window",), now)  # about the old time
            self._uow.commit()
            return moved

    def cancel(self, actor: str, window_id: str, *, channel: str | None = None) -> GoWindow:
        with self._uow:
            now = self._clock.now()
            window = self.scheduled(window_id, channel)
            cancelled = window.model_copy(
                update={"status": "cancelled", "revision": window.revision + 1}
            )
            self._audit("CANCELLED", actor, cancelled, now)
            self._store.put(cancelled)
            self._uow.outbox.drop(f"window:{window.id}", ("window",), now)  # nothing owed now
            self._uow.commit()
            return cancelled

    def start(
        self,
        actor: str,
        window_id: str,
        reply_to: str | None = None,
        *,
        channel: str | None = None,
    ) -> SessionChange:
        """Start the window's session now, with its notes, link and planned duration; the
        window is marked started in the same unit of work as the start (both or neither)."""
        window = self.scheduled(window_id, channel)
        if window.kind == "freeze":
            raise InvalidInput("That is a change freeze: it has no GO session to start.")

        def mark(session: GoSession, now: datetime) -> None:
            current = self.scheduled(window_id)  # read again under the lock
            self._mark_started(current, session, actor, now)

        return self._sessions.start(
            actor,
            window.channel,
            window.notes,
            reply_to,
            link=window.link,
            planned=timedelta(seconds=window.duration_seconds),
            along=mark,
        )

    # the tick ----------------------------------------------------------------------------
    def tick(self) -> int:
        """Owe each window's message that has come due; how many were owed (a freeze owes
        none)."""
        owed = 0
        now = self._clock.now()
        for window in self._store.all():
            if window.kind == "freeze" or window.status != "scheduled":
                continue
            if not self._due_at(window, now):
                continue
            try:
                owed += self._due(window.id)
            except Exception:
                log.exception("window %s failed; the others go on", window.id)
        return owed

    def _due(self, window_id: str) -> int:
        with self._uow:
            window = self._store.get(window_id)
            now = self._clock.now()
            if window is None or window.status != "scheduled":
                return 0
            session = self._session_of(window)
            if session is not None:
                self._mark_started(window, session, session.started_by or "gobot", now)
                self._uow.commit()
                return 0
            what: Literal["reminder", "prompt", "missed"]
            update: dict[str, object]
            if now >= window.ends_at_utc:
                what, update = "missed", {"status": "missed"}
            elif now >= window.starts_at_utc:
                what, update = "prompt", {"prompted": True, "reminded": True}
            elif now >= window.starts_at_utc - self._policy.lead:
                what, update = "reminder", {"reminded": True}
            else:
                return 0
            if not self._uow.claims.claim(window_key(window, what), now):
                return 0  # owed already, by this process or another
            if what == "missed":
                self._audit("MISSED", "gobot", window, now)
            changed = window.model_copy(update=update)
            self._store.put(changed)
            payload = WindowPayload(window=changed, what=what)
            self._uow.outbox.add(
                [
                    notice_item(
                        "window",
                        payload,
                        key=f"window:{window.id}",
                        scope=window.scope,
                        channel=window.channel,
                        now=now,
                        item_id=self._new_id(),
                    )
                ]
            )
            self._uow.commit()
            return 1

    # helpers -----------------------------------------------------------------------------
    def _due_at(self, window: GoWindow, now: datetime) -> bool:
        """Whether a message of the window may be owed at `now` (checked again, claimed, in a
        unit of work): a tick costs no unit of work for a window with nothing due."""
        if now >= window.ends_at_utc:
            return True
        if now >= window.starts_at_utc:
            return not window.prompted
        return now >= window.starts_at_utc - self._policy.lead and not window.reminded

    def _checked(
        self, kind: WindowKind, starts_at: datetime, duration: timedelta, now: datetime
    ) -> int:
        name = NAMES[kind]
        longest, most = (MAX_FREEZE, "31 days") if kind == "freeze" else (MAX_DURATION, "24h")
        if starts_at <= now:
            raise InvalidInput(f"A {name} must start in the future.")
        if starts_at - now > MAX_AHEAD:
            raise InvalidInput(f"A {name} can be planned at most a year ahead.")
        if not timedelta(0) < duration <= longest:
            raise InvalidInput(f"A {name} lasts more than 0 and at most {most}.")
        return int(duration.total_seconds())

    def scheduled(self, window_id: str, channel: str | None = None) -> GoWindow:
        """The window, if it is still scheduled (InvalidInput says what it is instead); with
        `channel`, only a window of that channel's scope (a button is bound to where it was
        clicked: another scope's window is not there)."""
        window = self.find(window_id)
        if channel is not None and window.scope != self._sessions.scope_for(channel):
            raise UnknownWindow(f"There is no GO window {window_id!r} in this channel.")
        if window.status != "scheduled":
            raise InvalidInput(f"That {NAMES[window.kind]} is {window.status} already.")
        return window

    def _refuse_overlap(self, window: GoWindow) -> None:
        for other in self._store.all():
            if (
                other.id != window.id
                and other.status == "scheduled"
                and other.scope == window.scope
                and other.overlaps(window)
            ):
                raise WindowOverlap(other)

    def _session_of(self, window: GoWindow) -> GoSession | None:
        """The session that ran the window, if one was started for it: in its channel,
        started between its reminder and its end, and not the session of another window (also
        one whose start was recorded but whose window was not, as after a crash between the
        two)."""
        session = self._sessions.get(window.channel)
        started = session.started_at_utc
        opened = window.starts_at_utc - self._policy.lead
        if (
            started is None
            or session.channel != window.channel
            or not opened <= started < window.ends_at_utc
        ):
            return None
        ran_another = any(
            other.session_id == session.id and other.id != window.id for other in self._store.all()
        )
        return None if ran_another else session

    def _mark_started(
        self, window: GoWindow, session: GoSession, actor: str, now: datetime
    ) -> None:
        """Inside a unit of work: the window ran as `session`; what it still owed is dropped."""
        started = window.model_copy(update={"status": "started", "session_id": session.id})
        self._audit("STARTED", actor, started, now, {"session": session.id})
        self._store.put(started)
        self._uow.outbox.drop(f"window:{window.id}", ("window",), now)

    def _audit(
        self,
        what: str,
        actor: str,
        window: GoWindow,
        now: datetime,
        extra: dict[str, object] | None = None,
    ) -> None:
        """`GO_WINDOW_<what>`, or `GO_FREEZE_<what>` for a freeze."""
        self._uow.audit.append(
            AuditEvent(
                event=f"GO_{window.kind.upper()}_{what}",
                actor=actor,
                channel=window.channel,
                data={
                    window.kind: window.id,
                    "starts_at_utc": format_utc(window.starts_at_utc),
                    "duration_seconds": window.duration_seconds,
                    **(extra or {}),
                },
            ),
            now,
        )
