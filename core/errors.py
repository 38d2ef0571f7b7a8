"""Typed domain errors. Each carries a plain-text message fit to show an operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.clock import format_utc

if TYPE_CHECKING:
    from core.models import GoSession, GoWindow


class GoError(Exception):
    """Base of every error an operator may see; `code` is stable for clients and metrics."""

    code = "go_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(GoError):
    code = "invalid_input"


class SessionAlreadyActive(GoError):
    code = "session_already_active"

    def __init__(self, message: str, session: GoSession) -> None:
        super().__init__(message)
        self.session = session

    @classmethod
    def about(cls, session: GoSession) -> SessionAlreadyActive:
        where = f" in {session.channel}" if session.channel else ""
        when = format_utc(session.started_at_utc) if session.started_at_utc else "an unknown time"
        return cls(
            f"A GO session is already active: started by {session.started_by or 'unknown'}"
            f"{where} at {when}.",
            session,
        )


class NoActiveSession(GoError):
    code = "no_active_session"


class SessionElsewhere(NoActiveSession):
    """A button of a session that is live, but in another channel than where it was clicked."""

    code = "session_elsewhere"

    def __init__(self, session: GoSession) -> None:
        super().__init__(
            f"That button belongs to the GO session in {session.channel or 'another channel'}: "
            "use it there. Nothing changed."
        )
        self.session = session


class UnknownStep(GoError):
    code = "unknown_step"


class StepBlocked(GoError):
    code = "step_blocked"


class PermissionDenied(GoError):
    code = "permission_denied"


class StoreCorrupted(GoError):
    code = "store_corrupted"


class StoreUnavailable(GoError):
    """The store could not take a change (disk full, read-only, database down). Unless `kept`,
    nothing of the change was kept; the message says why, in an operator's words."""

    code = "store_unavailable"

    def __init__(self, message: str, *, kept: bool = False) -> None:
        super().__init__(message)
        self.kept = kept


class OutcomeUnknown(StoreUnavailable):
    """The store took the change but its answer was lost (the database connection broke during
    the commit): the change may or may not have been kept. Each change is safe to ask for again
    (a repeat is recognised and not done twice), so the operator is told to check, then
    retry."""

    code = "outcome_unknown"


class UnknownSession(GoError):
    code = "unknown_session"


class UnknownWindow(GoError):
    code = "unknown_window"


class FreezeInForce(GoError):
    """A change freeze holds in the scope: nothing starts there unless an admin overrides it,
    saying why."""

    code = "freeze_in_force"

    def __init__(self, freeze: GoWindow) -> None:
        why = f": {freeze.notes}" if freeze.notes else ""
        super().__init__(
            f"A change freeze is in force until {format_utc(freeze.ends_at_utc)}{why} (freeze "
            f"{freeze.id}). A gobot admin may start anyway, saying why: "
            "/go-start --override <reason>."
        )
        self.freeze = freeze
