"""The Ticker on the test clock: its jobs in order, one error boundary and one metric each, and
the delivery passes paced on the clock it is given."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from bot.observability import Metrics
from bot.scheduler import PASS_GAP, Deliver, Ticker
from core.delivery import DeliveryPass
from core.errors import StoreUnavailable
from tests.bot.conftest import SlackHarness
from tests.conftest import T0, FakeClock


@dataclass
class Recorder:
    name: str
    seen: list[tuple[str, datetime]]
    fails: bool = False

    def run(self, now: datetime) -> None:
        self.seen.append((self.name, now))
        if self.fails:
            raise RuntimeError(f"{self.name} broke")


def runs(metrics: Metrics, job: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value("gobot_jobs_total", {"job": job, "outcome": outcome})
    return value or 0.0


def test_every_job_runs_in_order_at_the_clocks_time(clock: FakeClock) -> None:
    seen: list[tuple[str, datetime]] = []
    metrics = Metrics()
    ticker = Ticker(
        [Recorder("a", seen), Recorder("b", seen)], clock, timedelta(seconds=1), metrics
    )
    ticker.tick()
    clock.advance(timedelta(minutes=1))
    ticker.tick()
    later = T0 + timedelta(minutes=1)
    assert seen == [("a", T0), ("b", T0), ("a", later), ("b", later)]
    assert runs(metrics, "a", "ok") == 2 and runs(metrics, "b", "ok") == 2
    assert ticker.last_tick_age() is not None


def test_a_failing_job_logs_one_line_and_the_others_still_run(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, datetime]] = []
    metrics = Metrics()
    jobs = [Recorder("first", seen), Recorder("broken", seen, fails=True), Recorder("last", seen)]
    ticker = Ticker(jobs, clock, timedelta(seconds=1), metrics)
    with caplog.at_level(logging.ERROR, logger="gobot.scheduler"):
        ticker.tick()
        ticker.tick()
    assert [name for name, _ in seen] == ["first", "broken", "last"] * 2
    lines = [r for r in caplog.records if r.name == "gobot.scheduler"]
    assert [r.getMessage() for r in lines] == [
        "broken job failed: RuntimeError: broken broke; the next tick tries again"
    ]  # the same cause again within five minutes is counted, not logged
    assert runs(metrics, "broken", "error") == 2 and runs(metrics, "broken", "ok") == 0
    assert runs(metrics, "first", "ok") == 2 and runs(metrics, "last", "ok") == 2
    assert b'gobot_jobs_total{job="broken",outcome="error"} 2.0' in metrics.render()


@dataclass
class Flaky:
    """A job failing as `causes` says, tick by tick (None: it works)."""

    causes: list[Exception | None]
    name: str = "store"

    def run(self, now: datetime) -> None:
        cause = self.causes.pop(0)
        if cause is not None:
            raise cause


def test_a_job_failing_the_same_way_logs_one_line_per_cause_every_five_minutes(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    full = StoreUnavailable("the data disk is full")
    away = StoreUnavailable("the database is unavailable")
    job = Flaky([full] * 12 + [away, None])
    ticker = Ticker([job], clock, timedelta(seconds=15), Metrics())
    with caplog.at_level(logging.INFO, logger="gobot.scheduler"):
        for _ in range(14):
            ticker.tick()
            clock.advance(timedelta(seconds=30))
    lines = [r for r in caplog.records if r.name == "gobot.scheduler"]
    assert [r.getMessage() for r in lines] == [
        "store job failed: the data disk is full; the next tick tries again",
        "store job failed: the data disk is full (9 more times since); the next tick tries again",
        "store job failed: the database is unavailable; the next tick tries again",
        "store job works again (it failed: the database is unavailable)",
    ]
    assert all(r.exc_info is None for r in lines)  # a fault gobot knows: no traceback


@dataclass
class Passes:
    """A delivery service whose passes leave `deferred` messages held back each time."""

    clock: FakeClock
    deferred: list[int]
    at: list[datetime] = field(default_factory=list)
    budget_in: timedelta = timedelta(0)  # until Slack's app-wide budget holds a message

    def wait(self) -> timedelta:
        return self.budget_in

    def deliver_ready(self) -> DeliveryPass:
        self.at.append(self.clock.now())
        left = self.deferred.pop(0) if self.deferred else 0
        return DeliveryPass(attempted=1 if left else 0, deferred=left)


def test_delivery_passes_pause_on_the_clock_until_about_one_ticks_budget(
    clock: FakeClock,
) -> None:
    held_back = Passes(clock, deferred=[3] * 100)
    budget = timedelta(seconds=0.8)
    Deliver(held_back, clock, budget, clock.advance).run(clock.now())
    assert held_back.at == [T0 + n * PASS_GAP for n in range(4)]
    assert clock.now() == T0 + 3 * PASS_GAP  # paused between passes, never past the budget


def test_no_pass_comes_before_slacks_budget_holds_a_message_again(clock: FakeClock) -> None:
    starved = Passes(clock, deferred=[5] * 100, budget_in=timedelta(seconds=2))
    Deliver(starved, clock, timedelta(seconds=8), clock.advance).run(clock.now())
    assert starved.at == [T0 + timedelta(seconds=n) for n in (0, 2, 4, 6)]  # never past 8 s


def test_delivery_stops_as_soon_as_nothing_is_left(clock: FakeClock) -> None:
    draining = Passes(clock, deferred=[2, 1])
    Deliver(draining, clock, timedelta(seconds=8), clock.advance).run(clock.now())
    assert draining.at == [T0, T0 + PASS_GAP, T0 + 2 * PASS_GAP]


def test_the_runtime_registers_its_jobs_in_order(slack: SlackHarness) -> None:
    assert slack.runtime is not None
    names = [job.name for job in slack.runtime.ticker.jobs]
    assert names == ["gauges", "reminders", "windows", "digest", "claims", "delivery", "health"]
