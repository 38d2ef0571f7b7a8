"""Ports the services depend on. core/stores implements them; tests may swap in fakes."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from core.audit import Verification
from core.models import (
    AuditEvent,
    Delivery,
    GoSession,
    PlaybookProgress,
    StepCompletion,
)


class SessionStore(Protocol):
    def transaction(self) -> AbstractContextManager[object]:
        """A block in which this store's writes and the audit appends are one unit, serialized
        against every other writer (every process). Read-check-write inside it is atomic."""
        ...

    def get(self, scope: str) -> GoSession | None:
        """The latest session of a scope, active or ended; None if the scope never had one."""
        ...

    def latest(self) -> GoSession | None:
        """The most recently started or ended session of any scope."""
        ...

    def active(self) -> list[GoSession]: ...

    def due(self, now_utc: str) -> list[GoSession]:
        """Active sessions with a reminder or a health check due at `now_utc` or before."""
        ...

    def create(self, session: GoSession) -> None:
        """Store a new active session; raise SessionAlreadyActive if its scope has one."""
        ...

    def finish(self, ended: GoSession) -> None:
        """Replace the active session of the same id with its ended form and add it to history.

        Raise NoActiveSession if that session is no longer the active one of its scope.
        """
        ...

    def replace(self, session: GoSession) -> bool:
        """Write a new version of the scope's current session (same id); False if the scope has
        moved on to another session. Callers check and write inside `transaction()`."""
        ...

    def history(self, limit: int, scope: str | None = None) -> list[GoSession]:
        """Ended sessions, newest first."""
        ...


class Notifier(Protocol):
    """Tells the channel about sessions. Called after state and audit are written: a failed
    delivery is reported back, never raised, and never undoes the session."""

    def session_started(self, session: GoSession) -> Delivery: ...

    def session_ended(self, session: GoSession) -> Delivery: ...


class NullNotifier:
    """For processes with no channel to tell (the CLI)."""

    def session_started(self, session: GoSession) -> Delivery:
        return Delivery()

    def session_ended(self, session: GoSession) -> Delivery:
        return Delivery()


class ProgressStore(Protocol):
    def transaction(self) -> AbstractContextManager[object]: ...

    def load(self) -> PlaybookProgress: ...

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        """Record a completion; return the earlier one instead if the step was already done."""
        ...

    def reset(self) -> None: ...


class AuditLog(Protocol):
    def append(self, event: AuditEvent, at_utc: str) -> dict[str, Any]:
        """Append one event to the hash chain and return the stored record."""
        ...

    def verify(self) -> Verification: ...

    def tail(self, limit: int) -> list[dict[str, Any]]:
        """The newest records, oldest first."""
        ...
