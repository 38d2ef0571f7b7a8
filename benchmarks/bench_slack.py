"""Ack latency, snapshot post latency and RSS of `gobot serve` under a mixed load.

`gobot serve` runs built exactly as the CLI builds it (settings, Slack client, services with
the Slack transport, Bolt app, HTTP app, uvicorn). This process runs the loopback Slack
stand-in and the load: `--concurrency` workers, each with its own keep-alive client, each
looping over `/go-start`, `/go-session`, `/go-end` in one channel and as one user of its own
per loop (the bot limits each user to 5 changes in 30 s). The comparison with the floor (a
no-op async Bolt app, `--floor` here) is `bench_ack.py`'s: each server measured alone, in turn.

Measured: the HTTP round trip of each signed request (Bolt answers at `ack()`), the time from
sending `/go-start` to its snapshot `chat.postMessage` reaching the fake, how long the work
queued behind the acks takes to finish, and the server's RSS. Checked: every request answered
200, every start got one snapshot post and the replies (response_url) a person would read.
Run from the repository root:

    .venv/bin/python benchmarks/bench_slack.py [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import Call, FakeSlack
from bot.settings import load_settings
from bot.web.server import run_http

HOST = "127.0.0.1"
KINDS = ("/go-start", "/go-session", "/go-end")
SIGNING_SECRET = "bench-signing-secret-not-real"
BOT_TOKEN = "xoxb-bench-not-a-real-token"
WARMUP_PER_KIND = 20
START_TIMEOUT_SECONDS = 30.0
DRAIN_TIMEOUT_SECONDS = 300.0
IDLE_SETTLE_SECONDS = 2.0
SNAPSHOT_TEXT = "GO session started"
PACED_LOOPS = 5
SUMMARY_TEXT = "GO session ended"
ACK_P99_TARGET_MS = 50.0
POST_P50_TARGET_MS = 300.0
RSS_TARGET_MB = 150.0
EXPECTED_REPLY = {
    "/go-start": "GO session started; snapshot posted",
    "/go-end": "GO session ended; summary posted",
}


# server -------------------------------------------------------------------------------------
def serve(port: int) -> None:
    """What `gobot serve` runs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = build_runtime(load_settings())
    runtime.ticker.start()
    run_http(runtime, HOST, port)


