from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.slack.work import OrderedWork


def test_jobs_of_one_key_run_in_order_and_keys_run_in_parallel() -> None:
    done: list[tuple[str, int]] = []
    lock = threading.Lock()
    pool = ThreadPoolExecutor(4)
    work = OrderedWork(pool)

    def job(key: str, n: int, pause: float) -> None:
        time.sleep(pause)
        with lock:
            done.append((key, n))

    started = time.monotonic()
    for n in range(5):
        work.submit("A", lambda n=n: job("A", n, 0.1 if n == 0 else 0.0))
    work.submit("B", lambda: job("B", 0, 0.0))
    pool.shutdown(wait=True)
    assert [n for key, n in done if key == "A"] == [0, 1, 2, 3, 4]
    assert done.index(("B", 0)) < done.index(("A", 0))  # B did not wait behind A's slow job
    assert time.monotonic() - started < 1.0


def test_a_failing_job_does_not_stop_its_queue() -> None:
    done: list[int] = []
    pool = ThreadPoolExecutor(2)
    work = OrderedWork(pool)

    def fail() -> None:
        raise RuntimeError("boom")

    work.submit("A", fail)
    work.submit("A", lambda: done.append(1))
    pool.shutdown(wait=True)
    assert done == [1]
