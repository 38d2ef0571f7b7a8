"""The session as a workspace: its timeline (notes, and messages added from the channel, each
once; the same note by the same person again within two minutes is a retry, not a second note)
and its owner, who can hand it over. Each change is audited (GO_NOTE_ADDED,
GO_SESSION_HANDOVER) and owes one line in the session's thread, in one unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core.clock import Clock
from core.errors import InvalidInput, NoActiveSession
from core.models import AuditEvent, Delivery, GoSession, TimelineEntry
from core.notes import MAX_NOTES_CHARS, clean_notes
from core.outbox import TimelinePayload, new_item_id, outbox_item
from core.ports import Deliverer, NullDeliverer, UnitOfWork
from core.rules import not_this_session

MAX_TIMELINE = 500  # what people add; the gate's lines count apart (core/gate.py)
REPEAT_WINDOW = timedelta(minutes=2)  # the same note again within this is a retry


@dataclass(frozen=True)
class Added:
    """A timeline entry; `newly` is False when it was there already (the same message added
    twice, or a retried event). `delivery`: what became of its line in the thread."""

    entry: TimelineEntry
    newly: bool
    delivery: Delivery


@dataclass(frozen=True)
class Source:
    """A Slack message added to the timeline: its text, author and permalink, and the key that
    names it (`<channel>:<ts>`)."""

    key: str
    text: str
    author: str | None
    permalink: str | None

    @classmethod
    def of(cls, channel: str, ts: str, text: str, author: str | None, link: str | None) -> Source:
        """Someone else's message, cut (visibly) to what a note may hold."""
        if len(text) > MAX_NOTES_CHARS:
            text = text[: MAX_NOTES_CHARS - 20].rstrip() + " … (truncated)"
        return cls(f"{channel}:{ts}", text, author, link)


class WorkspaceService:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        scope_for: Callable[[str | None], str],
        *,
        deliverer: Deliverer | None = None,
    ) -> None:
        self._uow = uow
        self._store = uow.sessions
        self._clock = clock
        self._scope_for = scope_for
        self._deliverer: Deliverer = deliverer or NullDeliverer()

    def _active(self, channel: str | None, doing: str, session_id: str | None) -> GoSession:
        current = self._store.get(self._scope_for(channel))
        active = current if current is not None and current.active else None
        if session_id is not None and (active is None or active.id != session_id):
            raise not_this_session(
                self._store.find(session_id), "That GO session has already ended."
            )
        if active is None:
            raise NoActiveSession(
                f"There is no active GO session to {doing}: start one with `/go-start` first."
            )
        return active

    def note(
        self, actor: str, channel: str | None, text: str | None, source: Source | None = None
    ) -> Added:
        """Add a note (or, with `source`, a message from Slack) to the active session's
        timeline; a message already there is not added again."""
        body = clean_notes(text)
        if not body and source is None:
            raise InvalidInput("Usage: `/go-note <text>`: the note was empty, nothing was added.")
        with self._uow:
            current = self._active(channel, "add a note to", None)
            if source is not None:
                self._own_channel(current, channel)
            key = source.key if source is not None else None
            earlier = next((e for e in current.timeline if key and e.key == key), None)
            if earlier is None and source is None:
                earlier = self._repeated(current, actor, body)
            if earlier is not None:
                return Added(earlier, False, Delivery())
            entry = TimelineEntry(
                kind="message" if source else "note",
                at_utc=self._clock.now(),
                by=actor,
                text=body,
                author=source.author if source else None,
                permalink=source.permalink if source else None,
                key=key,
            )
            extra = {"key": key, "author": entry.author} if key else {}
            current = self._record(current, entry, channel, "GO_NOTE_ADDED", extra)
            self._uow.commit()
        return Added(entry, True, self._deliverer.deliver(current.id or ""))

    def ensure_can_add_message(self, channel: str | None) -> None:
        """Raise unless a message of `channel` could join the active session's timeline (checked
        before the message is read from Slack)."""
        self._own_channel(self._active(channel, "add a message to", None), channel)

    @staticmethod
    def _own_channel(current: GoSession, channel: str | None) -> None:
        if current.channel and channel != current.channel:
            raise InvalidInput(
                "Only messages of the session's own channel can join its timeline: "
                "nothing was added."
            )

    def _repeated(self, current: GoSession, actor: str, body: str) -> TimelineEntry | None:
        """The same note by the same person moments ago: a retry (after an answer that was
        lost, or a double submit), not a second note."""
        last = next((e for e in reversed(current.timeline) if e.by == actor), None)
        if (
            last is not None
            and last.kind == "note"
            and last.text == body
            and self._clock.now() - last.at_utc < REPEAT_WINDOW
        ):
            return last
        return None

    def handover(
        self,
        actor: str,
        channel: str | None,
        to: str,
        notes: str | None = None,
        session_id: str | None = None,
    ) -> Added:
        """Make `to` the owner of the active session (`session_id`: only if it is that one);
        the edge checks that `to` may own it."""
        text = clean_notes(notes)
        with self._uow:
            current = self._active(channel, "hand over", session_id)
            if current.current_owner == to:
                raise InvalidInput("That person already owns the GO session: nothing changed.")
            entry = TimelineEntry(
                kind="handover", at_utc=self._clock.now(), by=actor, text=text, to=to
            )
            moved = {"from": current.current_owner, "to": to}
            current = self._record(
                current.model_copy(update={"owner": to}),
                entry,
                channel,
                "GO_SESSION_HANDOVER",
                moved,
            )
            self._uow.commit()
        return Added(entry, True, self._deliverer.deliver(current.id or ""))

    def _record(
        self,
        current: GoSession,
        entry: TimelineEntry,
        channel: str | None,
        event: str,
        extra: dict[str, str | None],
    ) -> GoSession:
        """Audit the entry, store it on the session and owe its line in the thread."""
        if sum(entry.kind != "gate" for entry in current.timeline) >= MAX_TIMELINE:
            raise InvalidInput(
                f"The session's timeline is full ({MAX_TIMELINE} entries): nothing was added."
            )
        self._uow.audit.append(
            AuditEvent(
                event=event,
                actor=entry.by,
                channel=channel or current.channel,
                session_id=current.id,
                data={"kind": entry.kind, "text": entry.text, **extra},
            ),
            entry.at_utc,
        )
        return add_to_timeline(self._uow, current, entry)


def add_to_timeline(uow: UnitOfWork, current: GoSession, entry: TimelineEntry) -> GoSession:
    """Inside a unit of work: store `entry` on the session and owe its line in the thread
    (the caller audits it and checks `MAX_TIMELINE`)."""
    current = current.model_copy(update={"timeline": [*current.timeline, entry]})
    uow.sessions.replace(current)
    payload = TimelinePayload(session=current, entry=entry)
    uow.outbox.add([outbox_item("timeline", payload, entry.at_utc, item_id=new_item_id())])
    return current
