"""The `gobot` commands that change the data or ask the gate: recover (a damaged journal set
aside), migrate (JSON to PostgreSQL) and gate (may a change go ahead?)."""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

import click

from core.errors import GoError

if TYPE_CHECKING:
    pass

from bot.cli_support import cli_settings, fail


@click.command()
def recover() -> None:
    """Set a damaged go_journal.wal aside (a copy is kept beside it) and go on from the data
    files as they are; says so, and does nothing, when the journal is whole."""
    from core.clock import SystemClock
    from core.stores.json.datadir import data_dir

    settings = cli_settings()
    if settings.store != "json":
        click.echo("nothing to recover: the PostgreSQL store keeps no journal")
        return
    if not settings.data_dir.is_dir():
        fail(f"no gobot data at {settings.data_dir} (is GOBOT_DATA_DIR right?)", 1)
    directory = data_dir(settings.data_dir)
    damage = directory.damage()
    if damage is None:
        click.echo("the journal is whole: nothing to recover")
        return
    copy = directory.set_aside(SystemClock().now().strftime("%Y%m%dT%H%M%SZ"))
    click.echo(
        f"{damage}; set aside as {copy.name} and started afresh from the data "
        "files as they are. Check the audit trail with `gobot audit verify`."
    )


@click.command()
@click.option("--channel", default=None, help="The channel whose session gates (channel scope).")
@click.option("--step", default=None, help="The playbook step about to run (number or id).")
@click.option("--environment", default=None, help="Where the change goes (e.g. production).")
@click.option("--ref", default=None, help="What is deployed (a branch, tag or sha).")
@click.option("--requester", default=None, help="Who or what asks (shown in Slack).")
@click.option("--wait", "wait", default="0s", help="Ask again until allowed, this long (30m).")
@click.option("--url", default=None, help="Ask a running gobot (GOBOT_API_KEY) at this URL.")
def gate(wait: str, url: str | None, **options: str | None) -> None:
    """May a change go ahead now? Exit 0 allowed, 1 denied or pending (with --wait: still
    not allowed when it runs out), 2 a usage or connection error. Without --url, the local
    data dir's gate."""
    import os

    from pydantic import ValidationError

    from bot.gate_client import GateUsageError, Waiting, local, remote
    from core.durations import parse_duration
    from core.gate_models import GateRequest

    try:
        how_long = parse_duration(wait)
    except ValueError as exc:
        fail(f"--wait: {exc}")
    asked = {key: value for key, value in options.items() if value is not None}
    asked.setdefault("requester", os.environ.get("USER") or "cli")
    try:
        request = GateRequest.model_validate(asked)
    except ValidationError as exc:
        error = exc.errors()[0]
        fail(f"--{error['loc'][0]}: {str(error['msg']).removeprefix('Value error, ')}")
    try:
        if url is not None:
            ask = remote(url, os.environ.get("GOBOT_API_KEY"))
        else:
            from bot.bootstrap import build_services
            from bot.settings import SettingsError

            try:
                services = build_services(cli_settings())
            except (SettingsError, GoError) as exc:
                fail(exc)
            ask = local(lambda r: services.gate.decide(r, source="cli", actor=r.requester or "cli"))
    except GateUsageError as exc:
        fail(exc)
    complain = functools.partial(click.echo, err=True)
    sys.exit(Waiting(ask, click.echo, complain, how_long).run(request))


@click.command()
@click.option(
    "--to",
    "target",
    type=click.Choice(["postgres"]),
    required=True,
    help="The store to copy the JSON data dir into.",
)
def migrate(target: str) -> None:
    """Copy the JSON data dir (sessions, history, playbook, audit chain, outbox, planned
    windows) into an empty PostgreSQL database (GOBOT_DATABASE_URL)."""
    from bot.bootstrap import unit_of_work
    from bot.settings import SettingsError, load_settings
    from core.stores.migrate import copy_store

    try:
        settings = load_settings()
        if settings.database_url is None:
            raise SettingsError("GOBOT_DATABASE_URL is required for migrate --to postgres")
        copied = copy_store(unit_of_work(settings, "json"), unit_of_work(settings, "postgres"))
    except (SettingsError, GoError) as exc:
        fail(exc, 1)
    click.echo(
        f"copied {copied.sessions} sessions, {copied.steps} playbook steps, "
        f"{copied.audit_records} audit records, {copied.outbox_items} pending messages, "
        f"{copied.windows} planned windows and {copied.deployments} GitHub deployments "
        f"from {settings.data_dir} to {target}; set GOBOT_STORE=postgres to use it"
    )
