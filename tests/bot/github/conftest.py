"""The GitHub boundary for tests: the loopback GitHub API (bot.dev.fake_github) that gobot's
real HTTP client answers, and deployment protection rule webhooks shaped as GitHub sends them
(octokit/webhooks' payload schema of `deployment_protection_rule` `requested`), signed with the
webhook secret and sent through the real HTTP app."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.dev.fake_github import FAKE_APP_ID, FakeGithub, generate_key_pair
from tests.bot.conftest import SlackHarness
from tests.conftest import FakeClock

WEBHOOK_SECRET = "test-github-webhook-secret"
Keys = tuple[str, str]


@pytest.fixture(scope="session")
def keys() -> Keys:
    return generate_key_pair()


@pytest.fixture
def github(keys: Keys, clock: FakeClock) -> Iterator[FakeGithub]:
    with FakeGithub(keys[1], clock=clock) as fake:
        yield fake


def github_settings(fake: FakeGithub, private_key: str, **more: str) -> dict[str, str]:
    return {
        "github_app_id": FAKE_APP_ID,
        "github_private_key": private_key,
        "github_webhook_secret": WEBHOOK_SECRET,
        "github_environments": "production=C1,staging=C1:3",
        "github_api_url": fake.api_url,
        **more,
    }


@pytest.fixture
def gated(
    make_harness: Callable[..., SlackHarness],
    github: FakeGithub,
    keys: Keys,
    store_settings: dict[str, Any],
) -> SlackHarness:
    """gobot with a GitHub App pointed at the loopback GitHub, on each store."""
    return make_harness(**github_settings(github, keys[0]), **store_settings)


def protection_rule(
    fake: FakeGithub,
    run_id: int = 7,
    environment: str = "production",
    sha: str = "abc1234def5678abc1234def5678abc1234def56",
    creator: str = "octocat",
) -> dict[str, Any]:
    """A `deployment_protection_rule` (`requested`) payload as GitHub sends it."""
    repo = {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": "shop",
        "full_name": "acme/shop",
        "private": False,
        "owner": {"login": "acme", "id": 1, "type": "Organization"},
    }
    user = {"login": creator, "id": 583231, "type": "User"}
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": fake.callback_url("acme", "shop", run_id),
        "deployment": {
            "url": f"https://api.github.com/repos/acme/shop/deployments/{run_id}00",
            "id": run_id * 100,
            "node_id": "DE_kwDOAAAB",
            "sha": sha,
            "ref": "main",
            "task": "deploy",
            "payload": {},
            "original_environment": environment,
            "environment": environment,
            "description": None,
            "creator": user,
            "created_at": "2026-01-01T09:00:00Z",
            "updated_at": "2026-01-01T09:00:00Z",
            "statuses_url": "https://api.github.com/repos/acme/shop/deployments/1/statuses",
            "repository_url": "https://api.github.com/repos/acme/shop",
        },
        "pull_requests": [],
        "repository": repo,
        "organization": {"login": "acme", "id": 1},
        "sender": user,
        "installation": {"id": 11, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }


def signed(
    body: bytes, secret: str = WEBHOOK_SECRET, event: str = "deployment_protection_rule"
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def send_webhook(
    http: TestClient | httpx.Client, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, dict[str, str]]:
    """A webhook as GitHub delivers it; the response and the headers sent (to deliver again)."""
    body = json.dumps(payload).encode()
    headers = headers or signed(body)
    return http.post("/github/webhook", content=body, headers=headers), headers
