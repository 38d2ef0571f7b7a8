"""Slack paced as one app (issue 20): N open sessions in channel scope, each owing its snapshot
and playbook message, drained against a loopback Slack that allows 300 `chat.postMessage` a
minute (Retry-After 30 beyond it). Measured for `--drain` seconds of the real scheduler tick:
the share of posts answered 429, messages delivered (once each, snapshot before playbook per
session), each tick's time against its interval, RSS, and how long a signed `/go-note` in
another channel takes to be answered (its response_url reply) while the backlog drains.

    .venv/bin/python benchmarks/bench_pace.py --sessions 2000 --drain 180

In one process (gobot's runtime as `serve` builds it, the fake Slack, the client): the
sessions are started through the services (not through Slack), the notes through the HTTP app.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import FakeSlack, Limit
from bot.dev.slack_requests import slash_command_body
from bot.settings import Settings
from bot.web.server import create_http_app

SECRET = "bench-signing-secret"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:  # noqa: PLR0915 (one straight script, read top to bottom)
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--drain", type=float, default=180.0)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--note-every", type=float, default=5.0)
    args = parser.parse_args()

    fake = FakeSlack().start()
    limit = fake.limit("chat.postMessage", Limit(args.limit, retry_after=30))
    data = Path(tempfile.mkdtemp(prefix="bench-pace-"))
    (data / "health_status.json").write_text(json.dumps({"status": "green", "reasons": []}))
    cone = {"band": "A", "reason": "bench", "updated_at_utc": "2026-01-01T08:00:00Z"}
    (data / "cone_state.json").write_text(json.dumps(cone))
    settings = Settings(
        data_dir=data,
        slack_bot_token="xoxb-bench-not-real",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        session_scope="channel",
        tick="15s",
    )
    runtime = build_runtime(settings)
    http = TestClient(create_http_app(runtime))
    services = runtime.services
    print(f"load before: {os.getloadavg()}; rate {settings.slack_rate}/min; limit {args.limit}")

    began = time.monotonic()
    for n in range(args.sessions):
        services.sessions.start(f"U{n}", f"C{n:05d}", "bench")
    services.sessions.start("UNOTE", "CNOTE", "the operator's own")
    print(f"{args.sessions + 1} sessions started in {time.monotonic() - began:.1f} s")
    owed = services.outbox.depth()
    rss = [rss_mb()]
    ticks: list[float] = []
    stop = threading.Event()

    def tick_loop() -> None:
        while not stop.is_set():
            start = time.monotonic()
            runtime.ticker.tick()
            ticks.append(time.monotonic() - start)
            rss.append(rss_mb())
            stop.wait(max(0.0, 15 - (time.monotonic() - start)))

    ticker = threading.Thread(target=tick_loop, daemon=True)
    ticker.start()
    verifier = SignatureVerifier(SECRET)
    answers: list[float] = []
    drain_began = time.monotonic()
    while time.monotonic() - drain_began < args.drain:
        token = uuid.uuid4().hex
        body = slash_command_body(
            "/go-note", "still here", "UNOTE", "CNOTE", fake.response_url(token)
        )
        stamp = str(int(time.time()))
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        sent = time.monotonic()
        assert http.post("/slack/events", content=body, headers=headers).status_code == 200
        fake.wait_for(lambda f, t=token: any(c.method == t for c in f.responses), timeout=30)
        answers.append(time.monotonic() - sent)
        time.sleep(args.note_every)
    stop.set()
    ticker.join()

    posts = fake.calls_to("chat.postMessage")
    landed = [m for m in fake.messages.values()]
    per_session: dict[str, list[str]] = {}
    for message in sorted(landed, key=lambda m: float(m.ts)):
        playbook = str(message.params.get("text", "")).startswith("GO playbook:")
        if message.channel == "CNOTE" or (message.thread_ts is not None and not playbook):
            continue  # the notes' channel; only the post and the playbook message are owed
        per_session.setdefault(message.channel, []).append("playbook" if playbook else "post")
    doubled = sum(1 for kinds in per_session.values() if max(Counter(kinds).values()) > 1)
    out_of_order = sum(1 for kinds in per_session.values() if kinds[0] != "post")
    print(f"drained for {args.drain:.0f} s; owed at the start {owed} messages")
    print(
        f"chat.postMessage calls {len(posts)}, answered 429 {limit.refused} "
        f"({100 * limit.refused / max(1, len(posts)):.1f}%)"
    )
    print(
        f"messages landed {len(landed)} in {len(per_session)} channels; "
        f"a post twice: {doubled}; playbook before its post: {out_of_order}; "
        f"left in the outbox {services.outbox.depth()}"
    )
    print(
        "tick s: "
        + ", ".join(f"{t:.1f}" for t in ticks)
        + f" (interval 15 s, max {max(ticks):.1f})"
    )
    print(f"RSS MB: start {rss[0]:.0f}, max {max(rss):.0f}, end {rss[-1]:.0f}")
    print(
        f"/go-note answer s ({len(answers)}): p50 {statistics.median(answers):.3f}, "
        f"max {max(answers):.3f}"
    )
    print(f"load after: {os.getloadavg()}")
    http.close()
    fake.stop()


if __name__ == "__main__":
    main()
