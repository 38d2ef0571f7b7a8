"""Snapshot sources (`file:PATH`, `http(s)://URL`, `python:module:function`) and the taker.

A source is a callable returning a JSON-like mapping. The taker runs the cone and health
sources concurrently, one read of each at a time, and bounds the whole snapshot by one
timeout. A failing, slow, missing or malformed source never blocks a session and is never
reported as green: it becomes `unknown` with the reason.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core.clock import Clock, format_utc
from core.durations import format_duration
from core.models import BOOT_DEFAULT_REASON, ConeState, HealthStatus, Snapshot

Source = Callable[[], Any]
CONE_FILE = "cone_state.json"
HEALTH_FILE = "health_status.json"


class SourceNotFound(Exception):
    """The source has nothing to say yet (e.g. its file does not exist)."""


class SourceFailed(Exception):
    """The source answered, but not with usable data; the message is the operator's reason."""


class FileSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> Any:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError as exc:
            raise SourceNotFound(f"file not found: {self.path}") from exc
        except OSError as exc:
            raise SourceFailed(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceFailed(f"invalid JSON in {self.path}") from exc


class HttpSource:
    def __init__(self, url: str, timeout: timedelta) -> None:
        self.url = url
        self.timeout = timeout.total_seconds()

    def __call__(self) -> Any:
        import httpx  # here, not at the top: the CLI's reads start without it

        try:
            response = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise SourceFailed(f"{self.url} timed out") from exc
        except httpx.HTTPError as exc:
            raise SourceFailed(f"cannot reach {self.url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SourceFailed(f"HTTP {response.status_code} from {self.url}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceFailed(f"invalid JSON from {self.url}") from exc


def python_source(spec: str) -> Source:
    """`module:function`; imported now, so a typo fails at start rather than at every snapshot."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ValueError(f"python source {spec!r} must look like python:module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"python source: cannot import {module_name!r}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"python source: {module_name}.{function_name} is not a function")
    return function  # type: ignore[no-any-return]


def source_from_spec(spec: str, timeout: timedelta) -> Source:
    """Build a source from `file:PATH`, `http(s)://URL` or `python:module:function`."""
    if spec.startswith("file:"):
        return FileSource(Path(spec.removeprefix("file:")).expanduser())
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec, timeout)
    if spec.startswith("python:"):
        return python_source(spec.removeprefix("python:"))
    raise ValueError(f"unknown source {spec!r}: use file:PATH, http(s)://URL or python:mod:func")


def _run_in_thread(source: Source) -> Future[Any]:
    """A daemon thread per call: a hung source can never hold up the process at exit."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(source())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="gobot-source", daemon=True).start()
    return future


def _read(future: Future[Any], model: type[BaseModel], kind: str, wait: float) -> Any:
    """Validated model from a source's future, or raise SourceFailed/SourceNotFound."""
    if not futures.wait([future], timeout=max(0.0, wait)).done:
        raise TimeoutError(kind)
    try:
        raw = future.result()
    except (SourceFailed, SourceNotFound):
        raise
    except BaseException as exc:  # a source's own SystemExit or timeout is just a failure
        raise SourceFailed(f"raised {type(exc).__name__}: {exc}") from exc
    if isinstance(raw, model):
        return raw
    if not isinstance(raw, Mapping):
        raise SourceFailed(f"returned {type(raw).__name__}, expected a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "value"
        raise SourceFailed(f"invalid data ({where}: {first['msg']})") from exc


class _OneAtATime:
    """A source read in a thread of its own, one read at a time: a source that hangs is
    waited on again by the next caller instead of getting another thread (threads stay
    bounded: one per source)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._future: Future[Any] | None = None
        self._lock = threading.Lock()

    def read(self) -> Future[Any]:
        with self._lock:
            if self._future is None or self._future.done():
                self._future = _run_in_thread(self._source)
            return self._future


class SnapshotTaker:
    def __init__(self, cone: Source, health: Source, timeout: timedelta, clock: Clock) -> None:
        self._cone = _OneAtATime(cone)
        self._health = _OneAtATime(health)
        self._timeout = timeout
        self._clock = clock

    def take(self) -> Snapshot:
        deadline = time.monotonic() + self._timeout.total_seconds()
        cone_future = self._cone.read()
        health_future = self._health.read()
        cone = self._cone_from(cone_future, deadline - time.monotonic())
        health = self._health_from(health_future, deadline - time.monotonic())
        return Snapshot(cone=cone, status=health, taken_at_utc=self._clock.now())

    def health(self) -> HealthStatus:
        return self._health_from(self._health.read(), self._timeout.total_seconds())

    def _cone_from(self, future: Future[Any], wait: float) -> ConeState:
        try:
            cone: ConeState = _read(future, ConeState, "cone", wait)
            return cone
        except SourceNotFound:
            return ConeState(
                band="B", reason=BOOT_DEFAULT_REASON, updated_at_utc=format_utc(self._clock.now())
            )
        except TimeoutError:
            reason = f"cone source timed out after {format_duration(self._timeout)}"
        except SourceFailed as exc:
            reason = f"cone source failed: {exc}"
        return ConeState(band="unknown", reason=reason)

    def _health_from(self, future: Future[Any], wait: float) -> HealthStatus:
        try:
            health: HealthStatus = _read(future, HealthStatus, "health", wait)
            return health
        except TimeoutError:
            reason = f"health source timed out after {format_duration(self._timeout)}"
        except (SourceFailed, SourceNotFound) as exc:
            reason = f"health source failed: {exc}"
        return HealthStatus(status="unknown", reasons=[reason])
