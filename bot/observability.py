"""Metrics (Prometheus text format at GET /metrics) and logs (text or JSON lines, secrets
redacted)."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from core.clock import format_utc

TOKEN = re.compile(r"\b(xox[a-z]-|xapp-)[A-Za-z0-9-]+")


class Metrics:
    """One registry per runtime, so several runtimes (tests) never collide."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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

    def watch(self, outbox_depth: Callable[[], float], active: Callable[[], float]) -> None:
        """Gauges read at scrape time; NaN while the store cannot be read (the rest of the
        metrics still answer)."""
        self.outbox_depth.set_function(_or_nan(outbox_depth))
        self.active_sessions.set_function(_or_nan(active))

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def _or_nan(read: Callable[[], float]) -> Callable[[], float]:
    def guarded() -> float:
        try:
            return read()
        except Exception:
            return math.nan

    return guarded


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


class RedactSecrets(logging.Filter):
    """Masks Slack tokens anywhere, and the configured secrets, in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return TOKEN.sub(r"\1[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("user", "command", "outcome", "latency_ms", "channel")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": format_utc(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


class TextFormatter(logging.Formatter):
    """One line per record: control, bidi and zero-width characters in the message (a newline,
    an escape sequence, a right-to-left override that something a request carried put there)
    are written as `\\xNN`, so no text can forge, break or reorder a log line. A traceback,
    gobot's own, still follows on its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)s %(name)s %(message)s")
        self.converter = time.gmtime

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", record.message)
        return super().formatMessage(record)


def configure_logging(fmt: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
