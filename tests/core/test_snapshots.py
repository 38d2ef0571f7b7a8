"""Snapshot sources at their real boundaries: files, a loopback HTTP server, python modules.

Every failure mode must end as `unknown` with a readable reason, never as a fabricated green,
and the taker must bound the whole snapshot by one timeout while running both sources at once.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.clock import format_utc
from core.durations import format_duration
from core.models import BOOT_DEFAULT_REASON, ConeState, HealthStatus, Snapshot
from core.services import Services
from core.snapshots import (
    CONE_FILE,
    HEALTH_FILE,
    FileSource,
    HttpSource,
    SnapshotTaker,
    Source,
    masked_url,
    source_from_spec,
)
from tests.conftest import FakeClock, write_json

GREEN: dict[str, Any] = {"status": "green", "reasons": []}
CONE_A: dict[str, Any] = {
    "band": "A",
    "reason": "KPIs green",
    "updated_at_utc": "2026-01-01T08:00:00Z",
    "metrics": {"error_rate": 0.01},
}
SHORT = timedelta(milliseconds=300)
LONG = timedelta(seconds=2)


# --------------------------------------------------------------------------- helpers


def taker(
    cone: Source,
    health: Source,
    timeout: timedelta = LONG,
    clock: FakeClock | None = None,
) -> SnapshotTaker:
    return SnapshotTaker(cone, health, timeout, clock or FakeClock())


def const(payload: Any) -> Source:
    """An in-process source that answers at once (for the side a test is not about)."""

    def source() -> Any:
        return payload

    return source


def only_reason(health: HealthStatus) -> str:
    assert len(health.reasons) == 1, health.reasons
    return health.reasons[0]


# --------------------------------------------------------------------------- HTTP server

# path -> (status code, body bytes, extra headers)
Route = tuple[int, bytes, dict[str, str]]


def _json_route(payload: Any, code: int = 200) -> Route:
    return code, json.dumps(payload).encode(), {"Content-Type": "application/json"}


ROUTES: dict[str, Route] = {
    "/cone": _json_route(CONE_A),
    "/cone/c": _json_route({"band": "C", "reason": "error budget burning"}),
    "/health": _json_route(GREEN),
    "/health/yellow": _json_route({"status": "yellow", "reasons": ["p99 high"]}),
    # A 500 whose body *says* green: the status code must win.
    "/error500": _json_route(GREEN, code=500),
    "/badjson": (200, b'{"status": "green",', {"Content-Type": "application/json"}),
    "/empty": (200, b"", {"Content-Type": "application/json"}),
    "/wrongshape/purple": _json_route({"status": "purple", "reasons": []}),
    "/wrongshape/list": _json_route([GREEN]),
    "/wrongshape/nested": _json_route({"health": GREEN}),
    "/wrongshape/band": _json_route({"band": "Z", "reason": "?"}),
    "/redirect": (302, b"", {"Location": "/health"}),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for a sleeping handler at teardown
    stop: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/held/"):
            # /held/<route...>: answer like <route>, but only once the test is over
            self.server.stop.wait(60)
            path = path.removeprefix("/held")
        elif path.startswith("/slow/"):
            # /slow/<ms>/<route...>: wait, then answer like <route>
            _, _, delay_ms, rest = path.split("/", 3)
            self.server.stop.wait(int(delay_ms) / 1000)
            path = "/" + rest
        code, body, headers = ROUTES.get(path, _json_route({"error": "no route"}, code=404))
        try:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timed out) before we answered

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Loopback:
    base: str

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def held(self, path: str) -> str:
        """A route that answers only after the test: a source that waits for it times out."""
        return f"{self.base}/held{path}"

    def slow(self, delay: timedelta, path: str) -> str:
        return f"{self.base}/slow/{round(delay.total_seconds() * 1000)}{path}"


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; loopback requests must never leave the machine."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def http(no_proxy: None) -> Iterator[Loopback]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stop = threading.Event()
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="loopback-http",
        daemon=True,
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield Loopback(f"http://{host!s}:{port}")
    finally:
        server.stop.set()  # release slow handlers at once
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def refused_url(no_proxy: None) -> Iterator[str]:
    """A loopback port bound for the whole test but not listening: connecting is refused (and
    nothing else can take the port meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/health"


# --------------------------------------------------------------------------- python sources

PY_MODULE = """
from core.models import ConeState, HealthStatus

NOT_CALLABLE = 42


def cone_dict():
    return {"band": "C", "reason": "from python", "metrics": {"p99_ms": 250}}


def cone_model():
    return ConeState(band="D", reason="freeze")


def health_dict():
    return {"status": "yellow", "reasons": ["disk 85%"]}


def health_model():
    return HealthStatus(status="red", reasons=["db down"])


def health_green():
    return {"status": "green", "reasons": []}


def raises_runtime():
    raise RuntimeError("backend exploded")


def raises_value():
    raise ValueError("bad reading")


def raises_key():
    raise KeyError("status")


def raises_timeout():
    raise TimeoutError("socket read timed out")


def raises_system_exit():
    raise SystemExit(3)


def returns_list():
    return [{"status": "green"}]


def returns_str():
    return "green"


def returns_none():
    return None


def returns_wrong_model():
    return ConeState(band="A")
"""


@pytest.fixture
def pymod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Name of a fresh importable module (unique per test, removed from sys.modules after)."""
    name = f"gobot_test_source_{uuid.uuid4().hex}"
    folder = tmp_path / "pysrc"
    folder.mkdir()
    (folder / f"{name}.py").write_text(PY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


# =========================================================================== file sources


def test_file_sources_valid_give_exact_values(green: Path) -> None:
    clock = FakeClock()
    clock.advance(timedelta(minutes=7))
    cone = source_from_spec(f"file:{green / CONE_FILE}", LONG)
    health = source_from_spec(f"file:{green / HEALTH_FILE}", LONG)
    assert isinstance(cone, FileSource)
    assert isinstance(health, FileSource)

    snap = taker(cone, health, clock=clock).take()

    assert snap == Snapshot(
        cone=ConeState(
            band="A",
            reason="KPIs green",
            updated_at_utc="2026-01-01T08:00:00Z",
            metrics={"error_rate": 0.01},
        ),
        status=HealthStatus(status="green", reasons=[]),
        taken_at_utc="2026-01-01T09:07:00.000000Z",
    )


def test_snapshots_reuse_one_reader_thread_per_source(green: Path) -> None:
    readers: list[threading.Thread] = []  # kept, so no two threads share an identity

    def health() -> Any:
        readers.append(threading.current_thread())
        return GREEN

    snapshots = taker(FileSource(green / CONE_FILE), health)
    for _ in range(20):
        assert snapshots.take().status.status == "green"
    assert len(readers) == 20
    assert len({id(reader) for reader in readers}) == 1


def test_file_sources_are_read_in_the_callers_thread(green: Path) -> None:
    before = threading.active_count()
    snapshots = taker(FileSource(green / CONE_FILE), FileSource(green / HEALTH_FILE))
    snapshot = snapshots.take()
    assert (snapshot.cone.band, snapshot.status.status) == ("A", "green")
    assert threading.active_count() == before  # no reader thread to hand the read to


def test_a_forked_child_reads_its_sources_with_a_reader_of_its_own(green: Path) -> None:
    snapshots = taker(FileSource(green / CONE_FILE), FileSource(green / HEALTH_FILE))
    assert snapshots.take().cone.band == "A"  # the parent's readers are running
    child = os.fork()
    if child == 0:  # the child has none of the parent's threads
        os._exit(0 if snapshots.take().cone.band == "A" else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_default_wiring_reads_data_dir_files(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(cone_source=None, health_source=None)
    snap = services.snapshots.take()
    assert snap.cone.band == "A"
    assert snap.cone.metrics == {"error_rate": 0.01}
    assert snap.status.status == "green"


def test_missing_cone_file_is_boot_default_band_b(tmp_path: Path) -> None:
    clock = FakeClock()
    clock.advance(timedelta(hours=1, seconds=5))
    cone = FileSource(tmp_path / CONE_FILE)

    snap = taker(cone, const(GREEN), clock=clock).take()

    assert snap.cone.band == "B"
    assert snap.cone.reason == BOOT_DEFAULT_REASON
    assert snap.cone.updated_at_utc == format_utc(clock.now())
    assert snap.cone.updated_at_utc == "2026-01-01T10:00:05.000000Z"
    assert snap.cone.metrics == {}
    assert snap.status.status == "green"


def test_missing_health_file_is_unknown_not_found(tmp_path: Path) -> None:
    path = tmp_path / HEALTH_FILE
    snapshots = taker(const(CONE_A), FileSource(path))

    for health in (snapshots.take().status, snapshots.health()):
        assert health.status == "unknown"
        reason = only_reason(health)
        assert "not found" in reason
        assert reason == f"health source failed: file not found: {HEALTH_FILE}"
        assert str(tmp_path) not in reason  # a person never reads the server's paths


@pytest.mark.parametrize("content", ['{"status": "green",', "", "not json at all", "[1,"])
def test_invalid_json_files_are_unknown(tmp_path: Path, content: str) -> None:
    cone_path = tmp_path / CONE_FILE
    health_path = tmp_path / HEALTH_FILE
    cone_path.write_text(content, encoding="utf-8")
    health_path.write_text(content, encoding="utf-8")

    snap = taker(FileSource(cone_path), FileSource(health_path)).take()

    assert snap.cone.band == "unknown"
    assert snap.cone.reason == f"cone source failed: invalid JSON in {CONE_FILE}"
    assert snap.status.status == "unknown"
    assert only_reason(snap.status) == f"health source failed: invalid JSON in {HEALTH_FILE}"


def test_non_utf8_files_are_unknown_invalid_json_naming_the_file(tmp_path: Path) -> None:
    # FileSource reports undecodable bytes as "invalid JSON in <file>" (it lists
    # UnicodeDecodeError next to JSONDecodeError), so the operator learns which file is bad.
    cone_path = tmp_path / CONE_FILE
    health_path = tmp_path / HEALTH_FILE
    cone_path.write_bytes(b'\xff\xfe{"band": "A"}')
    health_path.write_bytes(b'\xff\xfe{"status": "green"}')

    snap = taker(FileSource(cone_path), FileSource(health_path)).take()

    assert snap.cone.band == "unknown"
    assert snap.status.status == "unknown"
    assert snap.cone.reason == f"cone source failed: invalid JSON in {CONE_FILE}"
    assert only_reason(snap.status) == f"health source failed: invalid JSON in {HEALTH_FILE}"


def test_unreadable_file_path_is_unknown(tmp_path: Path) -> None:
    # A directory where the file should be: an OSError other than "not found".
    (tmp_path / CONE_FILE).mkdir()
    (tmp_path / HEALTH_FILE).mkdir()

    snap = taker(FileSource(tmp_path / CONE_FILE), FileSource(tmp_path / HEALTH_FILE)).take()

    assert snap.cone.band == "unknown"
    assert snap.cone.reason.startswith(f"cone source failed: cannot read {CONE_FILE}: ")
    assert snap.status.status == "unknown"
    assert only_reason(snap.status).startswith(f"health source failed: cannot read {HEALTH_FILE}")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "purple", "reasons": []}, "invalid data (status:"),
        ({"status": "GREEN"}, "invalid data (status:"),
        ({"status": "green", "reasons": "all good"}, "invalid data (reasons:"),
        ({"health": GREEN}, "invalid data (status: Field required"),
        ([GREEN], "returned list, expected a JSON object"),
        ("green", "returned str, expected a JSON object"),
        (None, "returned NoneType, expected a JSON object"),
    ],
    ids=["purple", "upper-GREEN", "reasons-str", "nested", "list", "string", "null"],
)
def test_wrong_shape_health_file_is_unknown(tmp_path: Path, payload: Any, expected: str) -> None:
    path = tmp_path / HEALTH_FILE
    write_json(path, payload)

    health = taker(const(CONE_A), FileSource(path)).health()

    assert health.status == "unknown"
    assert only_reason(health).startswith(f"health source failed: {expected}")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"band": "Z", "reason": "?"}, "invalid data (band:"),
        ({"reason": "no band at all"}, "invalid data (band: Field required"),
        ({"band": "A", "metrics": [1, 2]}, "invalid data (metrics:"),
        ([CONE_A], "returned list, expected a JSON object"),
        (3, "returned int, expected a JSON object"),
    ],
    ids=["band-Z", "no-band", "metrics-list", "list", "number"],
)
def test_wrong_shape_cone_file_is_unknown(tmp_path: Path, payload: Any, expected: str) -> None:
    path = tmp_path / CONE_FILE
    write_json(path, payload)

    snap = taker(FileSource(path), const(GREEN)).take()

    assert snap.cone.band == "unknown"
    assert snap.cone.reason.startswith(f"cone source failed: {expected}")
    assert snap.status.status == "green"


# =========================================================================== HTTP sources


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "http://monitor:hunter2@mon.example:8080/health?token=HEALTHTOKEN&v=2",
            "http://***@mon.example:8080/health?token=***&v=***",
        ),
        ("https://mon.example/health?flag", "https://mon.example/health?flag"),
        ("https://user@[::1]/h", "https://***@[::1]/h"),
        ("http://mon.example/plain", "http://mon.example/plain"),
        ("http://mon.example:99999/h", "(a URL that cannot be parsed)"),
    ],
)
def test_masked_url_hides_user_info_and_query_values(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_http_source_credentials_never_reach_the_reason(refused_url: str) -> None:
    port = refused_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0]
    secret_url = f"http://monitor:hunter2@127.0.0.1:{port}/health?token=HEALTHTOKEN"
    health = taker(const(CONE_A), source_from_spec(secret_url, LONG)).health()
    assert health.reasons == [
        f"health source failed: cannot reach http://***@127.0.0.1:{port}/health?token=***: "
        "ConnectError"
    ]


def test_http_valid_json_gives_exact_values(http: Loopback) -> None:
    cone = source_from_spec(http.url("/cone/c"), LONG)
    health = source_from_spec(http.url("/health/yellow"), LONG)
    assert isinstance(cone, HttpSource)
    assert isinstance(health, HttpSource)

    snap = taker(cone, health).take()

    assert snap.cone == ConeState(band="C", reason="error budget burning")
    assert snap.status == HealthStatus(status="yellow", reasons=["p99 high"])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/error500", "HTTP 500 from {url}"),
        ("/redirect", "HTTP 302 from {url}"),
        ("/nope", "HTTP 404 from {url}"),
        ("/badjson", "invalid JSON from {url}"),
        ("/empty", "invalid JSON from {url}"),
        ("/wrongshape/list", "returned list, expected a JSON object"),
    ],
)
def test_http_health_failures_are_unknown_with_reason(
    http: Loopback, path: str, reason: str
) -> None:
    url = http.url(path)
    health = taker(const(CONE_A), source_from_spec(url, LONG)).health()

    assert health.status == "unknown"
    assert only_reason(health) == "health source failed: " + reason.format(url=url)


@pytest.mark.parametrize(
    ("path", "field"), [("/wrongshape/purple", "status"), ("/wrongshape/nested", "status")]
)
def test_http_health_wrong_shape_names_the_field(http: Loopback, path: str, field: str) -> None:
    health = taker(const(CONE_A), source_from_spec(http.url(path), LONG)).health()

    assert health.status == "unknown"
    assert only_reason(health).startswith(f"health source failed: invalid data ({field}:")


def test_http_cone_wrong_shape_is_unknown(http: Loopback) -> None:
    snap = taker(source_from_spec(http.url("/wrongshape/band"), LONG), const(GREEN)).take()

    assert snap.cone.band == "unknown"
    assert snap.cone.reason.startswith("cone source failed: invalid data (band:")


def test_http_connection_refused_is_unknown(refused_url: str) -> None:
    snap = taker(const(CONE_A), source_from_spec(refused_url, LONG)).take()

    assert snap.status.status == "unknown"
    assert only_reason(snap.status) == (
        f"health source failed: cannot reach {refused_url}: ConnectError"
    )


def test_format_duration_of_the_timeouts_used_here() -> None:
    assert format_duration(SHORT) == "300ms"
    assert format_duration(timedelta(milliseconds=500)) == "500ms"
    assert format_duration(timedelta(seconds=1)) == "1s"


def test_http_slow_health_times_out_in_take(http: Loopback) -> None:
    # The held route answers green only after the test: a take that waited for it never ends.
    health = source_from_spec(http.held("/health"), SHORT)
    snapshots = taker(const(CONE_A), health, timeout=SHORT)

    snap = snapshots.take()

    assert snap.status.status == "unknown"
    assert snap.status.reasons == ["health source timed out after 300ms"]
    assert snap.cone.band == "A"


def test_http_slow_cone_times_out_in_take(http: Loopback) -> None:
    cone = source_from_spec(http.held("/cone"), SHORT)
    snapshots = taker(cone, const(GREEN), timeout=SHORT)

    snap = snapshots.take()

    assert snap.cone.band == "unknown"
    assert snap.cone.reason == "cone source timed out after 300ms"
    assert snap.status.status == "green"


def test_health_alone_honours_the_timeout(http: Loopback) -> None:
    health = source_from_spec(http.held("/health"), SHORT)
    snapshots = taker(const(CONE_A), health, timeout=SHORT)

    started = time.monotonic()
    result = snapshots.health()
    elapsed = time.monotonic() - started

    assert result.status == "unknown"
    assert result.reasons == ["health source timed out after 300ms"]
    assert elapsed >= 0.25  # it gave the source its time (and did not wait for the answer)


def test_health_alone_honours_the_timeout_for_a_hung_python_source() -> None:
    release = threading.Event()

    def hung() -> Any:
        release.wait(5)
        return GREEN

    try:
        result = taker(const(CONE_A), hung, timeout=SHORT).health()
    finally:
        release.set()  # only now: the answer came while the source still hung

    assert result == HealthStatus(status="unknown", reasons=["health source timed out after 300ms"])


# =========================================================================== concurrency


def test_take_times_out_both_sources_when_both_hang(http: Loopback) -> None:
    timeout = timedelta(milliseconds=500)
    cone = source_from_spec(http.held("/cone"), timeout)
    health = source_from_spec(http.held("/health"), timeout)
    snapshots = taker(cone, health, timeout=timeout)

    started = time.monotonic()
    snap = snapshots.take()
    elapsed = time.monotonic() - started

    assert snap.cone.band == "unknown"
    assert snap.cone.reason == "cone source timed out after 500ms"
    assert snap.status.status == "unknown"
    assert snap.status.reasons == ["health source timed out after 500ms"]
    assert elapsed >= 0.45  # the sources had their time (one deadline: see the next test)


def test_take_runs_both_sources_concurrently(http: Loopback) -> None:
    """Each source answers only once the other has started: read one after the other, the
    first would wait in vain and fail; read together, both answer (so one deadline bounds
    the take, not one per source)."""
    both = threading.Barrier(2)

    def meeting(route: str) -> Source:
        fetch = source_from_spec(http.url(route), LONG)

        def source() -> Any:
            both.wait(timeout=LONG.total_seconds())
            return fetch()

        return source

    snap = taker(meeting("/cone"), meeting("/health"), timeout=timedelta(seconds=30)).take()

    assert snap.cone == ConeState.model_validate(CONE_A)
    assert snap.status == HealthStatus(status="green", reasons=[])


# =========================================================================== python sources


def test_python_source_returning_dicts(pymod: str) -> None:
    cone = source_from_spec(f"python:{pymod}:cone_dict", LONG)
    health = source_from_spec(f"python:{pymod}:health_dict", LONG)

    snap = taker(cone, health).take()

    assert snap.cone == ConeState(band="C", reason="from python", metrics={"p99_ms": 250})
    assert snap.status == HealthStatus(status="yellow", reasons=["disk 85%"])


def test_python_source_returning_models(pymod: str) -> None:
    cone = source_from_spec(f"python:{pymod}:cone_model", LONG)
    health = source_from_spec(f"python:{pymod}:health_model", LONG)

    snap = taker(cone, health).take()

    assert snap.cone == ConeState(band="D", reason="freeze")
    assert snap.status == HealthStatus(status="red", reasons=["db down"])


@pytest.mark.parametrize(
    ("function", "exc_type", "message"),
    [
        ("raises_runtime", "RuntimeError", "backend exploded"),
        ("raises_value", "ValueError", "bad reading"),
        ("raises_key", "KeyError", "'status'"),
    ],
)
def test_python_source_raising_is_unknown_with_exception_type(
    pymod: str, function: str, exc_type: str, message: str
) -> None:
    health = source_from_spec(f"python:{pymod}:{function}", LONG)
    cone = source_from_spec(f"python:{pymod}:{function}", LONG)

    snap = taker(cone, health).take()

    assert snap.status.status == "unknown"
    assert only_reason(snap.status) == f"health source failed: raised {exc_type}: {message}"
    assert snap.cone.band == "unknown"
    assert snap.cone.reason == f"cone source failed: raised {exc_type}: {message}"


def test_python_source_raising_timeout_error_is_not_reported_as_taker_timeout(
    pymod: str,
) -> None:
    # A source that fails at once with its own TimeoutError (e.g. socket.timeout, which is an
    # alias of TimeoutError) did not exceed the taker's timeout; the reason must name the error.
    health = source_from_spec(f"python:{pymod}:raises_timeout", LONG)

    result = taker(const(CONE_A), health, timeout=LONG).health()

    assert result.status == "unknown"
    reason = only_reason(result)
    assert "timed out after 2s" not in reason
    assert reason == "health source failed: raised TimeoutError: socket read timed out"


def test_python_source_raising_system_exit_is_unknown_not_propagated(pymod: str) -> None:
    # The source runs in a worker thread where SystemExit would end only that thread;
    # the taker must not carry it into the caller (the bot) and must report unknown.
    health = source_from_spec(f"python:{pymod}:raises_system_exit", LONG)

    result = taker(const(CONE_A), health).health()

    assert result.status == "unknown"
    assert "SystemExit" in only_reason(result)


@pytest.mark.parametrize(
    ("function", "type_name"),
    [
        ("returns_list", "list"),
        ("returns_str", "str"),
        ("returns_none", "NoneType"),
        ("returns_wrong_model", "ConeState"),
    ],
)
def test_python_source_returning_non_mapping_is_unknown(
    pymod: str, function: str, type_name: str
) -> None:
    health = source_from_spec(f"python:{pymod}:{function}", LONG)

    result = taker(const(CONE_A), health).health()

    assert result.status == "unknown"
    assert only_reason(result) == (
        f"health source failed: returned {type_name}, expected a JSON object"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ftp://x", "unknown source 'ftp://x'"),
        ("x", "unknown source 'x'"),
        ("", "unknown source ''"),
        ("python:nomodule_xyz:f", "cannot import 'nomodule_xyz'"),
        ("python:os:not_a_function_xyz", "os.not_a_function_xyz is not a function"),
        ("python:os:sep", "os.sep is not a function"),
        ("python:missingcolon", "must look like python:module:function"),
        ("python::f", "must look like python:module:function"),
        ("python:os:", "must look like python:module:function"),
    ],
)
def test_source_from_spec_rejects_bad_specs_at_construction(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        source_from_spec(spec, LONG)


def test_source_from_spec_rejects_non_callable_attribute(pymod: str) -> None:
    with pytest.raises(ValueError, match="NOT_CALLABLE is not a function"):
        source_from_spec(f"python:{pymod}:NOT_CALLABLE", LONG)


# =========================================================================== never green


@dataclass
class FailureEnv:
    tmp_path: Path
    http: Loopback
    refused_url: str
    pymod: str
    release: threading.Event

    @property
    def health_file(self) -> Path:
        return self.tmp_path / HEALTH_FILE

    def file_with(self, payload: Any) -> str:
        write_json(self.health_file, payload)
        return f"file:{self.health_file}"


def _invalid_json_file(env: FailureEnv) -> str:
    env.health_file.write_text('{"status": "green"', encoding="utf-8")
    return f"file:{env.health_file}"


def _directory(env: FailureEnv) -> str:
    env.health_file.mkdir()
    return f"file:{env.health_file}"


def _hung(env: FailureEnv) -> Source:
    def hung() -> Any:
        env.release.wait(5)  # would answer green, but far too late
        return GREEN

    return hung


# mode -> the failing health source (a spec, or a callable for the hung case)
FAILURE_MODES: dict[str, Callable[[FailureEnv], str | Source]] = {
    "file-missing": lambda env: f"file:{env.health_file}",
    "file-invalid-json": _invalid_json_file,
    "file-wrong-shape": lambda env: env.file_with({"status": "GREEN"}),
    "file-list": lambda env: env.file_with([GREEN]),
    "file-directory": _directory,
    "http-500": lambda env: env.http.url("/error500"),
    "http-404": lambda env: env.http.url("/nope"),
    "http-invalid-json": lambda env: env.http.url("/badjson"),
    "http-wrong-shape": lambda env: env.http.url("/wrongshape/nested"),
    "http-list": lambda env: env.http.url("/wrongshape/list"),
    "http-redirect": lambda env: env.http.url("/redirect"),
    "http-slow": lambda env: env.http.slow(timedelta(seconds=2), "/health"),
    "http-refused": lambda env: env.refused_url,
    "python-raises": lambda env: f"python:{env.pymod}:raises_runtime",
    "python-timeout-error": lambda env: f"python:{env.pymod}:raises_timeout",
    "python-non-mapping": lambda env: f"python:{env.pymod}:returns_str",
    "python-wrong-model": lambda env: f"python:{env.pymod}:returns_wrong_model",
    "python-hung": _hung,
}


@pytest.mark.parametrize("mode", list(FAILURE_MODES))
def test_failure_never_reports_green(
    mode: str,
    tmp_path: Path,
    http: Loopback,
    refused_url: str,
    pymod: str,
) -> None:
    release = threading.Event()
    env = FailureEnv(tmp_path, http, refused_url, pymod, release)
    built = FAILURE_MODES[mode](env)
    health = source_from_spec(built, SHORT) if isinstance(built, str) else built
    snapshots = taker(const(CONE_A), health, timeout=SHORT)
    try:
        results = [snapshots.take().status, snapshots.health()]
    finally:
        release.set()

    for result in results:
        assert result.status != "green"
        assert result.status == "unknown"
        assert only_reason(result).startswith("health source ")
