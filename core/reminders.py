"""Reminders, escalation and the health watch, driven by a tick.

All state lives on the stored session (`reminder`, `watch`); the tick only looks for due work in
the store. A reminder slot is claimed by key (its session and due time, core/claims.py) inside
one unit of work, with its audit record and the message it owes (band and health read for it),
so it goes out once however many processes tick; slots missed while the bot was down are
coalesced into one (the next is due a full interval after the claim). A session with a planned
end is also reminded shortly before it and at it, and then at the usual cadence while it
overruns. Each session is handled in its own error boundary."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.claims import reminder_key
from core.clock import Clock, format_utc
from core.errors import InvalidInput
from core.models import AuditEvent, GoSession, ReminderState, Snapshot, WatchState
from core.outbox import (
    DriftPayload,
    Kind,
    OutboxItem,
    ReminderPayload,
    SessionPayload,
    new_item_id,
    outbox_item,
)
from core.ports import UnitOfWork
from core.rules import not_this_session
from core.snapshots import SnapshotTaker

log = logging.getLogger("gobot.reminders")
MAX_SNOOZE = timedelta(hours=24)


@dataclass(frozen=True)
class ReminderPolicy:
    remind_after: timedelta = timedelta(minutes=60)
    remind_every: timedelta = timedelta(minutes=60)
    escalate_after: timedelta = timedelta(hours=4)
    watch_every: timedelta = timedelta(minutes=5)
    before_end: timedelta = timedelta(minutes=10)

    def initial(self, session: GoSession, now: datetime) -> GoSession:
        """Reminder and watch state of a session that starts at `now`."""
        first = self._toward_end(session, now, now + self.remind_after)
        return session.model_copy(
            update={
                "reminder": ReminderState(next_due_utc=first),
                "watch": WatchState(
                    next_check_utc=now + self.watch_every,
                    band=session.cone_band,
                    status=session.status,
                ),
            }
        )

    def next_due(self, session: GoSession, now: datetime) -> datetime:
        """After a reminder at `now`: the usual cadence, or sooner the planned end's."""
        return self._toward_end(session, now, now + self.remind_every)

    def _toward_end(self, session: GoSession, now: datetime, usual: datetime) -> datetime:
        """`usual`, unless the planned end's own reminder comes first: `before_end` ahead of
        it, then at it; once it has passed, the usual cadence (an overrun)."""
        end = session.planned_end_utc
        if end is None or end <= now:
            return usual
        warning = end - self.before_end
        return min(usual, warning if warning > now else end)


@dataclass
class TickReport:
    reminders: int = 0
    drifts: int = 0
    failures: int = 0


