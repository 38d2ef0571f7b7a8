"""Slack's budget, shared by every sender of one process: token buckets, one app-wide (the
workspace-wide rate of `chat.postMessage`) and one per channel (about a message a second, with
a short burst), consulted without ever waiting. A message that finds no token stays in the
outbox for a later pass: waiting for Slack's budget never holds a thread.

Only new messages spend the budget: one that turns out an edit in place (or a message found
to have landed already) gives its tokens back (`give_back`).

A channel's bucket that has refilled is forgotten (a new one starts full, so nothing changes):
only channels that sent within the last few seconds take memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock

SLACK_RATE = 240  # messages a minute, app-wide: within Slack's "several hundred" per workspace
CHANNEL_BURST = 5  # Slack allows "short bursts": a start, a note and an end go at once
CHANNEL_GAP = timedelta(seconds=1)  # Slack: about one message per second per channel
APP_BURST_SECONDS = 2.0  # the app-wide bucket holds this many seconds of its rate


@dataclass
class Bucket:
    """`tokens` as counted at `at`; refills at `rate` a second up to `size`."""

    size: float
    rate: float
    tokens: float
    at: datetime

    def refilled(self, now: datetime) -> float:
        elapsed = max(0.0, (now - self.at).total_seconds())
        return min(self.size, self.tokens + elapsed * self.rate)

    def take(self, now: datetime) -> bool:
        self.tokens, self.at = self.refilled(now), now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def give_back(self) -> None:
        self.tokens = min(self.size, self.tokens + 1)

    def wait(self, now: datetime) -> timedelta:
        """How long until it holds a token."""
        missing = 1 - self.refilled(now)
        return timedelta(seconds=max(0.0, missing / self.rate))


class SlackPace:
    """Whether a Slack message may go now: one token from the app-wide bucket and one from its
    channel's, or none taken at all."""

    def __init__(
        self,
        clock: Clock,
        per_minute: int = SLACK_RATE,
        *,
        channel_burst: int = CHANNEL_BURST,
        channel_every: timedelta = CHANNEL_GAP,
    ) -> None:
        rate = per_minute / 60
        self._clock = clock
        self._app = Bucket(max(1.0, rate * APP_BURST_SECONDS), rate, 0.0, clock.now())
        self._app.tokens = self._app.size
        self._burst = float(channel_burst)
        self._channel_rate = 1 / channel_every.total_seconds()
        self._channels: dict[str, Bucket] = {}
        self._forget_every = channel_every * channel_burst  # an idle bucket is full by then
        self._swept = clock.now()
        self._lock = threading.Lock()

    def take(self, channel: str) -> bool:
        """Take a message's tokens now; False (nothing taken): it waits for a later pass."""
        with self._lock:
            now = self._clock.now()
            self._forget_idle(now)
            bucket = self._channels.get(channel)
            if bucket is None:
                bucket = Bucket(self._burst, self._channel_rate, self._burst, now)
                self._channels[channel] = bucket
            if not bucket.take(now):
                return False
            if self._app.take(now):
                return True
            bucket.give_back()
            return False

    def give_back(self, channel: str) -> None:
        """A message that took its tokens posted nothing new (an edit in place): Slack's
        per-channel and workspace budgets are for new messages, so they are returned."""
        with self._lock:
            bucket = self._channels.get(channel)
            if bucket is not None:
                bucket.give_back()
            self._app.give_back()

    def wait(self) -> timedelta:
        """How long until the app-wide budget holds a message again."""
        with self._lock:
            return self._app.wait(self._clock.now())

    def channels(self) -> int:
        """How many channels' buckets are kept (those that sent within the last seconds)."""
        with self._lock:
            return len(self._channels)

    def _forget_idle(self, now: datetime) -> None:
        if now - self._swept < self._forget_every:
            return
        self._swept = now
        full = [key for key, b in self._channels.items() if b.refilled(now) >= b.size]
        for key in full:
            del self._channels[key]
