"""A GitHub REST API stand-in on loopback for the GitHub App: `gobot local` and the tests run
against it.

A real HTTP server (port 0 by default, optionally under a path prefix such as GitHub
Enterprise's `/api/v3`; `stop` returns at once) that checks what GitHub checks: the app's JWT
(RS256 against the app's public key, `iss`, `iat`, `exp` at most ten minutes ahead, on its own
clock) when it exchanges an installation token, which lasts an hour; and a valid installation
token on a deployment protection rule's callback. It records every token exchange and every
answer; the first answer of a run and environment is taken (204), any later one refused (422),
as GitHub does. Given its installations, it refuses a token of any other (404). It can be told
to fail an answer: a status (after taking the answer, or without), a proxy's HTML page, a hang
past the client's timeout; and to revoke its tokens.
Also `generate_key_pair`, an app's key pair for tests and `gobot local`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.dev.loopback import LoopbackServer, QuietHandler
from core.clock import Clock, SystemClock, format_utc

FAKE_APP_ID = "424242"
TOKEN_LIFETIME = timedelta(hours=1)
JWT_MAX_AHEAD = timedelta(minutes=10)
TOKEN_PATH = re.compile(r"/app/installations/(\d+)/access_tokens")
CALLBACK_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/deployment_protection_rule")
ANSWERED = "No pending deployment requests to approve or reject"


def generate_key_pair() -> tuple[str, str]:
    """A fresh RSA key pair as a GitHub App has: (private key PEM as GitHub hands it out,
    public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


@dataclass
class TokenRequest:
    """One token exchange: the JWT's claims when it was valid (else None, and why not)."""

    installation_id: int
    claims: dict[str, Any] | None
    refused: str | None
    headers: dict[str, str]


@dataclass
class Answer:
    """One answer to a deployment protection rule that reached the point of being taken.
    `accepted`: it was the first for its run and environment (the one GitHub keeps)."""

    owner: str
    repo: str
    run_id: int
    body: dict[str, Any]
    accepted: bool
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def environment_name(self) -> str:
        return str(self.body.get("environment_name"))

    @property
    def state(self) -> str:
        return str(self.body.get("state"))


@dataclass
class Fault:
    """How the next answer(s) to a callback fail. `taken`: GitHub records the answer before it
    fails (the outcome the client cannot know). `html`: a proxy's page instead of JSON.
    `delay`: hold the reply this long (past the client's timeout; `stop` cuts it short)."""

    status: int = 502
    taken: bool = True
    html: bool = False
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    times: int = 1


class FakeGithub(LoopbackServer):
    def __init__(
        self,
        public_key: str,
        app_id: str = FAKE_APP_ID,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        installations: set[int] | None = None,
    ) -> None:
        self.app_id = app_id
        self.installations = installations  # None: the app is installed everywhere
        self.public_key = public_key
        self.prefix = prefix.rstrip("/")
        self.clock = clock or SystemClock()
        self.token_requests: list[TokenRequest] = []
        self.answers: list[Answer] = []
        self.tokens: dict[str, tuple[int, datetime]] = {}  # token -> installation, expiry
        self._faults: list[Fault] = []
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        super().__init__(self._handler_class(), host, port)

    def stop(self) -> None:
        self._stopping.set()  # an answer held back (a fault's delay) ends at once
        super().stop()

    @property
    def api_url(self) -> str:
        """What GOBOT_GITHUB_API_URL is set to for this fake."""
        return self.url + self.prefix

    def callback_url(self, owner: str, repo: str, run_id: int) -> str:
        """A run's `deployment_callback_url`, as a webhook payload carries it."""
        run = f"{self.api_url}/repos/{owner}/{repo}/actions/runs/{run_id}"
        return f"{run}/deployment_protection_rule"

    # test controls -------------------------------------------------------------------------
    def fail(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def revoke_tokens(self) -> None:
        """Every installation token issued so far is refused from now on (401)."""
        with self._lock:
            self.tokens.clear()

    def accepted(self) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if answer.accepted]

    # API -----------------------------------------------------------------------------------
    def _jwt_problem(self, authorization: str) -> tuple[dict[str, Any] | None, str | None]:
        """The app JWT's claims, or why GitHub would refuse it."""
        scheme, _, signed = authorization.partition(" ")
        if scheme.lower() != "bearer" or not signed:
            return None, "no bearer JWT"
        try:
            claims: dict[str, Any] = jwt.decode(
                signed,
                self.public_key,
                algorithms=["RS256"],
                issuer=self.app_id,
                options={
                    "require": ["iat", "exp", "iss"],
                    "verify_exp": False,  # checked below against this fake's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            return None, f"invalid JWT ({type(exc).__name__})"
        now = self.clock.now().timestamp()
        if not claims["iat"] <= now < claims["exp"]:
            return None, "JWT not valid now (iat/exp)"
        if claims["exp"] > now + JWT_MAX_AHEAD.total_seconds():
            return None, "JWT exp too far in the future"
        return claims, None

    def _issue(self, installation_id: int, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        claims, problem = self._jwt_problem(headers.get("authorization", ""))
        with self._lock:
            self.token_requests.append(TokenRequest(installation_id, claims, problem, headers))
            self._lock.notify_all()
            if problem is not None:
                return 401, {"message": f"A JSON web token could not be decoded: {problem}"}
            if self.installations is not None and installation_id not in self.installations:
                return 404, {"message": "Not Found"}
            token = "ghs_" + secrets.token_hex(18)
            expires = self.clock.now() + TOKEN_LIFETIME
            self.tokens[token] = (installation_id, expires)
        return 201, {
            "token": token,
            "expires_at": format_utc(expires, "seconds"),
            "permissions": {"actions": "read", "deployments": "write"},
            "repository_selection": "all",
        }

    def _token_valid(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            issued = self.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        return issued is not None and self.clock.now() < issued[1]

    def _take(
        self, match: re.Match[str], body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[Fault | None, Answer | None]:
        """The next fault, and the answer recorded unless the fault refuses it untaken."""
        with self._lock:
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.pop(0)
            if fault is not None and not fault.taken:
                return fault, None
            owner, repo, run_id = match.group(1), match.group(2), int(match.group(3))
            first = not any(
                (a.owner, a.repo, a.run_id, a.environment_name)
                == (owner, repo, run_id, body["environment_name"])
                and a.accepted
                for a in self.answers
            )
            answer = Answer(owner, repo, run_id, body, first, headers)
            self.answers.append(answer)
            self._lock.notify_all()
            return fault, answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path.partition("?")[0]
                if not path.startswith(fake.prefix + "/"):
                    self._json(404, {"message": "Not Found"})
                    return
                path = path.removeprefix(fake.prefix)
                if found := TOKEN_PATH.fullmatch(path):
                    self._json(*fake._issue(int(found.group(1)), headers))
                elif found := CALLBACK_PATH.fullmatch(path):
                    self._callback(found, raw, headers)
                else:
                    self._json(404, {"message": "Not Found"})

            def _callback(self, found: re.Match[str], raw: bytes, headers: dict[str, str]) -> None:
                if not fake._token_valid(headers.get("authorization", "")):
                    self._json(401, {"message": "Bad credentials"})
                    return
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                if (
                    not isinstance(body, dict)
                    or not isinstance(body.get("environment_name"), str)
                    or body.get("state") not in ("approved", "rejected")
                ):
                    self._json(422, {"message": "Invalid request: environment_name and state"})
                    return
                fault, answer = fake._take(found, body, headers)
                if fault is not None:
                    fake._stopping.wait(fault.delay)
                    if fault.html:
                        page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                        self._send(fault.status, page, "text/html", fault.headers)
                    else:
                        self._json(fault.status, {"message": fault.message}, fault.headers)
                elif answer is not None and answer.accepted:
                    self._send(204, b"", None)
                else:
                    self._json(422, {"message": ANSWERED})

            def _json(
                self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
            ) -> None:
                self._send(status, json.dumps(body).encode(), "application/json", extra)

        return Handler
