"""50-way concurrent `/go-start` across two `gobot serve` replicas on one PostgreSQL.

Each round: 50 signed `/go-start` at once, alternating between the two replicas, each from its
own user; measured: ack latency, time to each reply, the number of winners (must be 1) and of
snapshot posts (must be 1); then the session is ended for the next round.

Run: .venv/bin/python benchmarks/bench_replicas.py [--rounds 10] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
from bench_slack import (
    HOST,
    SIGNING_SECRET,
    command_body,
    percentile,
    running_server,
    signed_post,
    write_sources,
)
from bench_store import drop_schema, scratch_schema
from slack_sdk.signature import SignatureVerifier

from bot.dev.fake_slack import FakeSlack

RACERS = 50
REPLY_TIMEOUT_SECONDS = 30.0


def one_round(
    number: int, fake: FakeSlack, clients: list[httpx.Client]
) -> tuple[list[float], list[float], int, int]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    posts_before = len(fake.calls_to("chat.postMessage"))

    def race(n: int) -> tuple[float, float, str]:
        body, token = command_body(fake, "/go-start", f"UR{number:03d}X{n:03d}", "CRACE")
        sent, seconds, status = signed_post(clients[n % 2], verifier, body)
        assert status == 200, status
        return sent, seconds, token

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))
    tokens = {token: sent for sent, _, token in results}
    assert fake.wait_for(
        lambda f: tokens.keys() <= {c.method for c in f.responses}, REPLY_TIMEOUT_SECONDS
    ), "not every racer got a reply"
    replies = {c.method: (c.at, json.dumps(c.params)) for c in fake.responses if c.method in tokens}
    winners = sum("GO session started" in text for _, text in replies.values())
    reply_ms = [(at - tokens[token]) * 1000 for token, (at, _) in replies.items()]
    posts = len(
        [
            c
            for c in fake.calls_to("chat.postMessage")[posts_before:]
            if "GO session started" in str(c.params.get("text", ""))
        ]
    )
    end_body, end_token = command_body(fake, "/go-end", f"UR{number:03d}END", "CRACE")
    signed_post(clients[0], verifier, end_body)
    assert fake.wait_for(
        lambda f: any(c.method == end_token for c in f.responses), REPLY_TIMEOUT_SECONDS
    )
    return [seconds * 1000 for _, seconds, _ in results], reply_ms, winners, posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "GOBOT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    arguments = parser.parse_args()
    postgres = scratch_schema(arguments.database_url)
    if postgres is None:
        raise SystemExit("PostgreSQL is needed for this benchmark")
    fake = FakeSlack(HOST).start()
    acks: list[float] = []
    replies: list[float] = []
    outcomes: list[tuple[int, int]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="gobot-bench-") as tmp, ExitStack() as stack:
            data_dir = Path(tmp)
            write_sources(data_dir)
            env = {"GOBOT_STORE": "postgres", "GOBOT_DATABASE_URL": postgres[1]}
            servers = [
                stack.enter_context(running_server(data_dir, fake, env, f"replica{n}.log"))
                for n in (1, 2)
            ]
            clients = [
                stack.enter_context(httpx.Client(base_url=url, timeout=30)) for _, url in servers
            ]
            started = time.perf_counter()
            for number in range(arguments.rounds):
                ack_ms, reply_ms, winners, posts = one_round(number, fake, clients)
                acks += ack_ms
                replies += reply_ms
                outcomes.append((winners, posts))
            elapsed = time.perf_counter() - started
    finally:
        fake.stop()
        drop_schema(arguments.database_url, postgres)
    print(
        f"{arguments.rounds} rounds of {RACERS} concurrent /go-start over 2 replicas "
        f"in {elapsed:.1f} s"
    )
    print(
        f"ack latency:   p50 {statistics.median(acks):.1f} ms, p99 {percentile(acks, 0.99):.1f} "
        f"ms, max {max(acks):.1f} ms"
    )
    print(
        f"time to reply: p50 {statistics.median(replies):.1f} ms, p99 "
        f"{percentile(replies, 0.99):.1f} ms, max {max(replies):.1f} ms"
    )
    print(f"winners per round: {[w for w, _ in outcomes]}")
    print(f"snapshot posts per round: {[p for _, p in outcomes]}")
    single = all(outcome == (1, 1) for outcome in outcomes)
    print(f"exactly one winner and one post every round: {'yes' if single else 'NO'}")


if __name__ == "__main__":
    main()
