"""Ack latency of `gobot serve` against the floor, each server measured alone, in turn.

The floor is a no-op Bolt `AsyncApp` on FastAPI/uvicorn whose `/go-session` listener only acks
(`bench_slack.py --floor`); gobot is `gobot serve` as the CLI builds it (with the
loopback Slack of `bot.dev.fake_slack`). Both processes are up for the whole run, but only one
is loaded at a time: for each concurrency, rounds alternate floor, gobot, floor, gobot, … and
every round sends the same number of signed `/go-session` requests from the same client (one
thread pool, keep-alive `httpx` clients), so neither server competes with the other's load
for the two cores. Each round's samples are kept apart; the figures are the median over the
rounds of each round's p50 and p99.

Targets (issue 19): at concurrency 20, gobot's p50 <= 1.2 x the floor's p50 and its p99 <=
50 ms. Run from the repository root:

    .venv/bin/python benchmarks/bench_ack.py [--requests 400] [--rounds 3] [--concurrency 1 5 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from slack_sdk.signature import SignatureVerifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_slack import (
    HOST,
    SIGNING_SECRET,
    command_body,
    percentile,
    running_server,
    signed_post,
    write_sources,
)

from bot.dev.fake_slack import FakeSlack

COMMAND = "/go-session"
WARMUP = 100
DRAIN_SECONDS = 1.0

P99_TARGET_MS = 50.0
RATIO_TARGET = 1.2


def round_of(
    pool: ThreadPoolExecutor,
    clients: list[httpx.Client],
    fake: FakeSlack,
    requests: int,
) -> list[float]:
    """`requests` signed `/go-session` from `len(clients)` workers at once; round trips in ms."""
    verifier = SignatureVerifier(SIGNING_SECRET)
    base, extra = divmod(requests, len(clients))
    share = [base + (1 if index < extra else 0) for index in range(len(clients))]

    def work(index: int) -> list[float]:
        seconds: list[float] = []
        for loop in range(share[index]):
            body, _ = command_body(fake, COMMAND, f"UB{index:03d}X{loop:05d}", f"CB{index:03d}")
            _, took, status = signed_post(clients[index], verifier, body)
            if status != 200:
                raise RuntimeError(f"{COMMAND} answered HTTP {status}")
            seconds.append(took * 1000)
        return seconds

    return [ms for part in pool.map(work, range(len(clients))) for ms in part]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    servers: dict[str, tuple[int, str]],
    fake: FakeSlack,
    concurrency: int,
    requests: int,
    rounds: int,
) -> dict[str, list[tuple[float, float, float]]]:
    """(p50, p99, server CPU ms per request) of each round, by server; rounds alternate between
    the servers. The CPU counts the work each request leaves behind its ack, drained before the
    next round."""
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
    with ThreadPoolExecutor(concurrency) as pool:
        clients = {
            name: [httpx.Client(base_url=url, timeout=30) for _ in range(concurrency)]
            for name, (_, url) in servers.items()
        }
        try:
            for name in servers:
                round_of(pool, clients[name], fake, WARMUP)
            for _ in range(rounds):
                for name, (pid, _) in servers.items():
                    time.sleep(DRAIN_SECONDS)  # the work of the round before is done
                    before = cpu_seconds(pid)
                    samples = round_of(pool, clients[name], fake, requests)
                    time.sleep(DRAIN_SECONDS)
                    cpu_ms = (cpu_seconds(pid) - before) * 1000 / requests
                    results[name].append(
                        (percentile(samples, 0.5), percentile(samples, 0.99), cpu_ms)
                    )
        finally:
            for group in clients.values():
                for client in group:
                    client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Ack latency, each server alone in turn.")
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 5, 20])
    args = parser.parse_args()
    fake = FakeSlack(HOST).start()
    try:
        with tempfile.TemporaryDirectory(prefix="gobot-bench-") as tmp:
            data_dir = Path(tmp)
            write_sources(data_dir)
            with (
                running_server(data_dir, fake) as (gobot_process, gobot),
                running_server(data_dir, fake, log_name="floor.log", mode="--floor") as (
                    floor_process,
                    floor,
                ),
            ):
                servers = {"floor": (floor_process.pid, floor), "gobot": (gobot_process.pid, gobot)}
                print(f"{args.rounds} rounds of {args.requests} signed {COMMAND} per server")
                print(
                    f"{'c':>3} {'server':<6} {'p50 ms (rounds)':<26} {'p99 ms (rounds)':<26} "
                    "CPU ms/request"
                )
                verdicts: list[str] = []
                for concurrency in args.concurrency:
                    found = measure(servers, fake, concurrency, args.requests, args.rounds)
                    p50 = {}
                    p99 = {}
                    for name, rows in found.items():
                        p50[name] = statistics.median(row[0] for row in rows)
                        p99[name] = statistics.median(row[1] for row in rows)
                        cpu = statistics.median(row[2] for row in rows)
                        each50 = " ".join(f"{row[0]:.1f}" for row in rows)
                        each99 = " ".join(f"{row[1]:.1f}" for row in rows)
                        print(
                            f"{concurrency:>3} {name:<6} {p50[name]:>6.1f} ({each50:<16}) "
                            f"{p99[name]:>6.1f} ({each99:<16}) {cpu:>6.2f}"
                        )
                    ratio = p50["gobot"] / p50["floor"]
                    verdicts.append(
                        f"  c={concurrency}: gobot p50 / floor p50 = {ratio:.2f}"
                        f" (target <= {RATIO_TARGET} at c=20); gobot p99 {p99['gobot']:.1f} ms"
                        f" (target <= {P99_TARGET_MS:.0f})"
                    )
                print("\n".join(verdicts))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
