"""A commit whose answer is lost (PostgreSQL committed; the connection broke before gobot heard
so): the operator is told gobot cannot know, never "nothing changed", and the same command sent
again is not done twice. Signed Slack requests into the real app; a proxy loses the answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from core.stores.postgres.database import close_database
from tests.bot.conftest import SlackHarness
from tests.conftest import PG_URL
from tests.pg_proxy import CommitDropper, commit_dropper


@pytest.fixture
def dropper() -> Iterator[CommitDropper]:
    where = urlsplit(PG_URL)
    with commit_dropper(where.hostname or "127.0.0.1", where.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def harness(
    make_harness: Callable[..., SlackHarness], dropper: CommitDropper
) -> Iterator[SlackHarness]:
    schema = f"gobot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    where = urlsplit(PG_URL)
    url = (
        f"postgresql://{where.username}@127.0.0.1:{dropper.port}{where.path}"
        f"?sslmode=disable&gssencmode=disable&options=-csearch_path%3D{schema}"
    )
    yield make_harness(store="postgres", database_url=url)
    close_database(url)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_lost_commit_answer_is_said_and_the_retry_adds_nothing(
    harness: SlackHarness, dropper: CommitDropper
) -> None:
    harness.run("/go-start", "release 44")
    dropper.arm(b"GO_NOTE_ADDED")
    said = harness.run("/go-note", "canary at 5%")
    assert dropper.dropped.is_set()
    assert "cannot know whether it was kept" in said
    assert "Check with `/go-session` before trying again" in said
    assert "Nothing changed" not in said
    again = harness.run("/go-note", "canary at 5%")
    assert "on the session's timeline already" in again and "not added twice" in again
    notes = [e.text for e in harness.services.sessions.get().timeline if e.kind == "note"]
    assert notes == ["canary at 5%"]
    assert "Added to the session's timeline" in harness.run("/go-note", "canary at 25%")
