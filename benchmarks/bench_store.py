"""Latency of one GO session cycle (`start` then `end`) on the JSON store.

Two data directories are measured in the same run, cycle by cycle in turn so that drift in the
machine's load hits both alike: one with an empty history, one whose `go_history.jsonl`
already holds 100,000 ended sessions. Run from the repository root:

    .venv/bin/python benchmarks/bench_store.py [--cycles N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bot.bootstrap import build_services
from bot.settings import Settings
from core.models import ConeState, GoSession, HealthStatus, Snapshot
from core.services import Services
from core.stores.json.sessions import HISTORY_FILE
from core.stores.postgres.database import close_database

WARMUP_CYCLES = 20
HISTORY_SESSIONS = 100_000
P50_TARGET_MS = 2.0  # issue 19
RATIO_TARGET = 1.2


def write_sources(data_dir: Path) -> None:
    """File sources that answer at once, so a cycle measures the store, not a slow source."""
    (data_dir / "cone_state.json").write_text('{"band":"A","reason":"ok"}', encoding="utf-8")
    (data_dir / "health_status.json").write_text(
        '{"status":"green","reasons":[]}', encoding="utf-8"
    )


def write_history(data_dir: Path, count: int) -> None:
    """`count` realistic ended sessions, written directly instead of run through the service."""
    first = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    with open(data_dir / HISTORY_FILE, "w", encoding="utf-8") as history:
        for number in range(count):
            started = first + timedelta(hours=number)
            ended = started + timedelta(minutes=45)
            snapshot = Snapshot(
                cone=ConeState(band="A", reason="ok"),
                status=HealthStatus(status="green"),
                taken_at_utc=started,
            )
            session = GoSession(
                active=False,
                started_at_utc=started,
                ended_at_utc=ended,
                cone_band="A",
                status="green",
                notes=f"release {number}",
                snapshot=snapshot,
                id=uuid.uuid4().hex,
                scope="workspace",
                channel="C0123456",
                started_by="U0123456",
                ended_by="U0123456",
                end_notes="done",
                end_snapshot=snapshot.model_copy(update={"taken_at_utc": ended}),
                duration_seconds=2700.0,
            )
            history.write(session.model_dump_json() + "\n")


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux `/proc/stat`); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(field) for field in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def cycle_ms(services: Services) -> float:
    """One timed start+end; then, untimed, the messages they owe are taken out of the outbox,
    as the sender does after the ack in `gobot serve` (else they would pile up here, where no
    sender runs, and every later cycle would pay for listing them)."""
    begin = time.perf_counter()
    services.sessions.start("U-bench", "C-bench", "benchmark")
    services.sessions.end("U-bench", "C-bench", "benchmark")
    elapsed = (time.perf_counter() - begin) * 1000
    while owed := services.outbox.ready(datetime(9999, 12, 31, tzinfo=UTC)):
        with services.uow:
            for item in owed:
                services.outbox.done(item)
            services.uow.commit()
    return elapsed


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def scratch_schema(url: str) -> tuple[str, str] | None:
    """A fresh schema on `url` and the URL that uses it, or None (said) if unreachable."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as admin:
            schema = f"gobot_bench_{uuid.uuid4().hex[:10]}"
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as exc:
        print(f"postgres skipped: cannot connect to {url} ({exc})")
        return None
    joiner = "&" if "?" in url else "?"
    return schema, f"{url}{joiner}options=-csearch_path%3D{schema}"


def drop_schema(url: str, postgres: tuple[str, str]) -> None:
    close_database(postgres[1])
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{postgres[0]}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Latency of a start+end cycle: JSON store (empty and 100k history) beside "
        "PostgreSQL, in the same run."
    )
    parser.add_argument("--cycles", type=int, default=500, help="measured cycles per config")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "GOBOT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL to measure (a scratch schema is created and dropped); '' to skip",
    )
    arguments = parser.parse_args()
    cycles = arguments.cycles
    if cycles < 1:
        parser.error("--cycles must be at least 1")

    with tempfile.TemporaryDirectory() as empty_dir, tempfile.TemporaryDirectory() as full_dir:
        configs = {"empty history": Path(empty_dir), "100k history": Path(full_dir)}
        for data_dir in configs.values():
            write_sources(data_dir)
        began = time.perf_counter()
        write_history(configs["100k history"], HISTORY_SESSIONS)
        size_mb = (configs["100k history"] / HISTORY_FILE).stat().st_size / 1e6
        print(
            f"wrote {HISTORY_SESSIONS:,} sessions ({size_mb:.0f} MB) "
            f"in {time.perf_counter() - began:.1f} s"
        )

        services = {name: build_services(Settings(data_dir=path)) for name, path in configs.items()}
        postgres = scratch_schema(arguments.database_url) if arguments.database_url else None
        if postgres is not None:
            services["postgres"] = build_services(
                Settings(
                    data_dir=configs["empty history"], store="postgres", database_url=postgres[1]
                )
            )
        samples: dict[str, list[float]] = {name: [] for name in services}
        busy_before, own_before, wall_before = (
            machine_busy_seconds(),
            own_cpu_seconds(),
            time.perf_counter(),
        )
        for number in range(WARMUP_CYCLES + cycles):
            for name, built in services.items():
                elapsed = cycle_ms(built)
                if number >= WARMUP_CYCLES:
                    samples[name].append(elapsed)
        busy_after, own_after, wall_after = (
            machine_busy_seconds(),
            own_cpu_seconds(),
            time.perf_counter(),
        )
        if postgres is not None:
            drop_schema(arguments.database_url, postgres)

    print(f"\n{cycles} start+end cycles per config after {WARMUP_CYCLES} warm-up cycles")
    print(f"{'config':<14} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    p50: dict[str, float] = {}
    for name, values in samples.items():
        p50[name] = percentile(values, 0.50)
        print(
            f"{name:<14} {p50[name]:>8.2f} {percentile(values, 0.99):>8.2f} "
            f"{statistics.fmean(values):>8.2f}"
        )
    ratio = p50["100k history"] / p50["empty history"]
    worst = max(p50["empty history"], p50["100k history"])
    print(f"\nratio p50(100k)/p50(empty): {ratio:.2f}")
    print(
        f"target JSON p50 <= {P50_TARGET_MS} ms: {'met' if worst <= P50_TARGET_MS else 'NOT met'}"
    )
    if "postgres" in p50:
        print(f"postgres p50 / JSON empty p50: {p50['postgres'] / p50['empty history']:.2f}")
    print(f"target ratio <= {RATIO_TARGET}: {'met' if ratio <= RATIO_TARGET else 'NOT met'}")
    if busy_before is not None and busy_after is not None:
        capacity = (wall_after - wall_before) * (os.cpu_count() or 1)
        others = (busy_after - busy_before) - (own_after - own_before)
        print(f"CPU used by other processes while measuring: {max(0.0, others) / capacity:.0%}")


if __name__ == "__main__":
    main()
