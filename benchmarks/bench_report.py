"""A session's report by id, a history page, `/go-history` and the weekly digest's query, with
1,000 and 1,000,000 ended sessions, on the JSON store and on PostgreSQL.

Each store is seeded in bulk in its own format (go_history.jsonl, audit.log and audit.head
written line by line; COPY into gobot_sessions and gobot_audit): one session every 10 minutes
from 2000-01-01, each 5 minutes long, with its start and end audit records, so a week holds
about 1,000 sessions at either size. The audit chain is then verified once in full to set the
verified mark, as the first report of a deployed gobot would. The REST API is gobot's FastAPI
app (bot/web) called in-process through its ASGI interface; server-side time is taken around
the app (from the request entering it to the last byte of the answer), and RSS is this
process's. Seeded data is deleted afterwards. Run from the repository root:

    .venv/bin/python benchmarks/bench_report.py [--sizes 1000,1000000] [--stores json,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import FakeSlack
from bot.settings import Settings
from bot.web.server import create_http_app
from core.audit import GENESIS, build_record
from core.clock import format_utc
from core.digest import MAX_SESSIONS
from core.ids import time_ordered_id
from core.models import AuditEvent, ConeState, GoSession, HealthStatus, Snapshot
from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork
from core.stores.json.audit import AUDIT_FILE, HEAD_FILE
from core.stores.json.sessions import HISTORY_FILE
from core.stores.postgres import PgUnitOfWork
from core.stores.postgres.database import close_database

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
FIRST = datetime(2000, 1, 1, tzinfo=UTC)
EVERY = timedelta(minutes=10)
LASTS = timedelta(minutes=5)
API_KEY = "bench-api-key-not-real"
REPEATS = 50
P50_TARGET_MS = 50.0
RSS_TARGET_MB = 20.0
RATIO_TARGET = 2.0
Scope = MutableMapping[str, Any]


# seeding ------------------------------------------------------------------------------------
def template() -> str:
    """One realistic ended session as a history line, with markers for what varies."""
    snapshot = Snapshot(
        cone=ConeState(band="A", reason="KPIs green", metrics={"error_rate": 0.01}),
        status=HealthStatus(status="green"),
        taken_at_utc=FIRST,
    )
    session = GoSession(
        active=False,
        started_at_utc=FIRST,
        ended_at_utc=FIRST + LASTS,
        cone_band="A",
        status="green",
        notes="release @N@",
        snapshot=snapshot,
        id="@ID@",
        scope="workspace",
        channel="C0123456",
        started_by="U0123456",
        ended_by="U0123456",
        end_notes="done",
        end_snapshot=snapshot.model_copy(update={"taken_at_utc": FIRST + LASTS}),
        duration_seconds=LASTS.total_seconds(),
        outcome="completed",
    )
    return (
        session.model_dump_json()
        .replace(format_utc(FIRST + LASTS), "@END@")
        .replace(format_utc(FIRST), "@START@")
    )


def new_ids(count: int) -> list[str]:
    return [time_ordered_id(FIRST + EVERY * number) for number in range(count)]


def sessions(ids: list[str]) -> Any:
    """(id, started, ended, history line) of each seeded session, oldest first."""
    line = template()
    for number, session_id in enumerate(ids):
        started = FIRST + EVERY * number
        ended = started + LASTS
        text = (
            line.replace("@ID@", session_id)
            .replace("@START@", format_utc(started))
            .replace("@END@", format_utc(ended))
            .replace("@N@", str(number))
        )
        yield session_id, started, ended, text


class Chain:
    """The audit chain being seeded: a session's start and end records."""

    def __init__(self) -> None:
        self.seq, self.prev = 0, GENESIS

    def records(self, session_id: str, started: datetime, ended: datetime) -> list[tuple[int, str]]:
        made = []
        for event, at in (("GO_SESSION_START", started), ("GO_SESSION_END", ended)):
            self.seq += 1
            record = AuditEvent(
                event=event, actor="U0123456", channel="C0123456", session_id=session_id
            )
            line, self.prev = build_record(record, self.seq, self.prev, at)
            made.append((self.seq, line))
        return made


def seed_json(directory: Path, count: int) -> list[str]:
    ids = new_ids(count)
    chain = Chain()
    with (
        open(directory / HISTORY_FILE, "w", encoding="utf-8") as history,
        open(directory / AUDIT_FILE, "w", encoding="utf-8") as audit,
    ):
        for session_id, started, ended, text in sessions(ids):
            history.write(text + "\n")
            for _, line in chain.records(session_id, started, ended):
                audit.write(line + "\n")
    head = f'{{"seq":{chain.seq},"hash":"{chain.prev}"}}\n'
    (directory / HEAD_FILE).write_text(head, encoding="utf-8")
    return [ids[0], ids[-1]]


def seed_postgres(url: str, count: int) -> list[str]:
    PgUnitOfWork.open(url)  # the schema, migrated
    ids = new_ids(count)
    chain = Chain()
    with psycopg.connect(url) as db, db.cursor() as cursor:
        with (
            cursor.copy(
                "COPY gobot_sessions (id, scope, active, changed, ended_at, data) FROM STDIN"
            ) as sessions_copy,
        ):
            for number, (session_id, _, ended, text) in enumerate(sessions(ids), start=1):
                sessions_copy.write_row((session_id, "workspace", False, number, ended, text))
        with cursor.copy("COPY gobot_audit (seq, line, session_id) FROM STDIN") as audit_copy:
            for session_id, started, ended, _ in sessions(ids):
                for seq, line in chain.records(session_id, started, ended):
                    audit_copy.write_row((seq, line, session_id))
        cursor.execute("UPDATE gobot_audit_head SET seq = %s, hash = %s", (chain.seq, chain.prev))
        cursor.execute("SELECT setval('gobot_changes', %s)", (count,))
        cursor.execute("ANALYZE")
    return [ids[0], ids[-1]]


