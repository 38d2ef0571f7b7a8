"""The deploy gate across processes: `gobot serve` killed between its decision and GitHub's
answer to it, and two replicas on one PostgreSQL; each deployment answered exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_github import FAKE_APP_ID, FakeGithub, Fault
from bot.dev.fake_slack import FakeSlack
from core.stores.json import JsonUnitOfWork
from tests.bot.conftest import ServeProcess
from tests.bot.github.conftest import WEBHOOK_SECRET, Keys, protection_rule, send_webhook
from tests.bot.test_replicas import pg_env, postgres_only
from tests.conftest import wait_until


@pytest.fixture
def real_time_github(keys: Keys) -> Iterator[FakeGithub]:
    """The loopback GitHub on the system clock, as `gobot serve` runs on it."""
    with FakeGithub(keys[1]) as fake:
        yield fake


def github_env(fake: FakeGithub, keys: Keys, **more: str) -> dict[str, str]:
    return {
        "GOBOT_GITHUB_APP_ID": FAKE_APP_ID,
        "GOBOT_GITHUB_PRIVATE_KEY": keys[0],
        "GOBOT_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GOBOT_GITHUB_ENVIRONMENTS": "production=C1",
        "GOBOT_GITHUB_API_URL": fake.api_url,
        "GOBOT_TICK": "200ms",
        "GOBOT_SLACK_TIMEOUT": "1s",  # a lease of 8 s: a killed sender's answer is retried soon
        **more,
    }


@pytest.mark.slow
def test_killed_between_decision_and_answer_github_is_answered_exactly_once_after_restart(
    fake_slack: FakeSlack, green: Path, real_time_github: FakeGithub, keys: Keys
) -> None:
    github = real_time_github
    env = github_env(github, keys)
    github.fail(Fault(status=204, taken=True, delay=60.0))  # taken, then no answer in time
    with ServeProcess.start(green, fake_slack, **env) as first:
        assert "GO session started" in first.harness(fake_slack).run("/go-start", "release")
        response, _ = send_webhook(first.client, protection_rule(github))
        assert response.status_code == 202
        wait_until(lambda: len(github.answers) == 1, what="the answer taken by GitHub")
        first.kill()  # SIGKILL while it waits for GitHub to confirm
    with ServeProcess.start(green, fake_slack, **env) as second:
        wait_until(lambda: JsonUnitOfWork(green).outbox.depth() == 0, what="the answer settled")
        second.wait_ticks(2)
    assert len(github.accepted()) == 1 and github.accepted()[0].state == "approved"
    [deployment] = JsonUnitOfWork(green).deployments.all()
    assert deployment.state == "approved"


@pytest.mark.slow
@postgres_only
def test_two_replicas_answer_a_waiting_deployment_once(
    fake_slack: FakeSlack,
    green: Path,
    real_time_github: FakeGithub,
    keys: Keys,
    store_settings: dict[str, Any],
) -> None:
    github = real_time_github
    env = {**github_env(github, keys), **pg_env(store_settings)}
    with (
        ServeProcess.start(green, fake_slack, **env) as one,
        ServeProcess.start(green, fake_slack, **env) as two,
    ):
        payload = protection_rule(github)
        response, headers = send_webhook(one.client, payload)
        assert response.status_code == 202
        again, _ = send_webhook(two.client, payload, headers)  # GitHub redelivers elsewhere
        assert again.status_code == 200
        waiting = "waiting for a GO session"
        assert fake_slack.wait_for(
            lambda f: any(waiting in str(c.params) for c in f.calls_to("chat.postMessage"))
        )
        assert "GO session started" in two.harness(fake_slack).run("/go-start", "release")
        wait_until(lambda: len(github.answers) >= 1, what="the answer")
        one.wait_ticks(3)
        two.wait_ticks(3)
    assert len(github.answers) == 1 and github.answers[0].state == "approved"
    shown = [c for c in fake_slack.calls_to("chat.postMessage") if waiting in str(c.params)]
    assert len(shown) == 1
