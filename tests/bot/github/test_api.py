"""The GitHub App's client against the loopback GitHub (a real HTTP server, the real httpx
client): the app JWT, installation tokens cached until near expiry, and the one answer to a
deployment protection rule, whatever GitHub does after taking it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.dev.fake_github import FAKE_APP_ID, FakeGithub, Fault, generate_key_pair
from bot.github.api import GithubApi, api_base, app_jwt, load_private_key
from core.outbox import Failed, SendResult, Sent
from tests.conftest import T0, FakeClock

Keys = tuple[str, str]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return generate_key_pair()


@pytest.fixture
def fake(keys: Keys, clock: FakeClock) -> Iterator[FakeGithub]:
    with FakeGithub(keys[1], clock=clock) as github:
        yield github


@pytest.fixture
def api(fake: FakeGithub, keys: Keys, clock: FakeClock) -> Iterator[GithubApi]:
    with GithubApi(fake.api_url, FAKE_APP_ID, keys[0], clock, timeout=5.0) as client:
        yield client


def answer(
    api: GithubApi,
    fake: FakeGithub,
    run_id: int = 7,
    *,
    maybe_sent: bool = False,
    installation_id: int = 11,
) -> SendResult:
    return api.answer(
        installation_id=installation_id,
        callback_url=fake.callback_url("acme", "shop", run_id),
        environment_name="production",
        state="approved",
        comment="GO session open, step rollout done",
        maybe_sent=maybe_sent,
    )


def assert_no_secret(result: SendResult, fake: FakeGithub, keys: Keys) -> None:
    text = result.model_dump_json()
    assert not any(token in text for token in fake.tokens)
    assert "PRIVATE KEY" not in text and keys[0][40:80] not in text


def test_the_app_jwt_is_rs256_with_iat_backdated_and_exp_within_ten_minutes(keys: Keys) -> None:
    signed = app_jwt(FAKE_APP_ID, keys[0], T0)
    assert jwt.get_unverified_header(signed)["alg"] == "RS256"
    claims = jwt.decode(
        signed, keys[1], algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {
        "iat": int(T0.timestamp()) - 60,
        "exp": int(T0.timestamp()) + 9 * 60,
        "iss": FAKE_APP_ID,
    }


@pytest.mark.parametrize("prefix", ["", "/api/v3"])
def test_an_answer_lands_once_with_an_installation_token(
    keys: Keys, clock: FakeClock, prefix: str
) -> None:
    with (
        FakeGithub(keys[1], clock=clock, prefix=prefix) as fake,
        GithubApi(fake.api_url + "/", FAKE_APP_ID, keys[0], clock) as api,
    ):
        assert answer(api, fake) == Sent()
        (exchange,) = fake.token_requests
        assert exchange.refused is None and exchange.installation_id == 11
        assert exchange.claims is not None and exchange.claims["iss"] == FAKE_APP_ID
        (landed,) = fake.accepted()
        assert (landed.owner, landed.repo, landed.run_id) == ("acme", "shop", 7)
        assert landed.body == {
            "environment_name": "production",
            "state": "approved",
            "comment": "GO session open, step rollout done",
        }
        assert landed.headers["authorization"] == f"Bearer {next(iter(fake.tokens))}"
        assert landed.headers["accept"] == "application/vnd.github+json"
        assert landed.headers["x-github-api-version"] == "2022-11-28"


def test_the_token_is_cached_per_installation_and_renewed_five_minutes_before_expiry(
    api: GithubApi, fake: FakeGithub, clock: FakeClock
) -> None:
    first = api.installation_token(11)
    clock.advance(timedelta(minutes=54))
    assert api.installation_token(11) == first
    assert answer(api, fake, run_id=1) == Sent()
    assert len(fake.token_requests) == 1
    assert api.installation_token(12) != first  # another installation, another token
    clock.advance(timedelta(minutes=2))  # 4 minutes left: renewed
    assert answer(api, fake, run_id=2) == Sent()
    assert len(fake.token_requests) == 3
    assert fake.accepted()[-1].headers["authorization"] != f"Bearer {first}"


def test_threads_asking_at_once_share_one_exchange(api: GithubApi, fake: FakeGithub) -> None:
    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(api.installation_token(11))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tokens)) == 1 and len(tokens) == 8
    assert len(fake.token_requests) == 1


def test_a_refused_token_is_dropped_and_the_next_attempt_gets_a_new_one(
    api: GithubApi, fake: FakeGithub, keys: Keys
) -> None:
    api.installation_token(11)
    fake.revoke_tokens()
    refused = answer(api, fake)
    assert isinstance(refused, Failed)
    assert not (refused.permanent or refused.maybe_sent or refused.waiting)
    assert answer(api, fake) == Sent()
    assert len(fake.token_requests) == 2 and len(fake.accepted()) == 1
    assert_no_secret(refused, fake, keys)


@pytest.mark.parametrize(
    "fault",
    [Fault(status=502), Fault(status=500, html=True), Fault(status=200, html=True)],
    ids=["5xx", "html-error-page", "html-ok-page"],
)
def test_an_answer_taken_before_a_failure_is_not_given_twice(
    api: GithubApi, fake: FakeGithub, fault: Fault
) -> None:
    fake.fail(fault)
    unknown = answer(api, fake)
    assert isinstance(unknown, Failed) and unknown.maybe_sent and not unknown.permanent
    assert answer(api, fake, maybe_sent=True) == Sent()
    assert len(fake.answers) == 2 and len(fake.accepted()) == 1


def test_an_answer_taken_before_github_hangs_is_not_given_twice(
    fake: FakeGithub, keys: Keys, clock: FakeClock
) -> None:
    with GithubApi(fake.api_url, FAKE_APP_ID, keys[0], clock, timeout=0.3) as api:
        api.installation_token(11)
        fake.fail(Fault(delay=60))
        unknown = answer(api, fake)
        assert isinstance(unknown, Failed) and unknown.maybe_sent
        assert "ReadTimeout" in unknown.error
        assert answer(api, fake, maybe_sent=True) == Sent()
    assert len(fake.accepted()) == 1


def test_a_second_answer_refused_without_doubt_is_permanent(
    api: GithubApi, fake: FakeGithub
) -> None:
    assert answer(api, fake) == Sent()
    refused = answer(api, fake)
    assert isinstance(refused, Failed) and refused.permanent
    assert "HTTP 422" in refused.error and "No pending deployment requests" in refused.error


def test_a_refused_connection_sent_nothing(api: GithubApi, fake: FakeGithub) -> None:
    api.installation_token(11)
    fake.stop()
    failed = answer(api, fake)
    assert isinstance(failed, Failed)
    assert not (failed.maybe_sent or failed.permanent)
    assert "unreachable" in failed.error


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(T0.timestamp()) + 120)}, 120),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9999999999"}, 3600.0),
    ],
    ids=["retry-after", "reset", "reset-far-off"],
)
@pytest.mark.parametrize("status", [403, 429])
def test_a_rate_limit_is_retried_when_github_says(
    api: GithubApi, fake: FakeGithub, headers: dict[str, str], wait: float, status: int
) -> None:
    fake.fail(Fault(status=status, taken=False, headers=headers, message="rate limit exceeded"))
    limited = answer(api, fake)
    assert limited == Failed(error="GitHub rate limit on the deployment answer", retry_after=wait)
    assert answer(api, fake) == Sent()


def test_a_forbidden_answer_waits_for_a_person(api: GithubApi, fake: FakeGithub) -> None:
    fake.fail(Fault(status=403, taken=False, message="Resource not accessible by integration"))
    forbidden = answer(api, fake)
    assert isinstance(forbidden, Failed) and forbidden.waiting and not forbidden.permanent
    assert "Resource not accessible by integration" in forbidden.error


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        "{api}/repos/acme/shop/issues",
        "{api}/repos/../../app/actions/runs/7/deployment_protection_rule",
        "{api}/repos/acme/%2e%2e/actions/runs/7/deployment_protection_rule",
        "{api}x/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        "https://{host}/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        "http://[::1/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        "{api}/repos/acme/shop/actions/runs/7/deployment_protection_rule?to=x",
        "http://127.0.0.2:{port}/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        "http://user@{host}/repos/acme/shop/actions/runs/7/deployment_protection_rule",
    ],
)
def test_a_callback_outside_githubs_api_is_refused_before_any_token(
    api: GithubApi, fake: FakeGithub, url: str
) -> None:
    host = fake.url.removeprefix("http://")
    target = url.format(api=fake.api_url, port=host.split(":")[1], host=host)
    refused = api.answer(
        installation_id=11,
        callback_url=target,
        environment_name="production",
        state="rejected",
        comment="no",
        maybe_sent=False,
    )
    assert isinstance(refused, Failed) and refused.permanent
    assert "GOBOT_GITHUB_API_URL" in refused.error
    assert fake.token_requests == [] and fake.answers == []


def test_a_jwt_github_refuses_waits_for_a_person_and_shows_no_key(
    fake: FakeGithub, keys: Keys, clock: FakeClock
) -> None:
    other = generate_key_pair()[0]
    with GithubApi(fake.api_url, FAKE_APP_ID, other, clock) as api:
        refused = answer(api, fake)
    assert isinstance(refused, Failed) and refused.waiting and not refused.maybe_sent
    assert "HTTP 401" in refused.error
    assert fake.token_requests[0].refused == "invalid JWT (InvalidSignatureError)"
    assert_no_secret(refused, fake, keys)
    assert other[40:80] not in refused.error


def test_an_installation_github_does_not_know_is_permanent(keys: Keys, clock: FakeClock) -> None:
    with (
        FakeGithub(keys[1], clock=clock, installations={11}) as fake,
        GithubApi(fake.api_url, FAKE_APP_ID, keys[0], clock) as api,
    ):
        unknown = answer(api, fake, installation_id=12)
        assert isinstance(unknown, Failed) and unknown.permanent
        assert "HTTP 404" in unknown.error and "is the app installed?" in unknown.error
        assert answer(api, fake, installation_id=11) == Sent()


def test_the_api_base_is_joined_for_github_and_enterprise() -> None:
    assert api_base("https://api.github.com/") == "https://api.github.com"
    assert api_base(" https://ghe.example.com/api/v3/ ") == "https://ghe.example.com/api/v3"
    with pytest.raises(ValueError, match=r"^GOBOT_GITHUB_API_URL 'api\.github\.com' is not"):
        api_base("api.github.com")


def test_the_private_key_loads_from_text_escaped_text_or_a_file(keys: Keys, tmp_path: Path) -> None:
    private = keys[0]
    assert load_private_key(private) == private.strip() + "\n"
    assert load_private_key(private.strip().replace("\n", "\\n")) == private.strip() + "\n"
    pem = tmp_path / "app.private-key.pem"
    pem.write_text(private)
    assert load_private_key(str(pem)) == private.strip() + "\n"
    assert app_jwt("1", load_private_key(str(pem)), T0)


def test_a_bad_private_key_is_one_line_naming_the_variable(keys: Keys, tmp_path: Path) -> None:
    public = tmp_path / "public.pem"
    public.write_text(keys[1])
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    broken = keys[0].replace(keys[0][100:140], "x" * 40)
    cases = {
        " ": "is empty",
        str(tmp_path / "missing.pem"): "names no file",
        str(tmp_path): "cannot read (IsADirectoryError)",
        str(public): "holds no unencrypted RSA private key",
        ec_key.decode(): "holds no unencrypted RSA private key",
        broken: "holds no unencrypted RSA private key",
    }
    for value, reason in cases.items():
        with pytest.raises(ValueError) as raised:
            load_private_key(value)
        message = str(raised.value)
        assert message.startswith("GOBOT_GITHUB_PRIVATE_KEY ") and reason in message
        assert "\n" not in message and "PRIVATE KEY-----" not in message
        assert raised.value.__cause__ is None


def test_the_client_refuses_a_bad_key_at_once_and_never_logs_a_token(
    fake: FakeGithub, keys: Keys, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError, match=r"^GOBOT_GITHUB_PRIVATE_KEY holds no"):
        GithubApi(fake.api_url, FAKE_APP_ID, keys[1], clock)
    caplog.set_level("DEBUG")
    with GithubApi(fake.api_url, FAKE_APP_ID, keys[0], clock) as api:
        assert answer(api, fake) == Sent()
        assert answer(api, fake, maybe_sent=True) == Sent()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "installation token for installation 11, expires 2026-01-01T10:00:00Z" in logged
    assert not any(token in logged for token in fake.tokens)
    assert "BEGIN" not in logged and "Bearer" not in logged
