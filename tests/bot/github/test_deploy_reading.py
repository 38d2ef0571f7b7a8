"""The deployments read back: REST `GET /core/go/deployments` (the waiting ones and the recent
answered ones, newest first, bounded), and a session's report (`/go-report`, `gobot report`,
REST `GET /core/go/sessions/{id}`) listing the deployments decided in it; deployments asked
through signed webhooks, on both stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_github import FakeGithub
from tests.bot.conftest import SlackHarness
from tests.bot.github.conftest import Keys, github_settings, protection_rule, send_webhook
from tests.bot.test_cli import printed, store_env
from tests.conftest import FakeClock, wait_until

API_KEY = "test-api-key-not-real"


@pytest.fixture
def gated(
    make_harness: Callable[..., SlackHarness],
    github: FakeGithub,
    keys: Keys,
    store_settings: dict[str, Any],
) -> SlackHarness:
    """gobot with a GitHub App and REST on, on each store."""
    return make_harness(**github_settings(github, keys[0]), api_key=API_KEY, **store_settings)


def deployments(gated: SlackHarness, query: str = "") -> list[dict[str, Any]]:
    response = gated.http.get(f"/core/go/deployments{query}", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def ask(gated: SlackHarness, github: FakeGithub, run_id: int, environment: str) -> None:
    response, _ = send_webhook(gated.http, protection_rule(github, run_id, environment))
    assert response.status_code == 202, response.text


def test_rest_lists_the_waiting_and_the_recent_answered_deployments(
    gated: SlackHarness, github: FakeGithub, clock: FakeClock
) -> None:
    assert deployments(gated) == []
    assert gated.http.get("/core/go/deployments").status_code == 401
    ask(gated, github, 1, "qa")  # not gated: rejected at once
    clock.advance(timedelta(minutes=1))
    ask(gated, github, 2, "production")  # no session: it waits
    waiting = gated.services.deployments
    assert waiting is not None
    wait_until(lambda: waiting.waiting() and waiting.waiting()[0].reason, what="it waits")

    listed = deployments(gated)
    assert [(d["environment"], d["state"]) for d in listed] == [
        ("production", "pending"),
        ("qa", "rejected"),
    ]
    assert listed[0]["repository"] == "acme/shop" and listed[0]["creator"] == "octocat"
    assert "GOBOT_GITHUB_ENVIRONMENTS" in listed[1]["reason"]
    assert [d["environment"] for d in deployments(gated, "?limit=1")] == ["production"]
    too_many = gated.http.get("/core/go/deployments?limit=1000", headers={"X-API-Key": API_KEY})
    assert too_many.status_code == 422


def test_a_sessions_report_lists_the_deployments_decided_in_it(
    gated: SlackHarness,
    github: FakeGithub,
    data_dir: Path,
    store_settings: dict[str, Any],
    clock: FakeClock,
) -> None:
    ask(gated, github, 1, "production")  # before any session: waits, then goes at the start
    waiting = gated.services.deployments
    assert waiting is not None
    wait_until(lambda: waiting.waiting() and waiting.waiting()[0].reason, what="it waits")
    gated.run("/go-start", "release")
    clock.advance(timedelta(minutes=1))
    ask(gated, github, 2, "staging")  # gated on step 3: waits in the session, rejected at its end
    wait_until(lambda: any(d.session_id for d in waiting.waiting()), what="it waits in it")
    during = gated.run("/go-report")
    assert "*Deployments* 2 from GitHub" in during
    assert "production: acme/shop@abc1234 (main) approved at" in during
    assert "staging: acme/shop@abc1234 (main) waiting (asked by octocat at" in during
    gated.run("/go-end", "done")
    gated.tick()
    session_id = gated.services.sessions.get("C1").id or ""
    gated.run("/go-start", "another")  # a later session decided none of them
    later = gated.services.sessions.get("C1").id or ""

    said = gated.run("/go-report")
    assert "Deployments" not in said
    report = gated.http.get(f"/core/go/sessions/{session_id}", headers={"X-API-Key": API_KEY})
    assert report.status_code == 200
    assert [(d["environment"], d["state"]) for d in report.json()["deployments"]] == [
        ("production", "approved"),
        ("staging", "rejected"),
    ]
    md = printed(data_dir, "report", session_id, "--format", "md", **store_env(store_settings))
    assert "**Deployments** 2 from GitHub" in md
    assert "- production: acme/shop@abc1234 (main) approved at" in md
    assert "- staging: acme/shop@abc1234 (main) rejected at" in md
    assert "ended before this deploy was allowed" in md
    as_json = json.loads(
        printed(data_dir, "report", later, "--format", "json", **store_env(store_settings))
    )
    assert as_json["deployments"] == []
