"""`gobot serve` under an unsigned-body flood: memory and log growth.

Four unsigned POSTs to `/slack/events`, each announcing and pushing 100 MB, as an attacker
would; measured: the server's RSS before and after, the time each took to be refused, and how
much the server log grew. Beside them, signed `/go-session` commands keep arriving; their ack
latency is measured in the same run. Target: RSS grows by less than 50 MB, the log by less than
10 KB, every refusal comes before the body is read (413), acks stay under 100 ms.

Run from the repository root: .venv/bin/python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_slack import (
    HOST,
    SIGNING_SECRET,
    command_body,
    percentile,
    rss_mb,
    running_server,
    signed_post,
    write_sources,
)
from slack_sdk.signature import SignatureVerifier

from bot.dev.fake_slack import FakeSlack

ATTACKS = 4
ATTACK_BYTES = 100 * 1024 * 1024
CHUNK = b"x" * (1 << 20)
RSS_GROWTH_TARGET_MB = 50.0
LOG_GROWTH_TARGET_BYTES = 10_000
ACK_TARGET_MS = 100.0


def attack(port: int) -> tuple[float, str]:
    """One unsigned 100 MB POST; (seconds until the answer, the status line)."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=30) as conn:
        head = (
            f"POST /slack/events HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\n"
            f"Content-Length: {ATTACK_BYTES}\r\n\r\n"
        )
        conn.sendall(head.encode())
        sent = 0
        try:
            while sent < ATTACK_BYTES:
                conn.sendall(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass  # the server answered and closed: it would not take the rest
        answer = conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]
    return time.monotonic() - started, answer


def main() -> None:
    fake = FakeSlack(HOST).start()
    try:
        with tempfile.TemporaryDirectory(prefix="gobot-hostile-") as tmp:
            data_dir = Path(tmp)
            write_sources(data_dir)
            with running_server(data_dir, fake) as (process, base_url):
                port = int(base_url.rsplit(":", 1)[1])
                time.sleep(2)
                log_path = data_dir / "server.log"
                rss_before, log_before = rss_mb(process.pid), log_path.stat().st_size
                acks: list[float] = []
                stop = threading.Event()

                def keep_commanding() -> None:
                    verifier = SignatureVerifier(SIGNING_SECRET)
                    with httpx.Client(base_url=base_url, timeout=30) as client:
                        n = 0
                        while not stop.is_set():
                            body, _ = command_body(fake, "/go-session", f"UH{n:05d}", "CH")
                            acks.append(signed_post(client, verifier, body)[1] * 1000)
                            n += 1
                            time.sleep(0.02)

                commander = threading.Thread(target=keep_commanding)
                commander.start()
                results = [attack(port) for _ in range(ATTACKS)]
                stop.set()
                commander.join()
                time.sleep(1)
                rss_after, log_after = rss_mb(process.pid), log_path.stat().st_size
        growth, log_growth = rss_after - rss_before, log_after - log_before
        print(f"{ATTACKS} unsigned POSTs of {ATTACK_BYTES // 2**20} MB each")
        for seconds, answer in results:
            print(f"  refused in {seconds * 1000:.1f} ms: {answer}")
        print(f"server RSS {rss_before:.1f} MB -> {rss_after:.1f} MB (+{growth:.1f} MB)")
        print(f"server log +{log_growth} bytes")
        p50, p99 = percentile(acks, 0.5), percentile(acks, 0.99)
        print(f"{len(acks)} signed commands meanwhile: ack p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        print("targets")
        print(f"  RSS growth < {RSS_GROWTH_TARGET_MB:.0f} MB: {growth < RSS_GROWTH_TARGET_MB}")
        print(f"  log growth < {LOG_GROWTH_TARGET_BYTES} B: {log_growth < LOG_GROWTH_TARGET_BYTES}")
        print(f"  every attack 413: {all(' 413 ' in answer for _, answer in results)}")
        print(f"  ack p99 < {ACK_TARGET_MS:.0f} ms: {p99 < ACK_TARGET_MS}")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
