"""Metrics: Prometheus text format at GET /metrics, and the Web API client that counts every
Slack call (logs: `bot.logs`)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse


class Metrics:
    """One registry per runtime, so several runtimes (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "gobot_commands",
            "Interactions (slash commands, buttons, forms, the shortcut, workflow steps) by "
            "command and outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "gobot_slack_ack_seconds",
            "Time to answer a Slack request (the ack)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.slack_calls = Counter(
            "gobot_slack_api_calls",
            "Slack Web API calls by result",
            ["method", "result"],
            registry=self.registry,
        )
        self.reminders = Counter(
            "gobot_reminders_sent", "Reminder slots claimed and owed", registry=self.registry
        )
        self.jobs = Counter(
            "gobot_jobs",
            "Scheduled job runs (each tick runs every job once) by job and outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "gobot_outbox_depth", "Messages owed to Slack, not delivered", registry=self.registry
        )
        self.active_sessions = Gauge(
            "gobot_active_sessions", "Active GO sessions", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredWebClient(WebClient):
    """A WebClient that counts every call by method and result (`ok` or Slack's error)."""

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._metrics.slack_calls.labels(api_method, str(exc.response.get("error"))).inc()
            raise
        except Exception as exc:
            self._metrics.slack_calls.labels(api_method, type(exc).__name__).inc()
            raise
        self._metrics.slack_calls.labels(api_method, "ok").inc()
        return response