class ReminderService:
    def __init__(
        self,
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        policy: ReminderPolicy,
        new_id: Callable[[], str] = new_item_id,
    ) -> None:
        self._uow = uow
        self._store = uow.sessions
        self._outbox = uow.outbox
        self._audit = uow.audit
        self._snapshots = snapshots
        self._clock = clock
        self._policy = policy
        self._new_id = new_id

    def tick(self) -> TickReport:
        """Claim the due reminders, then look at health for the due watches."""
        report = self.claim_reminders()
        watched = self.watch_health()
        report.drifts, report.failures = watched.drifts, report.failures + watched.failures
        return report

    def claim_reminders(self) -> TickReport:
        """Every due reminder slot, each stating band and health as read for it: one snapshot
        (within the source timeout) shared by the reminders of one tick, taken only if one is
        due."""
        report = TickReport()
        now = self._clock.now()
        due = [
            session
            for session in self._store.due(now)
            if session.reminder.next_due_utc and session.reminder.next_due_utc <= now
        ]
        snapshot = self._snapshots.take() if due else None
        for session in due:
            assert snapshot is not None
            try:
                report.reminders += self._claim_reminder(session, snapshot)
            except Exception:
                report.failures += 1
                log.exception("reminder failed for session %s; the others go on", session.id)
        return report

    def watch_health(self) -> TickReport:
        """Every due health watch, against one snapshot shared by all of them, taken (within
        the source timeout) only if one is due."""
        report = TickReport()
        now = self._clock.now()
        snapshot: Snapshot | None = None
        for session in self._store.due(now):
            if not (session.watch.next_check_utc and session.watch.next_check_utc <= now):
                continue
            try:
                if self._watch_due(session):
                    snapshot = snapshot or self._snapshots.take()
                    report.drifts += self._drift(session, snapshot)
            except Exception:
                report.failures += 1
                log.exception("health watch failed for session %s; the others go on", session.id)
        return report

    def _current(self, seen: GoSession) -> GoSession | None:
        current = self._store.get(seen.scope or "")
        if current is None or not current.active or current.id != seen.id:
            return None
        return current

    def _claim_reminder(self, seen: GoSession, snapshot: Snapshot) -> int:
        with self._uow:
            current = self._current(seen)
            now = self._clock.now()
            due = current.reminder.next_due_utc if current is not None else None
            if current is None or due is None or due > now:
                return 0  # ended or snoozed meanwhile
            if not self._uow.claims.claim(reminder_key(current.id or "", due), now):
                return 0  # claimed by another process meanwhile
            started = current.started_at_utc or now
            number = current.reminder.sent + 1
            escalate = now - started >= self._policy.escalate_after
            end = current.planned_end_utc
            reminder = ReminderState(
                next_due_utc=self._policy.next_due(current, now),
                sent=number,
                last_sent_utc=now,
            )
            self._audit.append(
                AuditEvent(
                    event="GO_REMINDER_SENT",
                    actor="gobot",
                    channel=current.channel,
                    session_id=current.id,
                    data={
                        "number": number,
                        "escalated": escalate,
                        **({"planned_end_utc": format_utc(end)} if end else {}),
                    },
                ),
                now,
            )
            payload = ReminderPayload(
                session=current,
                number=number,
                elapsed_seconds=round((now - started).total_seconds()),
                escalate=escalate,
                to_planned_end_seconds=round((end - now).total_seconds()) if end else None,
                band=snapshot.cone.band,
                status=snapshot.status.status,
            )
            # Reminders still owed from an outage are replaced by this one, not sent in a burst.
            self._outbox.drop(current.id or "", ("reminder",), now)
            self._outbox.add([self._item("reminder", payload, now)])
            self._store.replace(current.model_copy(update={"reminder": reminder}))
            self._uow.commit()
            return 1

    def _watch_due(self, seen: GoSession) -> bool:
        """Claim the session's watch slot (compare-and-set); False if another process has."""
        with self._uow:
            current = self._current(seen)
            if current is None or current.watch.next_check_utc != seen.watch.next_check_utc:
                return False
            next_check = self._clock.now() + self._policy.watch_every
            watch = current.watch.model_copy(update={"next_check_utc": next_check})
            self._store.replace(current.model_copy(update={"watch": watch}))
            self._uow.commit()
            return True

    def _drift(self, seen: GoSession, snapshot: Snapshot) -> int:
        band, status = snapshot.cone.band, snapshot.status.status
        with self._uow:
            current = self._current(seen)
            if current is None or (band, status) == (current.watch.band, current.watch.status):
                return 0
            now = self._clock.now()
            change = DriftPayload(
                session=current,
                from_band=current.watch.band,
                to_band=band,
                from_status=current.watch.status,
                to_status=status,
                reasons=snapshot.status.reasons,
                cone_reason=snapshot.cone.reason,
            )
            self._audit.append(
                AuditEvent(
                    event="GO_HEALTH_DRIFT",
                    actor="gobot",
                    channel=current.channel,
                    session_id=current.id,
                    data=change.model_dump(mode="json", exclude={"session"}),
                ),
                now,
            )
            self._outbox.add([self._item("drift", change, now)])
            watch = current.watch.model_copy(update={"band": band, "status": status})
            self._store.replace(current.model_copy(update={"watch": watch}))
            self._uow.commit()
            return 1

    def snooze(self, scope: str, session_id: str, actor: str, duration: timedelta) -> GoSession:
        """Push the next reminder to `duration` from now; one already due later stays as it
        is (a snooze never brings a reminder forward)."""
        if not timedelta(0) < duration <= MAX_SNOOZE:
            raise InvalidInput("Snooze for a positive duration of at most 24h.")
        with self._uow:
            current = self._store.get(scope)
            if current is None or not current.active or current.id != session_id:
                raise not_this_session(
                    self._store.find(session_id), "That GO session has already ended."
                )
            now = self._clock.now()
            due = current.reminder.next_due_utc
            until = max(now + duration, due) if due is not None else now + duration
            self._audit.append(
                AuditEvent(
                    event="GO_REMINDER_SNOOZED",
                    actor=actor,
                    channel=current.channel,
                    session_id=current.id,
                    data={"until_utc": format_utc(until), "seconds": int(duration.total_seconds())},
                ),
                now,
            )
            reminder = current.reminder.model_copy(update={"next_due_utc": until})
            snoozed = current.model_copy(update={"reminder": reminder})
            self._store.replace(snoozed)
            self._uow.commit()
            return snoozed

    def _item(self, kind: Kind, payload: SessionPayload, now: datetime) -> OutboxItem:
        return outbox_item(kind, payload, now, item_id=self._new_id())
