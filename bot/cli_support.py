"""What every `gobot` command shares: failing in one line (`fail`), the settings, services
for a command that only reads, the Slack runtime (each Slack or network problem one line), and
how the CLI writes times (UTC to the second) and JSON."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn
from urllib.error import URLError

import click

from core.clock import format_utc
from core.errors import GoError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from bot.settings import Settings
    from core.services import Services


def fail(message: object, code: int = 2) -> NoReturn:
    click.echo(f"gobot: {message}", err=True)
    sys.exit(code)


def cli_settings() -> Settings:
    from bot.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(exc)


def reading_services(settings: Settings) -> Services:
    """Services for a command that only reads: a data dir that is not there is said so, not
    created, and nothing in it is created or changed."""
    from bot.bootstrap import build_services, not_a_directory
    from bot.settings import SettingsError

    if settings.store == "json" and not settings.data_dir.is_dir():
        problem = not_a_directory(settings.data_dir)
        if problem is not None:
            fail(f"GOBOT_DATA_DIR {settings.data_dir} cannot be used: {problem}", 1)
        fail(f"no gobot data at {settings.data_dir} (is GOBOT_DATA_DIR right?)", 1)
    try:
        return build_services(settings, read_only=True)
    except (SettingsError, GoError) as exc:
        fail(exc)


@contextmanager
def quiet_slack_sdk() -> Iterator[None]:
    """slack_sdk logs every failed try and retry of the start's `auth.test`; what failed is
    then said once, by gobot."""
    sdk = logging.getLogger("slack_sdk")
    level = sdk.level
    sdk.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        sdk.setLevel(level)


def slack_runtime(*, socket_mode: bool = False) -> Runtime:
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.bootstrap import build_runtime
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(exc)
    try:
        with quiet_slack_sdk():
            return build_runtime(settings, socket_mode=socket_mode)
    except (SettingsError, GoError) as exc:
        fail(exc)
    except BoltError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, URLError | OSError | SlackClientError) and not isinstance(
            cause, SlackApiError
        ):
            fail(_unreachable(settings, cause))
        if "non-JSON" in str(exc) or "unknown_method" in str(exc):
            fail(
                f"{settings.slack_api_url} does not answer as Slack's Web API does: check "
                "SLACK_API_URL (unset, it is https://slack.com/api/)"
            )
        fail(f"Slack did not accept SLACK_BOT_TOKEN ({exc})")
    except (URLError, OSError, SlackClientError) as exc:
        fail(_unreachable(settings, exc))


def _unreachable(settings: Settings, exc: BaseException) -> str:
    return (
        f"cannot reach Slack at {settings.slack_api_url} ({reason_of(exc)}): check the network "
        "and SLACK_API_URL (unset, it is https://slack.com/api/)"
    )


def reason_of(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, URLError) else exc
    return str(reason) or type(reason).__name__


def cli_time(moment: datetime | None) -> str:
    """A time as the CLI shows it: UTC, to the second."""
    return format_utc(moment, timespec="seconds") if moment is not None else ""


def _json_time(value: object) -> str:
    if isinstance(value, datetime):
        return cli_time(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(payload: object) -> str:
    """JSON as the CLI prints it (a model dumped in Python mode): times as `cli_time` shows them."""
    return json.dumps(payload, indent=2, ensure_ascii=False, default=_json_time)
