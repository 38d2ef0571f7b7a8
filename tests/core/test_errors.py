"""core/errors.py: every error an operator may see carries its message and a stable code."""

from __future__ import annotations

import pytest

from core import errors
from core.access import RateLimited
from core.errors import GoError, SessionAlreadyActive, StoreUnavailable
from core.models import GoSession
from tests.conftest import T0

CODES = {
    "GoError": "go_error",
    "InvalidInput": "invalid_input",
    "SessionAlreadyActive": "session_already_active",
    "NoActiveSession": "no_active_session",
    "UnknownStep": "unknown_step",
    "StepBlocked": "step_blocked",
    "PermissionDenied": "permission_denied",
    "StoreCorrupted": "store_corrupted",
    "StoreUnavailable": "store_unavailable",
    "OutcomeUnknown": "outcome_unknown",
    "SessionElsewhere": "session_elsewhere",
    "UnknownSession": "unknown_session",
    "UnknownWindow": "unknown_window",
    "FreezeInForce": "freeze_in_force",
}


def test_each_error_has_its_own_stable_code() -> None:
    found = {
        name: kind.code
        for name, kind in vars(errors).items()
        if isinstance(kind, type) and issubclass(kind, GoError)
    }
    assert found == CODES
    assert RateLimited.code == "rate_limited"
    assert len({*found.values(), RateLimited.code}) == len(found) + 1


TAKES_MORE = {"SessionAlreadyActive", "StoreUnavailable", "FreezeInForce", "SessionElsewhere"}


@pytest.mark.parametrize("name", sorted(set(CODES) - TAKES_MORE))
def test_the_message_is_what_the_operator_reads(name: str) -> None:
    error = getattr(errors, name)("Nothing was changed.")
    assert error.message == str(error) == "Nothing was changed."
    assert isinstance(error, GoError)


def test_already_active_names_who_where_and_when() -> None:
    session = GoSession(active=True, id="s1", channel="C1", started_by="U1", started_at_utc=T0)
    error = SessionAlreadyActive.about(session)
    assert error.message == (
        "A GO session is already active: started by U1 in C1 at 2026-01-01T09:00:00.000000Z."
    )
    assert error.session is session


def test_already_active_without_what_is_unknown() -> None:
    error = SessionAlreadyActive.about(GoSession(active=True, id="s1"))
    assert error.message == (
        "A GO session is already active: started by unknown at an unknown time."
    )


def test_store_unavailable_says_whether_the_change_was_kept() -> None:
    assert StoreUnavailable("The disk is full.").kept is False
    kept = StoreUnavailable("Recorded; the message will follow.", kept=True)
    assert (kept.kept, kept.message, kept.code) == (
        True,
        "Recorded; the message will follow.",
        "store_unavailable",
    )
