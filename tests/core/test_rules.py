"""The rules the stores share: the SQL written from a rule decides as the rule does in Python,
for every combination of unset, earlier, equal and later times (asked of PostgreSQL itself)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import psycopg
import pytest

from core.errors import NoActiveSession, SessionAlreadyActive
from core.models import GoSession
from core.outbox import BEING_SENT, READY
from core.rules import (
    SESSION_DUE,
    AllOf,
    AnyOf,
    AtOrBefore,
    Not,
    TimeRule,
    is_latest,
    refuse_second_active,
    require_active,
    require_to_create,
    require_to_finish,
    require_to_replace,
)
from tests.conftest import PG_URL, T0, postgres_problem

CHOICES = (None, T0 - timedelta(seconds=1), T0, T0 + timedelta(seconds=1))
RULES: dict[str, tuple[TimeRule, tuple[str, str]]] = {
    "session due": (SESSION_DUE, ("next_due", "next_check")),
    "outbox ready": (READY, ("next_attempt", "lease_until")),
    "outbox being sent": (BEING_SENT, ("next_attempt", "lease_until")),
    "not being sent": (Not(BEING_SENT), ("next_attempt", "lease_until")),
    "neither due": (Not(AnyOf((AtOrBefore("a"), AtOrBefore("b")))), ("a", "b")),
    "not both": (Not(AllOf((AtOrBefore("a"), Not(AtOrBefore("b"))))), ("a", "b")),
}


@pytest.mark.skipif(postgres_problem() is not None, reason="needs PostgreSQL")
@pytest.mark.parametrize("name", list(RULES))
def test_the_sql_of_a_rule_decides_as_the_rule(name: str) -> None:
    rule, names = RULES[name]
    cases = list(itertools.product(CHOICES, repeat=2))
    columns = {field: field for field in names}
    with psycopg.connect(PG_URL) as db:
        for first, second in cases:
            row = db.execute(
                f"SELECT coalesce({rule.sql(columns)}, false) FROM (SELECT "
                f"%(first)s::timestamptz AS {names[0]}, %(second)s::timestamptz AS {names[1]}) t",
                {"first": first, "second": second, "now": T0},
            ).fetchone()
            times: dict[str, datetime | None] = {names[0]: first, names[1]: second}
            assert row is not None and row[0] is rule.holds(times, T0), (first, second)


def test_a_rule_reads_as_the_comparisons_it_is_made_of() -> None:
    columns = {"next_due": "next_due", "next_check": "next_check"}
    assert SESSION_DUE.sql(columns) == "(next_due <= %(now)s OR next_check <= %(now)s)"
    outbox = {"next_attempt": "next_attempt", "lease_until": "lease_until"}
    assert READY.sql(outbox) == (
        "(next_attempt <= %(now)s AND (lease_until IS NULL OR lease_until <= %(now)s))"
    )


def test_the_session_stores_preconditions() -> None:
    active = GoSession(active=True, id="s1", scope="workspace")
    ended = active.model_copy(update={"active": False})
    assert require_to_create(active) == require_to_finish(ended) == "workspace"
    assert require_to_replace(ended) == "workspace"
    with pytest.raises(ValueError, match="create"):
        require_to_create(ended)
    with pytest.raises(ValueError, match="finish"):
        require_to_finish(active)
    with pytest.raises(ValueError, match="replace"):
        require_to_replace(active.model_copy(update={"scope": None}))


def test_the_session_stores_rules_on_the_scopes_latest_session() -> None:
    current = GoSession(active=True, id="s1", scope="workspace")
    ended = current.model_copy(update={"active": False})
    refuse_second_active(None)
    refuse_second_active(ended)
    with pytest.raises(SessionAlreadyActive):
        refuse_second_active(current)
    require_active(current, ended)
    for latest in (None, ended, current.model_copy(update={"id": "s2"})):
        with pytest.raises(NoActiveSession, match="already ended"):
            require_active(latest, ended)
    assert is_latest(current, ended) and is_latest(ended, ended)
    assert not is_latest(None, ended) and not is_latest(
        current.model_copy(update={"id": "s2"}), ended
    )
