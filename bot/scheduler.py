"""The tick: APScheduler 3 runs one job every GOBOT_TICK that claims due reminders, the planned
windows' messages and the weekly digest, delivers the outbox, then runs the due health checks
against one shared snapshot. The scheduler keeps
no state of its own: every due time lives on the stored sessions, so a restart (or a second
process) picks up where the store says."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.observability import Metrics
from core.services import Services

log = logging.getLogger("gobot.scheduler")
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick
PASS_GAP_SECONDS = 0.25


class Ticker:
    def __init__(self, services: Services, every: timedelta, metrics: Metrics) -> None:
        self._services = services
        self._metrics = metrics
        self._every = every
        self._scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._lock = threading.Lock()
        self.last_tick_monotonic: float | None = None

    def tick(self) -> None:
        """Claim due reminders, deliver for at most about one tick's time, then look at health
        (a slow source waits behind the deliveries, never in front of them)."""
        with self._lock:
            try:
                self._metrics.reminders.inc(self._services.reminders.claim_reminders().reminders)
            except Exception:
                log.exception("reminder tick failed")
            for name, due in (
                ("window", self._services.windows.tick),
                ("digest", self._services.digest.tick),
            ):
                try:
                    due()
                except Exception:
                    log.exception("%s tick failed", name)
            self._deliver()
            try:
                if self._services.reminders.watch_health().drifts:
                    self._deliver()
            except Exception:
                log.exception("health watch failed")
            self.last_tick_monotonic = time.monotonic()

    def _deliver(self) -> None:
        """Delivery passes for at most about one tick's time."""
        delivery = self._services.delivery
        if delivery is None:
            return
        deadline = time.monotonic() + 0.8 * self._every.total_seconds()
        while time.monotonic() < deadline:
            try:
                result = delivery.deliver_ready()
            except Exception:
                log.exception("delivery pass failed; the next tick tries again")
                return
            done = result.attempted == 0 and result.deferred == 0
            if done or time.monotonic() + PASS_GAP_SECONDS >= deadline:
                return
            time.sleep(PASS_GAP_SECONDS)

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
