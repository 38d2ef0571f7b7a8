"""`gobot local`'s GitHub: the demo is its own GitHub App, so that `deploy ENV` can show the
deploy gate end to end with nothing leaving the machine.

The demo generates the app's key pair and webhook secret, gates `production` and `staging` in
its channel (GOBOT_GITHUB_ENVIRONMENTS) and points GOBOT_GITHUB_API_URL at the loopback GitHub
(bot.dev.fake_github), which checks the app's JWT and installation token as GitHub does. `deploy
ENV` sends a `deployment_protection_rule` webhook shaped as GitHub's, signed with the secret,
into the real HTTP app (`POST /github/webhook`); every answer GitHub then receives (approved or
rejected, and the comment) is shown once, when it arrives, however much later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.types import ASGIApp

from bot.bootstrap import Runtime
from bot.dev.fake_github import FAKE_APP_ID, FakeGithub, generate_key_pair
from bot.github.webhook import PROTECTION_RULE, ProtectionRuleRequested
from bot.settings import GithubEnvironment, Settings
from bot.web.guard import GITHUB_PATH
from bot.web.server import create_http_app
from core.clock import Clock

ENVIRONMENTS = ("production", "staging")
REPOSITORY = ("acme", "shop")
CREATOR = "octocat"
INSTALLATION = 1


@dataclass(frozen=True)
class Asked:
    """A deploy the demo asked gobot about: what it was, and the key of its judging work."""

    what: str
    work: str


class LocalGithub:
    def __init__(self, channel: str, clock: Clock) -> None:
        """`clock`: the demo's, which the app's JWT is signed on and checked against."""
        private_key, public_key = generate_key_pair()
        self._private_key = private_key
        self._secret = secrets.token_hex(16)
        self._channel = channel
        self._fake = FakeGithub(public_key, clock=clock).start()
        self._app: ASGIApp | None = None
        self._asked: dict[tuple[int, str], str] = {}  # (run, environment) -> what was asked
        self._shown = 0

    def configure(self, settings: Settings) -> Settings:
        """`settings` with the demo's GitHub App, whatever GOBOT_GITHUB_… says."""
        return settings.model_copy(
            update={
                "github_app_id": FAKE_APP_ID,
                "github_private_key": SecretStr(self._private_key),
                "github_webhook_secret": SecretStr(self._secret),
                "github_environments": {
                    name: GithubEnvironment(channel=self._channel) for name in ENVIRONMENTS
                },
                "github_api_url": self._fake.api_url,
            }
        )

    def attach(self, runtime: Runtime) -> None:
        """The local gobot's HTTP app, which the webhooks are sent to."""
        self._app = create_http_app(runtime)

    def close(self) -> None:
        self._fake.stop()

    def deploy(self, environment: str) -> tuple[str, Asked | None]:
        """Send GitHub's webhook for a new run deploying to `environment`: what to say, and
        what was asked (None when gobot did not take it)."""
        assert self._app is not None, "attach first"
        run = len(self._asked) + 1
        sha = secrets.token_hex(20)
        owner, name = REPOSITORY
        payload = _protection_rule(environment, sha, self._fake.callback_url(owner, name, run), run)
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        digest = hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": PROTECTION_RULE,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={digest}",
            "Content-Type": "application/json",
        }
        asked = ProtectionRuleRequested.model_validate(payload).asked(delivery)
        what = f"the deploy of {owner}/{name}@{sha[:7]} to {environment}"
        self._asked[(run, environment)] = what
        response = asyncio.run(_post(self._app, body, headers))
        detail = str(response.json().get("detail", "")) if response.content else ""
        said = f"(GitHub asks gobot about {what}: HTTP {response.status_code}, {detail})"
        taken = response.status_code == 202
        return said, Asked(what, f"deploy:{asked.key()}") if taken else None

    def answers(self) -> list[str]:
        """The answers GitHub received since the last call, one line each."""
        accepted = self._fake.accepted()
        new, self._shown = accepted[self._shown :], len(accepted)
        return [
            f"[GitHub receives] {self._asked.get((a.run_id, a.environment_name), 'a deploy')}: "
            f"{a.state}: {a.body.get('comment', '')}"
            for a in new
        ]


async def _post(app: ASGIApp, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """A request into the HTTP app as a client sends it, with no socket in between."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gobot.local") as client:
        return await client.post(GITHUB_PATH, content=body, headers=headers)


def _protection_rule(environment: str, sha: str, callback_url: str, run: int) -> dict[str, Any]:
    """A `deployment_protection_rule` (`requested`) payload as GitHub sends it."""
    owner, name = REPOSITORY
    user = {"login": CREATOR, "id": 583231, "type": "User"}
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": callback_url,
        "deployment": {
            "id": run,
            "sha": sha,
            "ref": "main",
            "task": "deploy",
            "environment": environment,
            "creator": user,
        },
        "repository": {
            "name": name,
            "full_name": f"{owner}/{name}",
            "owner": {"login": owner, "type": "Organization"},
        },
        "sender": user,
        "installation": {"id": INSTALLATION},
    }