# measuring ----------------------------------------------------------------------------------
class ServerTime:
    """ASGI wrapper: how long the app took for each request, to the last byte of its answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Scope]], send: Any
    ) -> None:
        begun = time.perf_counter()

        async def timed_send(message: Scope) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - begun) * 1000

        await self.app(scope, receive, timed_send)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(call: Callable[[], object]) -> float:
    begun = time.perf_counter()
    call()
    return (time.perf_counter() - begun) * 1000


async def measure(settings: Settings, uow: UnitOfWork, ids: list[str]) -> dict[str, float]:
    runtime = build_runtime(settings)
    server = ServerTime(create_http_app(runtime))
    headers = {"X-API-Key": API_KEY}
    results: dict[str, float] = {}
    begun = time.perf_counter()
    first = uow.audit.verify_recent()
    results["mark s"] = time.perf_counter() - begun
    assert first.ok, first.problem
    transport = httpx.ASGITransport(app=server)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def get(path: str, status: int = 200) -> float:
            response = await client.get(path, headers=headers)
            assert response.status_code == status, (path, response.status_code, response.text)
            return server.last_ms

        for session_id in ids:  # warm-up: imports, caches, pools
            await get(f"/core/go/sessions/{session_id}")
        before = rss_mb()
        for name, session_id in zip(("oldest", "newest"), ids, strict=True):
            samples = [await get(f"/core/go/sessions/{session_id}") for _ in range(REPEATS)]
            results[f"report {name} p50 ms"] = p50(samples)
        results["report RSS growth MB"] = rss_mb() - before
        unknown = [await get(f"/core/go/sessions/{uuid.uuid4().hex}", 404) for _ in range(5)]
        results["report of an unknown id (404) p50 ms"] = p50(unknown)
        page = [await get("/core/go/sessions?offset=0&limit=20") for _ in range(REPEATS)]
        results["history page p50 ms"] = p50(page)
        deep = [await get("/core/go/sessions?offset=100000&limit=20") for _ in range(5)]
        results["history page at offset 100,000 p50 ms"] = p50(deep)
    services = runtime.services
    results["/go-history p50 ms"] = p50(
        [timed(lambda: services.sessions.history(10)) for _ in range(REPEATS)]
    )
    last_end = max(s.ended_at_utc for s in uow.sessions.history(1) if s.ended_at_utc)
    since, until = last_end - timedelta(days=7), last_end + timedelta(minutes=1)
    week: list[GoSession] = []

    def digest_query() -> None:
        week[:] = uow.sessions.history(MAX_SESSIONS, since=since, until=until)

    results["digest week query p50 ms"] = p50([timed(digest_query) for _ in range(10)])
    results["digest week sessions"] = len(week)
    return results


def run(store: str, count: int, fake: FakeSlack, root: Path) -> dict[str, float]:
    directory = root / f"{store}-{count}"
    directory.mkdir()
    base = {
        "data_dir": directory,
        "api_key": API_KEY,
        "slack_bot_token": "xoxb-bench-not-real",
        "slack_signing_secret": "bench-signing-secret",
        "slack_api_url": fake.api_url,
    }
    schema = f"bench_report_{uuid.uuid4().hex[:8]}"
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        begun = time.perf_counter()
        if store == "json":
            ids = seed_json(directory, count)
            uow: UnitOfWork = JsonUnitOfWork(directory)
            settings = Settings(**base)
        else:
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
            ids = seed_postgres(url, count)
            uow = PgUnitOfWork.open(url)
            settings = Settings(**base, store="postgres", database_url=url)
        seeded = time.perf_counter() - begun
        results = asyncio.run(measure(settings, uow, ids))
        return {"seed s": seeded, **results}
    finally:
        shutil.rmtree(directory)
        if store == "postgres":
            close_database(url)
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--stores", default="json,postgres")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    fake = FakeSlack().start()
    table: dict[tuple[str, int], dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-report-") as root:
            for store in args.stores.split(","):
                for size in sizes:
                    table[store, size] = run(store, size, fake, Path(root))
                    print(f"{store} {size:,}: {table[store, size]}", flush=True)
    finally:
        fake.stop()
    report(table, sizes)


def report(table: dict[tuple[str, int], dict[str, float]], sizes: list[int]) -> None:
    rows = list(next(iter(table.values())))
    print("\n| measure | " + " | ".join(f"{s} {n:,}" for s, n in table) + " |")
    print("|---|" + "---:|" * len(table))
    for row in rows:
        print(f"| {row} | " + " | ".join(f"{table[key][row]:.2f}" for key in table) + " |")
    print("\ntargets")
    for store in dict.fromkeys(s for s, _ in table):
        big = table[store, max(sizes)]
        for name in ("oldest", "newest"):
            value = big[f"report {name} p50 ms"]
            verdict = "met" if value <= P50_TARGET_MS else "NOT met"
            print(f"  {store} report {name} p50 {value:.1f} ms <= {P50_TARGET_MS}: {verdict}")
        growth = big["report RSS growth MB"]
        verdict = "met" if growth <= RSS_TARGET_MB else "NOT met"
        print(f"  {store} report RSS growth {growth:.1f} MB <= {RSS_TARGET_MB}: {verdict}")
        small = table[store, min(sizes)]
        for row in ("history page p50 ms", "/go-history p50 ms", "digest week query p50 ms"):
            ratio = big[row] / small[row]
            verdict = "met" if ratio <= RATIO_TARGET else "NOT met"
            print(f"  {store} {row}: {max(sizes):,} / {min(sizes):,} = {ratio:.2f}: {verdict}")


if __name__ == "__main__":
    main()
