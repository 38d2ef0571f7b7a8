"""Work done after an ack: in arrival order per channel, in parallel across channels.

A `/go-end` typed right after a `/go-start` must run after it, even though the start waits
for a snapshot; commands in other channels need not wait for either.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

log = logging.getLogger("gobot.work")
Job = Callable[[], None]


class OrderedWork:
    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._queues: dict[str, deque[Job]] = {}
        self._lock = threading.Condition()

    def submit(self, key: str, job: Job) -> None:
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(job)
                return
            self._queues[key] = deque([job])
        self._pool.submit(self._drain, key)

    def wait_idle(self, key: str, timeout: float) -> bool:
        """Wait until everything submitted under `key` has run; False if it takes longer."""
        with self._lock:
            return self._lock.wait_for(lambda: key not in self._queues, timeout)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    self._lock.notify_all()
                    return
                job = queue[0]
            try:
                job()
            except Exception:
                log.exception("work for %s failed", key)
            with self._lock:
                queue.popleft()
