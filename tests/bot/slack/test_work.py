from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.slack.work import OrderedWork


def test_jobs_of_one_key_run_in_order_and_keys_run_in_parallel() -> None:
    done: list[tuple[str, int]] = []
    lock = threading.Lock()
    pool = ThreadPoolExecutor(4)
    work = OrderedWork(pool)

    b_done = threading.Event()

    def job(key: str, n: int) -> None:
        if (key, n) == ("A", 0):
            b_done.wait(10)  # A's first job is slow: until B's is done, if B need not wait
        with lock:
            done.append((key, n))
        if key == "B":
            b_done.set()

    for n in range(5):
        work.submit("A", lambda n=n: job("A", n))
    work.submit("B", lambda: job("B", 0))
    pool.shutdown(wait=True)
    assert [n for key, n in done if key == "A"] == [0, 1, 2, 3, 4]
    assert done.index(("B", 0)) < done.index(("A", 0))  # B did not wait behind A's slow job


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
