"""The tick: a list of jobs (`name`, `run(now)`), built at the composition root, run in order on
the injected clock. Each job has one error boundary (a failing job logs one line per cause, at
most every REPEAT_LOG_EVERY, and the others still run) and one metric (`gobot_jobs_total` by job
and outcome).

The jobs `bootstrap` registers read the store's gauges for /metrics, claim due reminders, the
planned windows' messages and the weekly digest, forget the claims that no longer matter
(core/claims.py), deliver the outbox for at most about one tick's
time (pausing between passes through the injected pause), then run the due health checks
against one shared snapshot (delivering again if one drifted). In `serve`, `socket` and
`gobot local`, APScheduler 3 runs a tick every GOBOT_TICK in real time; tests call
`Ticker.tick` on a fake clock. The scheduler keeps no state of its own: every due time lives on
the stored sessions, so a restart (or a second process) picks up where the store says."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from bot.observability import Metrics
from core.clock import Clock
from core.delivery import DeliveryService
from core.errors import GoError
from core.reminders import ReminderService

log = logging.getLogger("gobot.scheduler")
REPEAT_LOG_EVERY = timedelta(minutes=5)  # a job failing the same way is logged this often
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick
PASS_GAP = timedelta(seconds=0.25)
DELIVERY_SHARE = 0.8  # of a tick, the most the delivery passes take

Pause = Callable[[timedelta], None]
"""Waits a while on the clock the jobs run on (real time: `sleep`)."""


def sleep(delta: timedelta) -> None:
    time.sleep(delta.total_seconds())


class Job(Protocol):
    name: str

    def run(self, now: datetime) -> None: ...


class ServiceTick:
    """A service's own tick (it reads the same clock) as a job."""

    def __init__(self, name: str, tick: Callable[[], object]) -> None:
        self.name = name
        self._tick = tick

    def run(self, now: datetime) -> None:
        self._tick()


class ClaimReminders:
    name = "reminders"

    def __init__(self, reminders: ReminderService, metrics: Metrics) -> None:
        self._reminders = reminders
        self._metrics = metrics

    def run(self, now: datetime) -> None:
        self._metrics.reminders.inc(self._reminders.claim_reminders().reminders)


class Deliver:
    """Delivery passes until nothing is left or about `budget` has gone by on the clock: a
    message held back by Slack's budget goes in a later pass, at least `PASS_GAP` apart and
    not before the app-wide budget holds a message again."""

    name = "delivery"

    def __init__(
        self, delivery: DeliveryService, clock: Clock, budget: timedelta, pause: Pause
    ) -> None:
        self._delivery = delivery
        self._clock = clock
        self._budget = budget
        self._pause = pause

    def run(self, now: datetime) -> None:
        deadline = now + self._budget
        while True:
            result = self._delivery.deliver_ready()
            if result.attempted == 0 and result.deferred == 0:
                return
            gap = max(PASS_GAP, self._delivery.wait())  # no pass before Slack's budget allows
            if self._clock.now() + gap >= deadline:
                return
            self._pause(gap)


class WatchHealth:
    """The due health checks; a drift's message is delivered in the same tick."""

    name = "health"

    def __init__(self, reminders: ReminderService, deliver: Deliver) -> None:
        self._reminders = reminders
        self._deliver = deliver

    def run(self, now: datetime) -> None:
        if self._reminders.watch_health().drifts:
            self._deliver.run(now)


class Gauges:
    """The store's gauges (outbox depth, active sessions), read once a tick, so that a scrape
    of /metrics reads nothing from the store and takes none of its locks; NaN while the store
    cannot be read."""

    name = "gauges"

    def __init__(
        self,
        metrics: Metrics,
        outbox_depth: Callable[[], float],
        active_sessions: Callable[[], float],
    ) -> None:
        self._metrics = metrics
        self._reads = (
            (metrics.outbox_depth, outbox_depth),
            (metrics.active_sessions, active_sessions),
        )

    def run(self, now: datetime) -> None:
        for gauge, read in self._reads:
            try:
                gauge.set(read())
            except Exception:
                gauge.set(math.nan)
                raise


@dataclass
class _Failing:
    """A job's current cause of failure, when it was last logged, and how often since."""

    cause: str
    logged: datetime
    since: int = 0


class Ticker:
    def __init__(
        self, jobs: Sequence[Job], clock: Clock, every: timedelta, metrics: Metrics
    ) -> None:
        self.jobs = tuple(jobs)
        self._clock = clock
        self._metrics = metrics
        self._every = every
        self._scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._lock = threading.Lock()
        self._failing: dict[str, _Failing] = {}
        self.last_tick_monotonic: float | None = None

    def tick(self) -> None:
        """Run every job once, in order, each at the clock's time when its turn comes; a job
        that fails counts as an error, and the next one runs."""
        with self._lock:
            for job in self.jobs:
                try:
                    job.run(self._clock.now())
                except Exception as exc:
                    self._metrics.jobs.labels(job.name, "error").inc()
                    self._failed(job.name, exc)
                else:
                    self._metrics.jobs.labels(job.name, "ok").inc()
                    self._recovered(job.name)
            self.last_tick_monotonic = time.monotonic()

    def _failed(self, job: str, error: Exception) -> None:
        """One log line per cause: the first time, then at most once every
        `REPEAT_LOG_EVERY` (with how often it failed since); a fault gobot knows (a full disk,
        the database away) in its own words, anything else with its traceback the first time."""
        now = self._clock.now()
        cause = error.message if isinstance(error, GoError) else f"{type(error).__name__}: {error}"
        seen = self._failing.get(job)
        if seen is not None and seen.cause == cause and now - seen.logged < REPEAT_LOG_EVERY:
            seen.since += 1
            return
        again = f" ({seen.since} more times since)" if seen and seen.cause == cause else ""
        new = seen is None or seen.cause != cause
        log.error(
            "%s job failed: %s%s; the next tick tries again",
            job,
            cause,
            again,
            exc_info=error if new and not isinstance(error, GoError) else None,
        )
        self._failing[job] = _Failing(cause, now)

    def _recovered(self, job: str) -> None:
        failing = self._failing.pop(job, None)
        if failing is not None:
            log.info("%s job works again (it failed: %s)", job, failing.cause)

    def start(self) -> None:
        self._scheduler.add_job(
            self.tick, "interval", seconds=self._every.total_seconds(), id="gobot-tick"
        )
        self._scheduler.start()
        threading.Thread(target=self.tick, name="gobot-first-tick", daemon=True).start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def last_tick_age(self) -> float | None:
        """Seconds since the last tick finished, None before the first."""
        last = self.last_tick_monotonic
        return None if last is None else time.monotonic() - last

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=False)
