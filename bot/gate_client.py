"""`gobot gate` for CI scripts: ask the GO gate once, or again and again until it allows
(`--wait`: a pipeline may wait for a session to start, a step to be done, a freeze to end),
printing each new state once; exit 0 allowed, 1 denied or pending (when the wait runs out), 2 a
usage or connection error.

The gate is asked over REST (`--url`, the key from GOBOT_API_KEY), or in the local data dir.
A failure to reach gobot while waiting is said once and asked again; it is the answer (2) only
when the wait runs out on it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from pydantic import ValidationError

from core.errors import GoError
from core.gate_models import GateDecision, GateRequest

ALLOWED, DENIED, USAGE = 0, 1, 2
FIRST_PAUSE = timedelta(seconds=2)
LONGEST_PAUSE = timedelta(seconds=30)
TIMEOUT_SECONDS = 10.0


class GateUsageError(Exception):
    """What was asked cannot be answered, however often it is asked (exit 2)."""


class GateUnreachable(Exception):
    """gobot could not be asked this time (exit 2 unless a wait goes on)."""


Ask = Callable[[GateRequest], GateDecision]


def remote(url: str, api_key: str | None) -> Ask:
    """Ask a running gobot at `url` over REST."""
    if not url.startswith(("http://", "https://")):
        raise GateUsageError(f"--url must be gobot's base URL (https://HOST), not {url!r}")
    if not api_key:
        raise GateUsageError("set GOBOT_API_KEY to the key of the gobot at --url")
    endpoint = url.rstrip("/") + "/core/go/gate"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # each answer is said once, by gobot

    def ask(request: GateRequest) -> GateDecision:
        try:
            response = httpx.post(
                endpoint,
                json=request.model_dump(exclude_none=True),
                headers={"X-API-Key": api_key},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise GateUnreachable(f"cannot reach gobot at {url} ({type(exc).__name__})") from exc
        if response.status_code == 401:
            raise GateUsageError(f"gobot at {url} refused GOBOT_API_KEY: check the key")
        if response.status_code == 404 and "code" not in _json(response):
            raise GateUsageError(f"gobot at {url} has no REST API: set GOBOT_API_KEY where it runs")
        if response.status_code in (404, 409, 422):
            raise GateUsageError(_detail(response))
        if response.status_code != 200:
            raise GateUnreachable(f"gobot at {url} answered HTTP {response.status_code}")
        try:
            return GateDecision.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise GateUnreachable(f"{url} does not answer as gobot does") from exc

    return ask


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    detail = _json(response).get("detail")
    if isinstance(detail, list):  # a field FastAPI refused: name it and why
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        )
    return str(detail or f"HTTP {response.status_code}")


def local(decide: Ask) -> Ask:
    """Ask the gate of the local data dir; a mistake in the request is a usage error."""

    def ask(request: GateRequest) -> GateDecision:
        try:
            return decide(request)
        except GoError as exc:
            raise GateUsageError(exc.message) from exc

    return ask


@dataclass
class Waiting:
    """Asks until the gate allows or `wait` runs out; says each new state once (`say`) and
    each new problem once (`complain`)."""

    ask: Ask
    say: Callable[[str], None]
    complain: Callable[[str], None]
    wait: timedelta = timedelta(0)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, request: GateRequest) -> int:
        deadline = self.monotonic() + self.wait.total_seconds()
        pause = FIRST_PAUSE
        said: str | None = None
        while True:
            try:
                decision = self.ask(request)
            except GateUsageError as exc:
                self.complain(f"gobot: {exc}")
                return USAGE
            except GateUnreachable as exc:
                if said != str(exc):
                    self.complain(f"gobot: {exc}")
                    said = str(exc)
                if self.monotonic() >= deadline:
                    return USAGE
            else:
                line = f"{decision.state}: {decision.reason}"
                if line != said:
                    self.say(line)
                    said = line
                if decision.allowed:
                    return ALLOWED
                if self.monotonic() >= deadline:
                    return DENIED
            left = deadline - self.monotonic()
            self.sleep(max(0.0, min(pause.total_seconds(), left)))
            pause = min(LONGEST_PAUSE, pause * 2)