def serve_floor(port: int) -> None:
    """The floor: a Bolt AsyncApp on FastAPI/uvicorn whose one listener acks every command."""
    settings = load_settings()
    assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
    bolt = AsyncApp(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
        ),
    )

    @bolt.command(re.compile(".*"))  # bench_ack sends the floor gobot's own commands
    async def noop(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    @api.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(api, host=HOST, port=port, log_config=None, access_log=False)


# load ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    kind: str
    channel: str
    token: str
    sent: float  # time.monotonic(), the clock of FakeSlack's Call.at
    seconds: float
    status: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def write_sources(data_dir: Path) -> None:
    (data_dir / "cone_state.json").write_text(
        '{"band":"A","reason":"ok","metrics":{}}', encoding="utf-8"
    )
    (data_dir / "health_status.json").write_text(
        '{"status":"green","reasons":[]}', encoding="utf-8"
    )


def server_env(data_dir: Path, fake: FakeSlack) -> dict[str, str]:
    """The caller's environment without its own gobot/Slack settings, plus ours."""
    inherited = {
        key: value for key, value in os.environ.items() if not key.startswith(("GOBOT_", "SLACK_"))
    }
    return {
        **inherited,
        "GOBOT_DATA_DIR": str(data_dir),
        "GOBOT_SESSION_SCOPE": "channel",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
    }


@contextmanager
def running_server(
    data_dir: Path,
    fake: FakeSlack,
    extra_env: dict[str, str] | None = None,
    log_name: str = "server.log",
    mode: str = "--server",
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The server process (`--server`: gobot, `--floor`: the no-op AsyncApp) and its base URL,
    up (GET /healthz answers 200); always stopped."""
    port = free_port()
    log_path = data_dir / log_name
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), mode, "--port", str(port)],
            env={**server_env(data_dir, fake), **(extra_env or {})},
            cwd=data_dir,  # no `.env` of the caller's
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(base_url=base_url, timeout=5) as probe:
            while True:
                try:
                    if probe.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not come up:\n{log_path.read_text()}")
                time.sleep(0.05)
        yield process, base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def command_body(fake: FakeSlack, command: str, user: str, channel: str) -> tuple[str, str]:
    token = uuid.uuid4().hex
    body = urlencode(
        {
            "token": "deprecated",
            "team_id": "T1",
            "team_domain": "bench",
            "channel_id": channel,
            "channel_name": "bench",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": "benchmark" if command in EXPECTED_REPLY else "",
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": fake.response_url(token),
            "trigger_id": "1.2.3",
        }
    )
    return body, token


def signed_post(
    client: httpx.Client, verifier: SignatureVerifier, body: str
) -> tuple[float, float, int]:
    """(sent at, round trip in seconds, status) of one signed POST /slack/events."""
    stamp = str(int(time.time()))
    signature = verifier.generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    sent = time.monotonic()
    response = client.post("/slack/events", content=body, headers=headers)
    return sent, time.monotonic() - sent, response.status_code


def worker(
    url: str,
    fake: FakeSlack,
    phase: str,
    number: int,
    loops: int,
    *,
    fresh: bool,
    closed: bool = False,
) -> list[Sample]:
    """`loops` times: noop, start, session, end; a fresh user per loop, and the worker's own
    channel (or, with `fresh`, a fresh channel per loop). `closed`: wait for each command's
    reply before sending the next, as an operator would."""
    verifier = SignatureVerifier(SIGNING_SECRET)
    samples: list[Sample] = []
    with httpx.Client(base_url=url, timeout=30) as gobot:
        for loop in range(loops):
            tag = f"{phase}{number:03d}X{loop:05d}"
            user = f"U{tag}"
            channel = f"C{tag}" if fresh else f"C{phase}{number:03d}"
            for kind in KINDS:
                body, token = command_body(fake, kind, user, channel)
                sent, seconds, status = signed_post(gobot, verifier, body)
                samples.append(Sample(kind, channel, token, sent, seconds, status))
                if closed:
                    fake.wait_for(
                        lambda f, t=token: any(c.method == t for c in f.responses),
                        DRAIN_TIMEOUT_SECONDS,
                    )
    return samples


def drive(
    url: str,
    fake: FakeSlack,
    phase: str,
    concurrency: int,
    loops: int,
    *,
    fresh: bool,
    closed: bool = False,
) -> list[Sample]:
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [
            pool.submit(worker, url, fake, phase, number, loops, fresh=fresh, closed=closed)
            for number in range(concurrency)
        ]
        return [sample for future in futures for sample in future.result()]


# report -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    load_seconds: float
    drain_seconds: float | None  # None: work still unfinished after DRAIN_TIMEOUT_SECONDS
    rss_mb: dict[str, float]
    snapshots: dict[str, list[Call]]  # channel -> its snapshot posts
    problems: Counter[str]
    examples: dict[str, str]
    log_lines: list[str]
    paced: list[Sample]  # the closed-loop phase: each client waits for its reply


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def wait_for_replies(fake: FakeSlack, samples: list[Sample]) -> bool:
    """Every non-noop command's work finished (it ends by answering its response_url)."""
    expected = {sample.token for sample in samples}
    return fake.wait_for(
        lambda f: expected <= {call.method for call in f.responses}, DRAIN_TIMEOUT_SECONDS
    )


def snapshot_posts(fake: FakeSlack) -> dict[str, list[Call]]:
    posts: dict[str, list[Call]] = defaultdict(list)
    for call in fake.calls_to("chat.postMessage"):
        if str(call.params.get("text", "")).startswith(SNAPSHOT_TEXT):
            posts[str(call.params.get("channel"))].append(call)
    return posts


def check(
    fake: FakeSlack, samples: list[Sample], snapshots: dict[str, list[Call]]
) -> tuple[Counter[str], dict[str, str]]:
    """Problems by kind, each with the channel of its first occurrence."""
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}

    def found(problem: str, channel: str) -> None:
        problems[problem] += 1
        examples.setdefault(problem, channel)

    replies = {call.method: call.params for call in fake.responses}
    for sample in samples:
        if sample.status != 200:
            found(f"{sample.kind} answered HTTP {sample.status}", sample.channel)
        expected = EXPECTED_REPLY.get(sample.kind)
        if expected is not None:
            reply = replies.get(sample.token)
            if reply is None:
                found(f"{sample.kind}: no reply", sample.channel)
            elif expected not in json.dumps(reply):
                found(f"{sample.kind} replied {reply.get('text')!r}", sample.channel)
    starts = Counter(sample.channel for sample in samples if sample.kind == "/go-start")
    for channel, count in starts.items():
        posted = len(snapshots.get(channel, []))
        if posted != count:
            found(f"{posted} snapshot posts in a channel of {count} starts", channel)
    measured = {sample.channel for sample in samples}
    for call in fake.calls_to("chat.postMessage"):
        channel = str(call.params.get("channel"))
        params = call.params
        if (
            channel in measured
            and params.get("text") == SUMMARY_TEXT
            and not params.get("thread_ts")
        ):
            found("/go-end summary posted top-level, not in the snapshot's thread", channel)
    return problems, examples


def server_log_lines(data_dir: Path) -> list[str]:
    text = (data_dir / "server.log").read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if " INFO " not in line]


