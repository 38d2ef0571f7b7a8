"""Snapshot sources (`file:PATH`, `http(s)://URL`, `python:module:function`) and the taker.

A source is a callable returning a JSON-like mapping. The taker runs the cone and health
sources concurrently, each in a reader thread of its own (started once), one read of each at a
time, and bounds the whole snapshot by one timeout; a file source is read in the caller's
thread instead (a local file answers at once, as the data directory does, and handing the read
to a thread costs many times the read). A failing, slow, missing or malformed
source never blocks a session and is never reported as green: it becomes `unknown` with the
reason, which names a file but not its path, and a URL with its credentials masked.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from core.clock import Clock, format_utc
from core.durations import format_duration
from core.models import BOOT_DEFAULT_REASON, ConeState, HealthStatus, Snapshot

log = logging.getLogger("gobot.snapshots")
Source = Callable[[], Any]
CONE_FILE = "cone_state.json"
HEALTH_FILE = "health_status.json"


class SourceNotFound(Exception):
    """The source has nothing to say yet (e.g. its file does not exist)."""


class SourceFailed(Exception):
    """The source answered, but not with usable data; the message is the operator's reason."""


def masked_url(url: str) -> str:
    """A URL as a person or the audit may read it: its user info and the value of every query
    parameter replaced by `***`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(a URL that cannot be parsed)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        host = f"***@{host}"
    query = "&".join(
        f"{name}=***" if sep else name
        for name, sep, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _read_file(path: Path) -> bytes:
    """The whole file, read with the OS's calls only (a snapshot reads two files, and a
    buffered Python file object costs more than the read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(fd, max(os.fstat(fd).st_size, 1) + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileSource:
    """A JSON file. What a person reads names the file; the log has its whole path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> Any:
        try:
            raw = _read_file(self.path)
        except FileNotFoundError as exc:
            log.info("snapshot source file not found: %s", self.path)
            raise SourceNotFound(f"file not found: {self.path.name}") from exc
        except OSError as exc:
            log.info("cannot read snapshot source %s: %s", self.path, exc.strerror)
            raise SourceFailed(f"cannot read {self.path.name}: {exc.strerror}") from exc
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.info("invalid JSON in snapshot source %s", self.path)
            raise SourceFailed(f"invalid JSON in {self.path.name}") from exc


class HttpSource:
    """A JSON document over HTTP(S); its credentials are masked in every reason it gives."""

    def __init__(self, url: str, timeout: timedelta) -> None:
        self.url = url
        self.shown = masked_url(url)
        self.timeout = timeout.total_seconds()

    def __call__(self) -> Any:
        import httpx  # here, not at the top: the CLI's reads start without it

        try:
            response = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
        except httpx.TimeoutException as exc:
            raise SourceFailed(f"{self.shown} timed out") from exc
        except httpx.HTTPError as exc:
            raise SourceFailed(f"cannot reach {self.shown}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise SourceFailed(f"HTTP {response.status_code} from {self.shown}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceFailed(f"invalid JSON from {self.shown}") from exc


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


Outcome = Callable[[float], Any]  # a read's answer, waited for at most so many seconds


class _TooSlow(Exception):
    """The snapshot's time ran out before the source answered."""


def _read(outcome: Outcome, model: type[BaseModel], wait: float) -> Any:
    """Validated model from a source's read, or raise SourceFailed/SourceNotFound (or _TooSlow)."""
    try:
        raw = outcome(wait)
    except (SourceFailed, SourceNotFound, _TooSlow):
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
    """A source read in a daemon thread of its own, started once and kept: a read costs no
    thread start, a hung source can never hold up the process at exit, and reads are one at a
    time: a source that hangs is waited on again by the next caller instead of getting another
    thread (threads stay bounded: one per source)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._future: Future[Any] | None = None
        self._asked: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._reader_pid: int | None = None  # a forked child starts a reader of its own

    def read(self) -> Outcome:
        with self._lock:
            if self._reader_pid != os.getpid():
                self._asked = queue.SimpleQueue()
                self._future = None
                threading.Thread(target=self._serve, args=(self._asked,), daemon=True).start()
                self._reader_pid = os.getpid()
            if self._future is None or self._future.done():
                self._future = Future()
                self._asked.put(self._future)
            return functools.partial(_awaited, self._future)

    def _serve(self, asked: queue.SimpleQueue[Future[Any]]) -> None:
        while True:
            future = asked.get()
            try:
                future.set_result(self._source())
            except BaseException as exc:
                future.set_exception(exc)


def _awaited(future: Future[Any], wait: float) -> Any:
    if not futures.wait([future], timeout=max(0.0, wait)).done:
        raise _TooSlow
    return future.result()


def _raising(exc: Exception, wait: float) -> Any:
    raise exc


class _InPlace:
    """A file source, read in the caller's thread."""

    def __init__(self, source: Source) -> None:
        self._source = source

    def read(self) -> Outcome:
        try:
            raw = self._source()
        except Exception as exc:  # told as the reader thread tells it
            return functools.partial(_raising, exc)
        return lambda wait: raw


def _reader(source: Source) -> _OneAtATime | _InPlace:
    return _InPlace(source) if isinstance(source, FileSource) else _OneAtATime(source)


class SnapshotTaker:
    def __init__(self, cone: Source, health: Source, timeout: timedelta, clock: Clock) -> None:
        self._cone = _reader(cone)
        self._health = _reader(health)
        self._timeout = timeout
        self._clock = clock

    def take(self) -> Snapshot:
        deadline = time.monotonic() + self._timeout.total_seconds()
        cone_read = self._cone.read()
        health_read = self._health.read()
        cone = self._cone_from(cone_read, deadline - time.monotonic())
        health = self._health_from(health_read, deadline - time.monotonic())
        return Snapshot(cone=cone, status=health, taken_at_utc=self._clock.now())

    def health(self) -> HealthStatus:
        return self._health_from(self._health.read(), self._timeout.total_seconds())

    def _cone_from(self, read: Outcome, wait: float) -> ConeState:
        try:
            cone: ConeState = _read(read, ConeState, wait)
            return cone
        except SourceNotFound:
            return ConeState(
                band="B", reason=BOOT_DEFAULT_REASON, updated_at_utc=format_utc(self._clock.now())
            )
        except _TooSlow:
            reason = f"cone source timed out after {format_duration(self._timeout)}"
        except SourceFailed as exc:
            reason = f"cone source failed: {exc}"
        return ConeState(band="unknown", reason=reason)

    def _health_from(self, read: Outcome, wait: float) -> HealthStatus:
        try:
            health: HealthStatus = _read(read, HealthStatus, wait)
            return health
        except _TooSlow:
            reason = f"health source timed out after {format_duration(self._timeout)}"
        except (SourceFailed, SourceNotFound) as exc:
            reason = f"health source failed: {exc}"
        return HealthStatus(status="unknown", reasons=[reason])
