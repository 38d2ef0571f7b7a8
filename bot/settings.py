"""Configuration from the environment (and `.env`), validated once at start: a bad value is
one line naming the variable; a misspelt `GOBOT_` name or a setting that has no effect is a
warning naming the fix."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.durations import parse_duration
from core.pace import SLACK_RATE
from core.weekly import WeeklyAt


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


def _id_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _postgres_url(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().startswith(
        ("postgresql://", "postgres://")
    ):
        raise ValueError("must be a postgresql:// URL (e.g. postgresql://user@host:5432/gobot)")
    return value


def _slack_id(value: str) -> str:
    if not value or value[0] not in "UWS" or not value.isalnum() or not value.isupper():
        raise ValueError(f"{value!r} is not a Slack user (U…/W…) or user-group (S…) ID")
    return value


MAX_DURATION = timedelta(days=366)


def _channel_id(value: str | None) -> str | None:
    if value is not None and not (value[:1] in "CG" and value.isalnum() and value.isupper()):
        raise ValueError(f"{value!r} is not a Slack channel ID (C… or G…)")
    return value


def _weekly(value: object) -> object:
    return WeeklyAt.parse(value) if isinstance(value, str) else value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    if value > MAX_DURATION:
        raise ValueError("must be at most 366d")
    return value


def _token(prefix: str, other: str) -> Callable[[SecretStr | None], SecretStr | None]:
    def check(value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value().startswith(prefix):
            return value
        if value.get_secret_value().startswith(other):
            raise ValueError(f"holds an {other}… token; this one must start with {prefix}")
        raise ValueError(f"must start with {prefix}")

    return check


MIN_TICK = timedelta(milliseconds=100)
TOKEN_PREFIXES = ("xoxb-", "xoxp-", "xapp-", "xoxe")


def _tick(value: timedelta) -> timedelta:
    if value < MIN_TICK:
        raise ValueError("must be at least 100ms (the scheduler cannot look for work more often)")
    return value


def _webhook_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("is empty: set it to the webhook secret of the GitHub App's settings")
    return value


def _signing_secret(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    secret = value.get_secret_value()
    if not secret.strip():
        raise ValueError(
            "is empty: set it to the Signing Secret of the app's Basic Information page"
        )
    if secret != secret.strip() or any(c.isspace() for c in secret):
        raise ValueError("holds spaces or line breaks: copy the Signing Secret again")
    if secret.startswith(TOKEN_PREFIXES):
        raise ValueError(
            "holds a token, not the Signing Secret (the app's Basic Information page has it)"
        )
    return value


def _api_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{value!r} is not an http(s) URL: unset it for the default, or give a full URL "
            "such as https://api.example.com/"
        )
    return value.strip()


StepIds = Annotated[list[str], NoDecode, BeforeValidator(_id_list)]  # checked by bootstrap


class GithubEnvironment(BaseModel):
    """Where a GitHub environment's deployments are gated: the channel (its scope) and,
    optionally, the playbook step they wait for."""

    model_config = ConfigDict(frozen=True)
    channel: str
    step: str | None = None


def _environments(value: object) -> object:
    """`production=C0PROD:rollout,staging=C0STG` → environment → channel and optional step."""
    if not isinstance(value, str):
        return value
    found: dict[str, GithubEnvironment] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        name, equals, target = entry.partition("=")
        where, _, step = target.partition(":")
        name, where, step = name.strip(), where.strip(), step.strip()
        if not equals or not name or not where:
            raise ValueError(
                f"{entry!r} is not environment=CHANNEL[:step] (e.g. production=C0PROD:rollout)"
            )
        try:
            _channel_id(where)
        except ValueError as exc:
            raise ValueError(f"{entry!r}: {exc}") from None
        found[name] = GithubEnvironment(channel=where, step=step or None)
    return found


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
SlackIds = Annotated[
    list[Annotated[str, AfterValidator(_slack_id)]], NoDecode, BeforeValidator(_id_list)
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GOBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    log_format: Literal["text", "json"] = Field(
        default="text", description="log lines as text or JSON"
    )
    data_dir: Path = Field(default=Path("data"), description="JSON store, audit log, sources")
    store: Literal["json", "postgres"] = Field(
        default="json", description="json (embedded, in the data dir) or postgres"
    )
    database_url: Annotated[SecretStr | None, AfterValidator(_postgres_url)] = Field(
        default=None, description="PostgreSQL URL, required with GOBOT_STORE=postgres"
    )
    session_scope: Literal["workspace", "channel"] = Field(
        default="workspace", description="one active session in all, or one per channel"
    )
    cone_source: str | None = Field(
        default=None,
        description="file:PATH, http(s)://URL or python:module:function "
        "(default: file cone_state.json in the data dir)",
    )
    health_source: str | None = Field(
        default=None,
        description="like the cone source (default: file health_status.json in the data dir)",
    )
    source_timeout: PositiveDuration = Field(
        default=timedelta(seconds=2), description="bound on one whole snapshot"
    )
    remind_after: PositiveDuration = Field(
        default=timedelta(minutes=60), description="first reminder this long after the start"
    )
    remind_every: PositiveDuration = Field(
        default=timedelta(minutes=60), description="then a reminder this often"
    )
    remind_before_end: PositiveDuration = Field(
        default=timedelta(minutes=10),
        description="with a planned end, a reminder this long before it",
    )
    digest_channel: Annotated[str | None, AfterValidator(_channel_id)] = Field(
        default=None, description="the channel the weekly digest goes to (unset: no digest)"
    )
    digest_at: Annotated[WeeklyAt, NoDecode, BeforeValidator(_weekly)] = Field(
        default=WeeklyAt.parse("mon 09:00 UTC"),
        description="when the weekly digest goes out: weekday, time and time zone",
    )
    window_lead: PositiveDuration = Field(
        default=timedelta(minutes=30),
        description="a planned GO window is reminded in its channel this long before it",
    )
    escalate_after: PositiveDuration = Field(
        default=timedelta(hours=4), description="reminders are also broadcast to the channel"
    )
    watch_every: PositiveDuration = Field(
        default=timedelta(minutes=5), description="health and band re-read at most this often"
    )
    tick: Annotated[PositiveDuration, AfterValidator(_tick)] = Field(
        default=timedelta(seconds=15), description="how often the scheduler looks for due work"
    )
    slack_timeout: PositiveDuration = Field(
        default=timedelta(seconds=10), description="timeout of one Slack Web API call"
    )
    slack_rate: int = Field(
        default=SLACK_RATE,
        ge=1,
        le=6000,
        description="Slack messages a minute, app-wide (each channel: about one a second)",
    )
    channel: str | None = Field(
        default=None, description="channel for posts made outside Slack (REST, CLI)"
    )
    api_key: SecretStr | None = Field(
        default=None, description="enables the REST API (X-API-Key header); unset = REST disabled"
    )
    api_key_name: str = Field(default="rest-api", description="the actor recorded for REST calls")
    operators: SlackIds = Field(
        default_factory=list,
        description="Slack user (U…) or user-group (S…) IDs who may change state; empty = everyone",
    )
    admins: SlackIds = Field(
        default_factory=list, description="user or user-group IDs who may also reset the playbook"
    )
    approval_steps: StepIds = Field(
        default_factory=list,
        description="comma-separated playbook step ids that need a second operator's approval",
    )
    approve_start: bool = Field(
        default=False, description="a session's start needs a second operator's approval"
    )
    pin_emoji: Annotated[
        str,
        BeforeValidator(lambda v: v.strip().strip(":") if isinstance(v, str) else v),
        StringConstraints(pattern=r"^[a-z0-9_+'-]{1,100}$"),
    ] = Field(
        default="pushpin",
        description="reaction (without colons) that adds a message to the session's timeline",
    )
    github_app_id: str | None = Field(
        default=None, description="the GitHub App that gates deployments (its app id)"
    )
    github_private_key: SecretStr | None = Field(
        default=None, description="the GitHub App's private key: PEM text or a file path"
    )
    github_webhook_secret: Annotated[SecretStr | None, AfterValidator(_webhook_secret)] = Field(
        default=None, description="the GitHub App's webhook secret (X-Hub-Signature-256)"
    )
    github_environments: Annotated[
        dict[str, GithubEnvironment], NoDecode, BeforeValidator(_environments)
    ] = Field(
        default_factory=dict,
        description="GitHub environment → channel and optional step, e.g. "
        "production=C0PROD:rollout,staging=C0STG",
    )
    github_api_url: Annotated[str, AfterValidator(_api_url)] = Field(
        default="https://api.github.com",
        description="GitHub's API base URL (GitHub Enterprise: https://HOST/api/v3)",
    )

    slack_bot_token: Annotated[SecretStr | None, AfterValidator(_token("xoxb-", "xapp-"))] = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN"),
        description="bot token (xoxb-…), required for serve and socket",
    )
    slack_signing_secret: Annotated[SecretStr | None, AfterValidator(_signing_secret)] = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET"),
        description="request signing secret, required for serve",
    )
    slack_app_token: Annotated[SecretStr | None, AfterValidator(_token("xapp-", "xoxb-"))] = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN"),
        description="app-level token (xapp-…), required for socket",
    )
    slack_api_url: Annotated[str, AfterValidator(_api_url)] = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("SLACK_API_URL"),
        description="Slack Web API base URL (tests point it at a local stand-in)",
    )

    def secrets(self) -> list[str]:
        """Every secret value set, for log redaction."""
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.api_key,
            self.database_url,
            self.github_private_key,
            self.github_webhook_secret,
        )
        return [value.get_secret_value() for value in values if value is not None]

    def github(self) -> bool:
        """Whether gobot gates GitHub deployments: off with none of the GitHub App's settings,
        on with all of them; some of them only is a SettingsError naming the missing ones."""
        needed = {
            "GOBOT_GITHUB_APP_ID": self.github_app_id,
            "GOBOT_GITHUB_PRIVATE_KEY": self.github_private_key,
            "GOBOT_GITHUB_WEBHOOK_SECRET": self.github_webhook_secret,
            "GOBOT_GITHUB_ENVIRONMENTS": self.github_environments or None,
        }
        missing = [name for name, value in needed.items() if value is None]
        if len(missing) == len(needed):
            return False
        if missing:
            raise SettingsError(
                f"the GitHub App is set up in part: set {', '.join(missing)} too (or unset the "
                "GOBOT_GITHUB_ settings to turn it off)"
            )
        return True

    def require(self, *names: str) -> None:
        """Fail with one clear line if a setting a process needs is unset."""
        for name in names:
            if getattr(self, name) is None:
                raise SettingsError(f"{name.upper()} is required for this command")


class SettingsError(Exception):
    """A bad setting, said in one line that names the variable."""


def env_name(field: str) -> str:
    """The environment variable behind a settings field (or the alias an error names)."""
    found = Settings.model_fields.get(field)
    if found is None:
        return field
    alias = found.validation_alias
    return str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"GOBOT_{field.upper()}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = env_name(str(first["loc"][0]) if first["loc"] else "settings")
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid {variable}: {message}") from None


def _known_names() -> list[str]:
    return [env_name(field) for field in Settings.model_fields]


def setting_warnings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """What is set but does nothing, each with its fix: a `GOBOT_` name gobot does not know
    (with the nearest one it does), a database URL while the JSON store is in use."""
    environ = os.environ if environ is None else environ
    known = _known_names()
    warnings = []
    for name in sorted(environ):
        if name.startswith("GOBOT_") and name not in known:
            nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = f"; did you mean {nearest[0]}?" if nearest else " (README lists the settings)"
            warnings.append(f"{name} is not a gobot setting and is ignored{hint}")
    if settings.store == "json" and settings.database_url is not None:
        warnings.append(
            f"GOBOT_DATABASE_URL is set but GOBOT_STORE is json: gobot uses the JSON store in "
            f"{settings.data_dir}; set GOBOT_STORE=postgres to use the database"
        )
    return warnings
