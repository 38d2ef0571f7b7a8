"""bot/dev/fake_github.py: the loopback GitHub checks the app JWT as GitHub does (signature,
issuer, iat and exp on its own clock), accepts a callback only with a token it issued and has
not revoked, refuses a second answer, and stops at once while it holds an answer back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import jwt
import pytest

from bot.dev.fake_github import FAKE_APP_ID, FakeGithub, Fault, generate_key_pair
from bot.github.api import app_jwt
from tests.conftest import T0, FakeClock, wait_until

Keys = tuple[str, str]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return generate_key_pair()


@pytest.fixture
def fake(keys: Keys, clock: FakeClock) -> Iterator[FakeGithub]:
    with FakeGithub(keys[1], clock=clock) as github:
        yield github


def exchange(fake: FakeGithub, signed: str) -> httpx.Response:
    return httpx.post(
        f"{fake.api_url}/app/installations/5/access_tokens",
        headers={"Authorization": f"Bearer {signed}"},
    )


def test_a_jwt_is_checked_as_github_checks_it(fake: FakeGithub, keys: Keys) -> None:
    claims = {"iat": int(T0.timestamp()) - 60, "exp": int(T0.timestamp()) + 540}
    cases = {
        "invalid JWT (InvalidIssuerError)": jwt.encode(
            {**claims, "iss": "1"}, keys[0], algorithm="RS256"
        ),
        "invalid JWT (MissingRequiredClaimError)": jwt.encode(claims, keys[0], algorithm="RS256"),
        "JWT not valid now (iat/exp)": app_jwt(FAKE_APP_ID, keys[0], T0 - timedelta(minutes=10)),
        "JWT exp too far in the future": jwt.encode(
            {**claims, "iss": FAKE_APP_ID, "exp": claims["exp"] + 120}, keys[0], algorithm="RS256"
        ),
    }
    for reason, signed in cases.items():
        refused = exchange(fake, signed)
        assert refused.status_code == 401, reason
        assert fake.token_requests[-1].refused == reason
    issued = exchange(fake, app_jwt(FAKE_APP_ID, keys[0], T0))
    assert issued.status_code == 201
    assert issued.json()["expires_at"] == "2026-01-01T10:00:00Z"


def test_a_callback_needs_a_live_token_it_issued(
    fake: FakeGithub, keys: Keys, clock: FakeClock
) -> None:
    url = fake.callback_url("acme", "shop", 3)
    body = {"environment_name": "production", "state": "approved", "comment": ""}
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer ghs_x"}).status_code == 401
    token = exchange(fake, app_jwt(FAKE_APP_ID, keys[0], T0)).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, json={"state": "approved"}, headers=auth).status_code == 422
    assert httpx.post(url, json=body, headers=auth).status_code == 204
    assert httpx.post(url, json=body, headers=auth).status_code == 422
    other = {**body, "environment_name": "staging"}
    assert httpx.post(url, json=other, headers=auth).status_code == 204
    assert [a.accepted for a in fake.answers] == [True, False, True]
    clock.advance(timedelta(hours=1))
    assert httpx.post(url, json=body, headers=auth).status_code == 401


def test_stop_returns_at_once_while_an_answer_is_held(keys: Keys, clock: FakeClock) -> None:
    fake = FakeGithub(keys[1], clock=clock).start()
    token = exchange(fake, app_jwt(FAKE_APP_ID, keys[0], T0)).json()["token"]
    fake.fail(Fault(delay=600))
    body = {"environment_name": "production", "state": "rejected", "comment": "frozen"}
    replies: list[int] = []

    def post() -> None:
        url = fake.callback_url("acme", "shop", 4)
        headers = {"Authorization": f"Bearer {token}"}
        replies.append(httpx.post(url, json=body, headers=headers, timeout=60).status_code)

    caller = threading.Thread(target=post)
    caller.start()
    wait_until(lambda: fake.answers, what="the answer taken")
    fake.stop()
    caller.join()
    assert replies == [502]
