"""GitHub's REST API as gobot's GitHub App speaks it: the app's JWT (RS256), installation
tokens exchanged with it and cached until near expiry, and the one answer to a deployment
protection rule (approved or rejected), classified for the outbox like a Slack message.

Nothing here ever puts the private key, a JWT or a token in an error or a log line. The answer
is only ever sent to GitHub's API (`GOBOT_GITHUB_API_URL`): a callback URL elsewhere is refused,
so a forged payload cannot make gobot hand its token to another host.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.clock import Clock, format_utc, parse_utc
from core.outbox import Failed, SendResult, Sent

log = logging.getLogger("gobot.github")

GITHUB_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
GITHUB_TIMEOUT_SECONDS = 10.0
JWT_BACKDATE = timedelta(seconds=60)  # GitHub's advice, for clocks that drift
JWT_LIFETIME = timedelta(minutes=9)  # GitHub refuses more than 10 minutes
TOKEN_MARGIN = timedelta(minutes=5)  # a cached installation token is renewed this long before
MAX_RETRY_AFTER_SECONDS = 3600.0  # GitHub's rate limits reset within the hour
SECONDARY_LIMIT_SECONDS = 60.0  # GitHub's advice when a rate limit names no wait
MAX_MESSAGE = 200
KEY_VARIABLE = "GOBOT_GITHUB_PRIVATE_KEY"
PEM_BEGIN = "-----BEGIN"
# An owner and a repository are letters, digits, `-`, `_` and `.` (never `.` or `..` alone).
_NAME = r"(?!\.\.?/)[A-Za-z0-9_.-]+"
CALLBACK_PATH = re.compile(rf"/repos/{_NAME}/{_NAME}/actions/runs/\d+/deployment_protection_rule")
State = Literal["approved", "rejected"]


def app_jwt(app_id: str, private_key: str, now: datetime) -> str:
    """The app's JWT: signed with its private key (RS256), issued a minute ago (GitHub's
    advice, for clock drift) and valid for nine minutes from now."""
    claims = {
        "iat": math.floor((now - JWT_BACKDATE).timestamp()),
        "exp": math.floor((now + JWT_LIFETIME).timestamp()),
        "iss": app_id,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


def load_private_key(value: str) -> str:
    """The app's private key as PEM text: `value` itself when it is PEM (line breaks written
    as `\\n` in an environment variable are taken as line breaks), else the file it names.
    Anything that does not give an RSA private key is a `ValueError` in one line naming
    GOBOT_GITHUB_PRIVATE_KEY and the fix, which never shows the key."""
    fix = "set it to the app's private key (PEM text) or the path of its .pem file"
    if not value.strip():
        raise ValueError(f"{KEY_VARIABLE} is empty: {fix}")
    if PEM_BEGIN in value:
        text = value.strip().replace("\\n", "\n")
    else:
        try:
            text = Path(value.strip()).expanduser().read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ValueError(f"{KEY_VARIABLE} names no file: {fix}") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = type(exc).__name__
            message = f"{KEY_VARIABLE} names a file gobot cannot read ({reason}): {fix}"
            raise ValueError(message) from None
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(
            f"{KEY_VARIABLE} holds no unencrypted RSA private key in PEM: download a private "
            "key from the GitHub App's settings and give its text or the path of the .pem file"
        )
    return text + "\n"


def api_base(url: str) -> str:
    """GitHub's API base without a trailing slash (`https://api.github.com`, or
    `https://HOST/api/v3` for GitHub Enterprise Server); `ValueError` for what is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(
            f"GOBOT_GITHUB_API_URL {url!r} is not an http(s) URL: unset it for "
            f"{GITHUB_API_URL}, or give GitHub Enterprise's https://HOST/api/v3"
        )
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class GithubError(Exception):
    """A call to GitHub failed, as the outbox sees it."""

    def __init__(self, failure: Failed) -> None:
        super().__init__(failure.error)
        self.failure = failure


