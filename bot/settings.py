"""Configuration from the environment (and `.env`), validated once at start."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.durations import parse_duration


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GOBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("data"), description="JSON store, audit log, sources")
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
    source_timeout: Duration = Field(
        default=timedelta(seconds=2), description="bound on one whole snapshot"
    )


class SettingsError(Exception):
    """A bad setting, said in one line that names the variable."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        variable = f"GOBOT_{field.upper()}"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid {variable}: {message}") from None
