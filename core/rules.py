"""Rules the stores share, stated once: the JSON store evaluates them in Python, the PostgreSQL
store has its SQL written from them.

A time rule compares named times with `now` (`AtOrBefore`: set and at or before now; `After`:
set and after now) and combines them (`AnyOf`, `AllOf`, `Not`). `holds` decides it for values
at hand; `sql` writes it as a condition on columns, with `%(now)s` for now and an unset time as
NULL (a negation is pushed down to the comparisons, so NULLs mean what None means in Python and
plain comparisons keep their indexes usable).

The session store's write rules are here too: their preconditions, one active session per
scope, a session ended only while it is its scope's active one, replaced only while it is its
scope's latest. The JSON store checks them on the scope's latest session; PostgreSQL enforces
them in its statements (a partial unique index, `WHERE ... AND active`, the scope's latest row)
and reports them with these errors. A button acts only on its own session, where it was
clicked (`not_this_session` says why not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.errors import NoActiveSession, SessionAlreadyActive, SessionElsewhere
from core.models import GoSession

Times = Mapping[str, datetime | None]


@dataclass(frozen=True)
class AtOrBefore:
    name: str

    def holds(self, times: Times, now: datetime) -> bool:
        value = times[self.name]
        return value is not None and value <= now

    def sql(self, columns: Mapping[str, str], negated: bool = False) -> str:
        column = columns[self.name]
        return f"({column} IS NULL OR {column} > %(now)s)" if negated else f"{column} <= %(now)s"


@dataclass(frozen=True)
class After:
    name: str

    def holds(self, times: Times, now: datetime) -> bool:
        value = times[self.name]
        return value is not None and value > now

    def sql(self, columns: Mapping[str, str], negated: bool = False) -> str:
        column = columns[self.name]
        return f"({column} IS NULL OR {column} <= %(now)s)" if negated else f"{column} > %(now)s"


@dataclass(frozen=True)
class Not:
    rule: TimeRule

    def holds(self, times: Times, now: datetime) -> bool:
        return not self.rule.holds(times, now)

    def sql(self, columns: Mapping[str, str], negated: bool = False) -> str:
        return self.rule.sql(columns, not negated)


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[TimeRule, ...]

    def holds(self, times: Times, now: datetime) -> bool:
        return any(rule.holds(times, now) for rule in self.rules)

    def sql(self, columns: Mapping[str, str], negated: bool = False) -> str:
        joiner = " AND " if negated else " OR "
        return "(" + joiner.join(rule.sql(columns, negated) for rule in self.rules) + ")"


@dataclass(frozen=True)
class AllOf:
    rules: tuple[TimeRule, ...]

    def holds(self, times: Times, now: datetime) -> bool:
        return all(rule.holds(times, now) for rule in self.rules)

    def sql(self, columns: Mapping[str, str], negated: bool = False) -> str:
        joiner = " OR " if negated else " AND "
        return "(" + joiner.join(rule.sql(columns, negated) for rule in self.rules) + ")"


TimeRule = AtOrBefore | After | Not | AnyOf | AllOf

# An active session is due when its next reminder or its next health check has come.
SESSION_DUE: TimeRule = AnyOf((AtOrBefore("next_due"), AtOrBefore("next_check")))


def session_times(session: GoSession) -> Times:
    return {"next_due": session.reminder.next_due_utc, "next_check": session.watch.next_check_utc}


def require_to_create(session: GoSession) -> str:
    """The scope of a session the store may create (an active one with a scope)."""
    if not session.active or not session.scope:
        raise ValueError("create() takes an active session with a scope")
    return session.scope


def require_to_finish(ended: GoSession) -> str:
    """The scope of a session the store may finish (an ended one with a scope)."""
    if ended.active or not ended.scope:
        raise ValueError("finish() takes an ended session with a scope")
    return ended.scope


def require_to_replace(session: GoSession) -> str:
    """The scope of a session the store may replace (one with a scope)."""
    if not session.scope:
        raise ValueError("replace() takes a session with a scope")
    return session.scope


def refuse_second_active(current: GoSession | None) -> None:
    """One active session per scope: a session may start only if the scope's latest
    (`current`) has ended."""
    if current is not None and current.active:
        raise SessionAlreadyActive.about(current)


def not_this_session(clicked: GoSession | None, ended: str) -> NoActiveSession:
    """Why a button of session `clicked` cannot act where it was clicked: that session is live
    in another channel, or it has ended (`ended` says so)."""
    if clicked is not None and clicked.active:
        return SessionElsewhere(clicked)
    return NoActiveSession(ended)


def ended_already() -> NoActiveSession:
    return NoActiveSession("The session was already ended.")


def require_active(current: GoSession | None, ended: GoSession) -> None:
    """A session is ended only while it is its scope's active one."""
    if current is None or not current.active or current.id != ended.id:
        raise ended_already()


def is_latest(current: GoSession | None, session: GoSession) -> bool:
    """A session is replaced only while it is its scope's latest (`current`)."""
    return current is not None and current.id == session.id
