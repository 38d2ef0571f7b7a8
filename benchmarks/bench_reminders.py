"""Reminder tick at scale: channel scope, many active sessions in the JSON store.

1. None due: the cost of one tick (index cached by inode/mtime/size) and the peak RSS.
2. 1,000 due at once: the time to claim them (compare-and-set, audit, outbox) and to hand them
   to a sender that answers at once (Slack's own rate limits excluded).

Run: .venv/bin/python benchmarks/bench_reminders.py [--sessions 10000] [--due 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.bootstrap import build_services
from bot.settings import Settings
from core.clock import format_utc
from core.models import ConeState, GoSession, HealthStatus, MessageRef, Posted, Snapshot
from core.outbox import OutboxItem, SendResult, Sent
from core.stores.json.datadir import dumps_compact

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now_value = T0

    def now(self) -> datetime:
        return self.now_value


class InstantTransport:
    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        return Sent(message=MessageRef(channel=item.channel or "", ts="1.0"))

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        return


def populate(data_dir: Path, sessions: int, due: int) -> None:
    """Write the store directly: one file per channel scope and the index of active sessions."""
    (data_dir / "cone_state.json").write_text(json.dumps({"band": "A", "reason": "ok"}))
    (data_dir / "health_status.json").write_text(json.dumps({"status": "green", "reasons": []}))
    (data_dir / "sessions").mkdir()
    snapshot = Snapshot(
        cone=ConeState(band="A", reason="ok"),
        status=HealthStatus(status="green"),
        taken_at_utc=T0,
    )
    index = {}
    far = T0 + timedelta(hours=1)
    for n in range(sessions):
        scope = f"channel:C{n:06d}"
        session = GoSession(
            active=True,
            started_at_utc=T0 - timedelta(hours=1),
            cone_band="A",
            status="green",
            notes="bench",
            snapshot=snapshot,
            id=f"s{n:06d}",
            scope=scope,
            channel=f"C{n:06d}",
            started_by="U1",
        )
        session.reminder.next_due_utc = T0 if n < due else far
        session.watch.next_check_utc = far
        session.watch.band, session.watch.status = "A", "green"
        path = data_dir / "sessions" / f"channel-C{n:06d}.json"
        path.write_text(dumps_compact(session.model_dump(mode="json")))
        index[scope] = {
            "id": session.id,
            "reminder": format_utc(session.reminder.next_due_utc),
            "watch": format_utc(far),
        }
    (data_dir / "go_active.json").write_text(dumps_compact(index))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gobot-bench-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        populate(data_dir, args.sessions, args.due)
        print(f"{args.sessions:,} active sessions written in {time.perf_counter() - started:.1f} s")
        clock = Clock()
        clock.now_value = T0 - timedelta(minutes=1)  # nothing due yet
        services = build_services(
            Settings(data_dir=data_dir, session_scope="channel"), clock, InstantTransport()
        )
        cold_start = time.perf_counter()
        services.reminders.tick()
        cold = (time.perf_counter() - cold_start) * 1000
        idle = []
        for _ in range(args.ticks):
            tick_start = time.perf_counter()
            report = services.reminders.tick()
            idle.append((time.perf_counter() - tick_start) * 1000)
            assert report.reminders == 0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"\nnone due: first tick {cold:.1f} ms (reads the index); then over {args.ticks} "
            f"ticks p50 {statistics.median(idle):.2f} ms, p99 {percentile(idle, 0.99):.2f} ms,"
            f" max {max(idle):.2f} ms"
        )
        print(f"peak RSS so far: {rss_mb:.0f} MB")

        clock.now_value = T0
        claim_start = time.perf_counter()
        report = services.reminders.tick()
        claimed = time.perf_counter() - claim_start
        hand_start = time.perf_counter()
        ready = services.outbox.ready(T0, limit=args.due * 2)
        handed = time.perf_counter() - hand_start
        assert report.reminders == args.due and len(ready) == args.due, (report, len(ready))
        assert services.delivery is not None
        send_start = time.perf_counter()
        sent = services.delivery.deliver_ready().attempted
        sending = time.perf_counter() - send_start
        assert sent == args.due and services.outbox.depth() == 0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"\n{args.due:,} due at once: claimed in {claimed:.2f} s "
            f"({claimed / args.due * 1000:.2f} ms each); listed for the sender in "
            f"{handed * 1000:.0f} ms; delivered to an instant transport in {sending:.2f} s "
            f"({sending / args.due * 1000:.2f} ms each)"
        )
        clock.now_value = T0 + timedelta(seconds=1)
        after = []
        for _ in range(10):
            tick_start = time.perf_counter()
            services.reminders.tick()
            after.append((time.perf_counter() - tick_start) * 1000)
        print(
            f"ticks after the burst: p50 {statistics.median(after):.2f} ms, max {max(after):.2f} ms"
        )
        print(f"peak RSS: {rss_mb:.0f} MB")
        target = statistics.median(idle)
        print(
            f"\ntarget: idle tick <= 50 ms: {'met' if target <= 50 else 'NOT met'} "
            f"(p50 {target:.2f} ms)"
        )


if __name__ == "__main__":
    main()
