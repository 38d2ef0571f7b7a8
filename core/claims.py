"""Keyed once-only claims: a message gobot owes once however many processes and replicas tick
is claimed by key (`uow.claims.claim(key, now)`) inside the unit of work that owes it, so the
claim and the message are kept together or not at all. The keys of the tick's jobs are made
here: a reminder slot (`reminder:<session>:<due>`), a window's message
(`window:<id>:<what>:<revision>`), a week's digest (`digest:<week>`); the gate and the GitHub
deployments claim theirs (`gate:…`, `deploy:…`) the same way.

A claim matters only while its job may ask for the same key again: a reminder's claim moves
the session's due time in the same unit of work, so it is asked for again at most by a process
that read the session before; a week's digest is asked for within its week. `ClaimPruner`, a
job of the tick, drops the older ones, so claims do not grow with the number of reminders
ever sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import Clock, format_utc

if TYPE_CHECKING:
    from core.models import GoWindow
    from core.ports import UnitOfWork

REMINDER_CLAIMS_KEPT = timedelta(days=1)
CLAIMS_KEPT = timedelta(days=8)  # a week, and a day's margin
PRUNE_EVERY = timedelta(hours=1)  # claims are kept for days: pruning each tick only costs I/O


def reminder_key(session_id: str, due: datetime) -> str:
    return f"reminder:{session_id}:{format_utc(due)}"


def window_key(window: GoWindow, what: str) -> str:
    """A moved window has a new revision: its messages are owed again."""
    return f"window:{window.id}:{what}:{window.revision}"


def digest_key(week: str) -> str:
    return f"digest:{week}"


class ClaimPruner:
    """The tick's job that forgets the claims that can no longer matter, once an hour."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._next: datetime | None = None  # when this process prunes again

    def tick(self) -> int:
        """How many claims were dropped (at most once every `PRUNE_EVERY`)."""
        now = self._clock.now()
        if self._next is not None and now < self._next:
            return 0
        self._next = now + PRUNE_EVERY
        with self._uow:
            pruned = self._uow.claims.prune(now - REMINDER_CLAIMS_KEPT, prefix="reminder:")
            pruned += self._uow.claims.prune(now - CLAIMS_KEPT)
            self._uow.commit()
        return pruned