class GithubApi:
    """The GitHub App's client: one `httpx.Client`, installation tokens cached per
    installation (thread-safe: one exchange at a time per installation). `private_key` is
    checked as `load_private_key` checks it (a `ValueError` at once, not at the first answer)."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        private_key: str,
        clock: Clock,
        timeout: float = GITHUB_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = api_base(base_url)
        self._base = urlsplit(self.base_url)
        self._app_id = app_id
        self._private_key = load_private_key(private_key)
        self._clock = clock
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        )
        self._tokens: dict[int, _Token] = {}
        self._exchanges: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GithubApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # installation tokens -------------------------------------------------------------------
    def installation_token(self, installation_id: int) -> str:
        """A token of the installation, from the cache while it lasts more than five minutes,
        else exchanged for the app's JWT; `GithubError` when GitHub gives none."""
        with self._lock:
            exchange = self._exchanges.setdefault(installation_id, threading.Lock())
        with exchange:
            with self._lock:
                cached = self._tokens.get(installation_id)
            if cached is not None and self._clock.now() < cached.expires_at - TOKEN_MARGIN:
                return cached.value
            token = self._exchange(installation_id)
            with self._lock:
                self._tokens[installation_id] = token
            log.info(
                "installation token for installation %s, expires %s",
                installation_id,
                format_utc(token.expires_at, "seconds"),
            )
            return token.value

    def forget_token(self, installation_id: int) -> None:
        """Drop the cached token (GitHub refused it): the next call exchanges a new one."""
        with self._lock:
            self._tokens.pop(installation_id, None)

    def _exchange(self, installation_id: int) -> _Token:
        url = f"{self.base_url}/app/installations/{installation_id}/access_tokens"
        signed = app_jwt(self._app_id, self._private_key, self._clock.now())
        try:
            response = self._client.post(url, headers={"Authorization": f"Bearer {signed}"})
        except httpx.HTTPError as exc:
            raise GithubError(_transport_failure(exc, "installation token", sent=False)) from None
        if response.is_success:
            try:
                body = response.json()
                return _Token(str(body["token"]), parse_utc(str(body["expires_at"])))
            except (ValueError, KeyError, TypeError):
                error = "unreadable installation token from GitHub"
                raise GithubError(Failed(error=error)) from None
        failure = self._refusal(response, "installation token")
        if response.status_code == 401:
            # The JWT: a wrong app id or key, or a clock far off. A person must fix it.
            failure = Failed(error=failure.error, waiting=True)
        elif response.status_code == 404:
            failure = Failed(error=f"{failure.error} (is the app installed?)", permanent=True)
        raise GithubError(failure.model_copy(update={"maybe_sent": False}))

    # the answer ----------------------------------------------------------------------------
    def answer(
        self,
        *,
        installation_id: int,
        callback_url: str,
        environment_name: str,
        state: State,
        comment: str,
        maybe_sent: bool,
    ) -> SendResult:
        """Answer a deployment protection rule once. `maybe_sent`: an earlier attempt may have
        landed, so GitHub refusing a second answer (422) means the first one did."""
        refused = self._outside(callback_url)
        if refused is not None:
            return Failed(error=refused, permanent=True)
        try:
            token = self.installation_token(installation_id)
        except GithubError as exc:
            return exc.failure
        body = {"environment_name": environment_name, "state": state, "comment": comment}
        try:
            response = self._client.post(
                callback_url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            return _transport_failure(exc, "deployment answer", sent=True)
        status = response.status_code
        if response.is_success:
            if response.content.strip() and _json(response) is None:
                return Failed(error=_unreadable(status), maybe_sent=True)
            return Sent()
        if status == 401:
            self.forget_token(installation_id)
            return Failed(error="GitHub refused the installation token (HTTP 401)")
        if status == 422 and maybe_sent and _json(response) is not None:
            log.info("GitHub refused a second answer: the first one landed")
            return Sent()
        return self._refusal(response, "deployment answer")

    def _outside(self, callback_url: str) -> str | None:
        """Why `callback_url` is not a deployment callback of GitHub's API, or None."""
        base = self._base
        try:
            parts = urlsplit(callback_url)
            port = parts.port
        except ValueError:  # a broken host or port
            parts, port = urlsplit(""), None
        path = parts.path.removeprefix(base.path) if parts.path.startswith(base.path) else ""
        if (
            (parts.scheme, parts.hostname, port) != (base.scheme, base.hostname, base.port)
            or parts.query
            or parts.username
            or not CALLBACK_PATH.fullmatch(path)
        ):
            where = parts.hostname or "no host"
            return (
                f"refused to answer at {where}: the callback URL is not a deployment callback "
                f"of {base.hostname} (GOBOT_GITHUB_API_URL)"
            )
        return None

    def _refusal(self, response: httpx.Response, what: str) -> Failed:
        """A non-2xx answer: rate limited (retry when GitHub says), a server error or a page
        that is not GitHub's (the outcome is unknown), or a refusal (permanent)."""
        status = response.status_code
        body = _json(response)
        if not isinstance(body, dict):
            return Failed(error=_unreadable(status), maybe_sent=True)
        if status >= 500:
            return Failed(error=f"GitHub failed the {what} (HTTP {status})", maybe_sent=True)
        message = " ".join(str(body.get("message") or "no message").split())[:MAX_MESSAGE]
        error = f"GitHub refused the {what} (HTTP {status}): {message}"
        if status in (403, 429):
            wait = _retry_after(response, self._clock.now())
            if wait is None and (status == 429 or "rate limit" in message.lower()):
                wait = SECONDARY_LIMIT_SECONDS
            if wait is not None:
                return Failed(error=f"GitHub rate limit on the {what}", retry_after=wait)
        if status == 403:
            # The app lacks a permission, or was suspended: a person must act, then it can go.
            return Failed(error=error, waiting=True)
        return Failed(error=error, permanent=True)


def _json(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is none (a proxy's page)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _unreadable(status: int) -> str:
    return f"unreadable answer from GitHub (HTTP {status})"


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """How long GitHub asks to wait (Retry-After, or until x-ratelimit-reset when none is
    left), bounded; None when it asks for no wait."""
    headers = response.headers
    try:
        if "retry-after" in headers:
            wanted = float(headers["retry-after"])
        elif headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            wanted = float(headers["x-ratelimit-reset"]) - now.timestamp()
        else:
            return None
    except ValueError:
        return SECONDARY_LIMIT_SECONDS
    if not 0 <= wanted <= MAX_RETRY_AFTER_SECONDS:  # also NaN
        return 0.0 if wanted < 0 else MAX_RETRY_AFTER_SECONDS
    return wanted


def _transport_failure(exc: httpx.HTTPError, what: str, *, sent: bool) -> Failed:
    """A call with no answer. Before the request went out (no connection) nothing happened;
    after it (a timeout, a broken answer) a `sent` request may have landed."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failed(error=f"GitHub unreachable for the {what} ({name})")
    return Failed(error=f"no usable answer from GitHub to the {what} ({name})", maybe_sent=sent)
