"""The weekly digest: once a week, at a weekday and time in a time zone (`mon 09:00
Europe/Berlin`), one message to a channel with the past week's sessions (how many, total and
longest duration, outcomes, playbook completion, drift seen, overruns) and the windows and
change freezes of the coming week (a freeze that began before it and still holds, too).

The week's sessions are asked of the store by their end time (the store's cost follows the
week, not the length of history). The week's digest is claimed by key (`digest:<week>`,
core/claims.py) inside one unit of work with the message it owes, so it goes out once however
many processes tick (a tick after that reads the claim, not the history); one missed while
gobot was down goes out at its next tick, if that is still the same week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.claims import digest_key
from core.clock import Clock
from core.models import AuditEvent, GoSession, GoWindow, PlaybookStep
from core.outbox import DigestPayload, new_item_id, notice_item
from core.ports import UnitOfWork
from core.weekly import WeeklyAt
from core.windows import MAX_FREEZE, WindowService

WEEK = timedelta(days=7)
MAX_SESSIONS = 10_000  # of one week


@dataclass(frozen=True)
class DigestPlan:
    channel: str
    at: WeeklyAt


def summarize(
    week: str,
    *,
    since: datetime,
    until: datetime,
    sessions: Sequence[GoSession],
    steps: Sequence[PlaybookStep],
    windows: list[GoWindow],
) -> DigestPayload:
    """The week's figures from its ended sessions."""
    durations = [(s.duration_seconds or 0, s.id or "") for s in sessions]
    longest, longest_id = max(durations, default=(0.0, ""))
    step_ids = {step.id for step in steps}
    done = [len(step_ids & set(s.playbook)) for s in sessions]
    return DigestPayload(
        week=week,
        since_utc=since,
        until_utc=until,
        count=len(sessions),
        total_seconds=round(sum(seconds for seconds, _ in durations)),
        longest_seconds=round(longest),
        longest_id=longest_id or None,
        outcomes=dict(Counter(s.outcome or "not recorded" for s in sessions)),
        steps_done=sum(done),
        steps_total=len(steps) * len(sessions),
        all_steps_done=sum(count == len(step_ids) for count in done) if step_ids else 0,
        drifted=sum(_drifted(s) for s in sessions),
        overruns=sum(s.overrun is not None for s in sessions),
        windows=windows,
    )


def _drifted(session: GoSession) -> bool:
    start, end = session.snapshot, session.end_snapshot
    if start is None or end is None:
        return False
    return (start.cone.band, start.status.status) != (end.cone.band, end.status.status)


class DigestService:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        windows: WindowService,
        steps: Sequence[PlaybookStep],
        plan: DigestPlan | None,
        *,
        new_id: Callable[[], str] = new_item_id,
    ) -> None:
        """`plan` None: no digest (GOBOT_DIGEST_CHANNEL unset)."""
        self._uow = uow
        self._clock = clock
        self._windows = windows
        self._steps = steps
        self._plan = plan
        self._new_id = new_id

    def tick(self) -> int:
        """Owe this week's digest if it is due and nobody has: 1 if this call owed it."""
        plan = self._plan
        if plan is None:
            return 0
        now = self._clock.now()
        week, due = plan.at.this_week(now)
        if now < due or self._uow.claims.claimed(digest_key(week)):
            return 0  # before its time, or owed already: the history is not read for it
        since, until = due - WEEK, due
        # read before the claim's unit of work: the history is not read under its lock
        ended = self._uow.sessions.history(MAX_SESSIONS, since=since, until=until)
        coming = [
            w
            for w in self._windows.between(due - MAX_FREEZE, due + WEEK)
            if w.status == "scheduled" and w.ends_at_utc > due
        ]
        payload = summarize(
            week, since=since, until=until, sessions=ended, steps=self._steps, windows=coming
        )
        with self._uow:
            if not self._uow.claims.claim(digest_key(week), now):
                return 0
            self._uow.audit.append(
                AuditEvent(
                    event="GO_DIGEST_SENT",
                    actor="gobot",
                    channel=plan.channel,
                    data={"week": week, "sessions": payload.count, "windows": len(coming)},
                ),
                now,
            )
            self._uow.outbox.add(
                [
                    notice_item(
                        "digest",
                        payload,
                        key=digest_key(week),
                        scope="digest",
                        channel=plan.channel,
                        now=now,
                        item_id=self._new_id(),
                    )
                ]
            )
            self._uow.commit()
        return 1