def start_to_post_ms(samples: list[Sample], snapshots: dict[str, list[Call]]) -> list[float]:
    """The k-th start of a channel pairs with its k-th snapshot post (work is ordered per
    channel)."""
    delays: list[float] = []
    starts: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.sent):
        if sample.kind == "/go-start":
            starts[sample.channel].append(sample)
    for channel, channel_starts in starts.items():
        for sample, post in zip(channel_starts, snapshots.get(channel, []), strict=False):
            delays.append((post.at - sample.sent) * 1000)
    return delays


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(outcome: Outcome) -> None:
    samples = outcome.samples
    by_kind: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample.seconds * 1000)
    rate = len(samples) / outcome.load_seconds
    print(f"\n{len(samples)} requests in {outcome.load_seconds:.1f} s ({rate:.0f} req/s)")
    print(
        f"{'ack latency':<12} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for kind in KINDS:
        values = by_kind[kind]
        print(
            f"{kind:<12} {len(values):>6} {percentile(values, 0.50):>8.1f} "
            f"{percentile(values, 0.95):>8.1f} {percentile(values, 0.99):>8.1f} "
            f"{max(values):>8.1f}"
        )

    saturated = start_to_post_ms(samples, outcome.snapshots)
    paced = start_to_post_ms(outcome.paced, outcome.snapshots)
    post_p50 = percentile(paced, 0.50) if paced else math.inf
    for label, delays in (("saturating load", saturated), ("operator-paced", paced)):
        if delays:
            print(
                f"\n/go-start sent -> snapshot chat.postMessage, {label} ({len(delays)} posts): "
                f"p50 {percentile(delays, 0.50):.1f} ms, p95 {percentile(delays, 0.95):.1f} ms, "
                f"p99 {percentile(delays, 0.99):.1f} ms, max {max(delays):.1f} ms"
            )
    drain = outcome.drain_seconds
    print(
        "work of the measured commands finished "
        + (f"{drain:.1f} s after the last ack" if drain is not None else "NOT within the timeout")
    )
    print("server RSS: " + ", ".join(f"{k} {v:.1f} MB" for k, v in outcome.rss_mb.items()))

    idle = outcome.rss_mb["idle"]
    print("\ntargets")
    for kind in KINDS:
        p99 = percentile(by_kind[kind], 0.99)
        print(
            f"  {kind:<11} ack p99 {p99:.1f} ms <= {ACK_P99_TARGET_MS:.0f}: "
            f"{verdict(p99 <= ACK_P99_TARGET_MS)}"
        )
    print(
        f"  snapshot post p50 (operator-paced) {post_p50:.1f} ms <= {POST_P50_TARGET_MS:.0f}: "
        f"{verdict(post_p50 <= POST_P50_TARGET_MS)}"
    )
    print(f"  idle RSS {idle:.1f} MB <= {RSS_TARGET_MB:.0f}: {verdict(idle <= RSS_TARGET_MB)}")

    print(f"\nproblems: {sum(outcome.problems.values())}")
    for problem, count in outcome.problems.most_common():
        print(f"  {count:>5} x {problem} (first: {outcome.examples[problem]})")
    print(f"server log lines above INFO: {len(outcome.log_lines)}")
    for line in outcome.log_lines[:10]:
        print(f"  {line}")


def run(loops: int, concurrency: int, fresh: bool) -> Outcome:
    fake = FakeSlack(HOST).start()
    try:
        with tempfile.TemporaryDirectory(prefix="gobot-bench-") as tmp:
            data_dir = Path(tmp)
            write_sources(data_dir)
            rss: dict[str, float] = {}
            with running_server(data_dir, fake) as (process, base_url):
                time.sleep(IDLE_SETTLE_SECONDS)
                rss["idle"] = rss_mb(process.pid)
                warmup = drive(
                    base_url,
                    fake,
                    "W",
                    concurrency,
                    math.ceil(WARMUP_PER_KIND / concurrency),
                    fresh=fresh,
                )
                wait_for_replies(fake, warmup)
                print(
                    f"{concurrency} workers x {loops} loops of {', '.join(KINDS)} "
                    f"after {len(warmup)} warm-up requests"
                )
                began = time.monotonic()
                samples = drive(base_url, fake, "M", concurrency, loops, fresh=fresh)
                ended = time.monotonic()
                time.sleep(IDLE_SETTLE_SECONDS)
                rss[f"{IDLE_SETTLE_SECONDS:.0f} s after load"] = rss_mb(process.pid)
                drained = wait_for_replies(fake, samples)
                drain_seconds = time.monotonic() - ended if drained else None
                time.sleep(IDLE_SETTLE_SECONDS)
                rss[f"{IDLE_SETTLE_SECONDS:.0f} s after the work drained"] = rss_mb(process.pid)
                paced = drive(
                    base_url, fake, "P", concurrency, PACED_LOOPS, fresh=fresh, closed=True
                )
            snapshots = snapshot_posts(fake)
            problems, examples = check(fake, samples + paced, snapshots)
            return Outcome(
                samples,
                ended - began,
                drain_seconds,
                rss,
                snapshots,
                problems,
                examples,
                server_log_lines(data_dir),
                paced,
            )
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Slack ack latency of `gobot serve`.")
    parser.add_argument(
        "--requests", type=int, default=25, help="start/end pairs (loops) per worker"
    )
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent clients")
    parser.add_argument(
        "--fresh-channels",
        action="store_true",
        help="a new channel for every start/end pair (stresses a growing channel-scope store)",
    )
    parser.add_argument("--server", action="store_true", help="internal: run gobot serve")
    parser.add_argument("--floor", action="store_true", help="internal: run the no-op AsyncApp")
    parser.add_argument("--port", type=int, default=0, help="internal: the server's port")
    args = parser.parse_args()
    if args.server:
        serve(args.port)
        return
    if args.floor:
        serve_floor(args.port)
        return
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    report(run(args.requests, args.concurrency, args.fresh_channels))


if __name__ == "__main__":
    main()
