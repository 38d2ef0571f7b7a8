"""Everything a Slack-facing process runs, built one way for `serve`, `socket`, the benchmark
and the tests: settings → Slack client → services (with the Slack transport) → Bolt app →
ticker."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient

from bot.app import build_app
from bot.observability import Metrics
from bot.scheduler import Ticker
from bot.settings import Settings
from bot.slack import SlackTransport, make_client
from bot.wiring import Services, build_services
from core.clock import Clock


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    client: WebClient
    services: Services
    app: App
    ticker: Ticker
    metrics: Metrics


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, socket_mode: bool = False
) -> Runtime:
    """Raise SettingsError/GoError for bad settings, BoltError if Slack rejects the token."""
    required = (
        ("slack_bot_token", "slack_app_token")
        if socket_mode
        else ("slack_bot_token", "slack_signing_secret")
    )
    settings.require(*required)
    assert settings.slack_bot_token is not None
    metrics = Metrics()
    client = make_client(
        settings.slack_bot_token.get_secret_value(),
        settings.slack_api_url,
        metrics,
        settings.slack_timeout.total_seconds(),
    )
    posting = make_client(
        settings.slack_bot_token.get_secret_value(),
        settings.slack_api_url,
        metrics,
        settings.slack_timeout.total_seconds(),
        wait_on_rate_limit=False,
    )
    services = build_services(settings, clock=clock, transport=SlackTransport(posting))
    metrics.watch(services.outbox.depth, lambda: len(services.sessions.active()))
    app = build_app(settings, services, client, metrics, socket_mode=socket_mode)
    ticker = Ticker(services, settings.tick, metrics)
    return Runtime(settings, client, services, app, ticker, metrics)
