"""The `gobot` command line: serve, socket, local, status, history, report, windows, audit verify,
gate, migrate, manifest and preview, each failing in one line that names the problem.

The reading commands (status, history, report, windows, audit verify) open the store to read
only: they create and change nothing in the data dir. Every time the CLI shows is UTC to the
second (`2026-12-10T14:00:00Z`), in JSON too.

Each command imports what it needs when it runs (settings, stores, Slack, the web server), so
`gobot --help` and the reading commands on the JSON store start without Bolt, FastAPI, uvicorn
or psycopg."""

from __future__ import annotations

import csv
import functools
import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, NoReturn, TextIO
from urllib.error import URLError

import click

from core.clock import format_utc
from core.durations import format_duration
from core.errors import GoError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from bot.settings import Settings
    from core.models import GoSession
    from core.services import Services

log = logging.getLogger("gobot.cli")


def _fail(message: object, code: int = 2) -> NoReturn:
    click.echo(f"gobot: {message}", err=True)
    sys.exit(code)


def _settings() -> Settings:
    from bot.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        _fail(exc)


def _reading_services(settings: Settings) -> Services:
    """Services for a command that only reads: a data dir that is not there is said so, not
    created, and nothing in it is created or changed."""
    from bot.bootstrap import build_services, not_a_directory
    from bot.settings import SettingsError

    if settings.store == "json" and not settings.data_dir.is_dir():
        problem = not_a_directory(settings.data_dir)
        if problem is not None:
            _fail(f"GOBOT_DATA_DIR {settings.data_dir} cannot be used: {problem}", 1)
        _fail(f"no gobot data at {settings.data_dir} (is GOBOT_DATA_DIR right?)", 1)
    try:
        return build_services(settings, read_only=True)
    except (SettingsError, GoError) as exc:
        _fail(exc)


@contextmanager
def _quiet_slack_sdk() -> Iterator[None]:
    """slack_sdk logs every failed try and retry of the start's `auth.test`; what failed is
    then said once, by gobot."""
    sdk = logging.getLogger("slack_sdk")
    level = sdk.level
    sdk.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        sdk.setLevel(level)


def _runtime(*, socket_mode: bool = False) -> Runtime:
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.bootstrap import build_runtime
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(exc)
    try:
        with _quiet_slack_sdk():
            return build_runtime(settings, socket_mode=socket_mode)
    except (SettingsError, GoError) as exc:
        _fail(exc)
    except BoltError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, URLError | OSError | SlackClientError) and not isinstance(
            cause, SlackApiError
        ):
            _fail(_unreachable(settings, cause))
        if "non-JSON" in str(exc) or "unknown_method" in str(exc):
            _fail(
                f"{settings.slack_api_url} does not answer as Slack's Web API does: check "
                "SLACK_API_URL (unset, it is https://slack.com/api/)"
            )
        _fail(f"Slack did not accept SLACK_BOT_TOKEN ({exc})")
    except (URLError, OSError, SlackClientError) as exc:
        _fail(_unreachable(settings, exc))


def _unreachable(settings: Settings, exc: BaseException) -> str:
    return (
        f"cannot reach Slack at {settings.slack_api_url} ({_reason(exc)}): check the network "
        "and SLACK_API_URL (unset, it is https://slack.com/api/)"
    )


def _reason(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, URLError) else exc
    return str(reason) or type(reason).__name__


def _time(moment: datetime | None) -> str:
    """A time as the CLI shows it: UTC, to the second."""
    return format_utc(moment, timespec="seconds") if moment is not None else ""


def _json_time(value: object) -> str:
    if isinstance(value, datetime):
        return _time(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(payload: object) -> str:
    """JSON as the CLI prints it (a model dumped in Python mode): times as `_time` shows them."""
    return json.dumps(payload, indent=2, ensure_ascii=False, default=_json_time)


def _describe(session: GoSession) -> str:
    if session.started_at_utc is None:
        return "No GO session yet."
    state = "ACTIVE" if session.active else "ended"
    lines = [
        f"GO session {session.id or ''} ({state})",
        f"  started  {_time(session.started_at_utc)} by {session.started_by} in {session.channel}",
        f"  band {session.cone_band}, health {session.status}",
    ]
    if session.snapshot and session.snapshot.status.reasons:
        lines.append(f"  reasons  {'; '.join(session.snapshot.status.reasons)}")
    if session.notes:
        lines.append(f"  notes    {session.notes}")
    if not session.active:
        lines.append(f"  ended    {_time(session.ended_at_utc)} by {session.ended_by}")
        if session.end_notes:
            lines.append(f"  end notes {session.end_notes}")
    return "\n".join(lines)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Settings come from the environment (or .env): SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, "
    "SLACK_APP_TOKEN, GOBOT_DATA_DIR, GOBOT_STORE, GOBOT_DATABASE_URL, GOBOT_SESSION_SCOPE, "
    "GOBOT_CHANNEL, GOBOT_API_KEY and more; README's Configuration table lists them all.",
)
@click.version_option(package_name="gobot", prog_name="gobot")
def main() -> None:
    """gobot: GO sessions from Slack, with snapshots, a playbook, reminders and an audit trail."""
    from bot.logs import configure_logging
    from bot.settings import SettingsError, load_settings, setting_warnings

    try:
        settings = load_settings()
    except SettingsError:  # the command itself reports it
        configure_logging("text")
        return
    configure_logging(settings.log_format, settings.secrets())
    for warning in setting_warnings(settings):
        click.echo(f"gobot: warning: {warning}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
def status(as_json: bool) -> None:
    """Print the current session (every active one in channel scope)."""
    services = _reading_services(_settings())
    try:
        sessions = services.sessions.active() or [services.sessions.latest()]
    except GoError as exc:
        _fail(exc, 1)
    if as_json:
        payload = [session.model_dump() for session in sessions]
        click.echo(_json(payload[0] if len(payload) == 1 else payload))
        return
    click.echo("\n\n".join(_describe(session) for session in sessions))


def _say_what_runs(runtime: Runtime, how: str) -> None:
    settings = runtime.settings
    where = settings.data_dir if settings.store == "json" else "PostgreSQL"
    log.info(
        "gobot %s: store %s (%s), scope %s, channel for REST %s, REST %s, Slack at %s",
        how,
        settings.store,
        where,
        settings.session_scope,
        settings.channel or "none",
        "on" if settings.api_key else "off",
        settings.slack_api_url,
    )
    if settings.api_key is not None and settings.channel is None:
        log.warning(
            "GOBOT_API_KEY is set but GOBOT_CHANNEL is not: sessions started over REST are "
            "posted nowhere; set GOBOT_CHANNEL to the channel they belong to"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve Slack (POST /slack/events), the REST API under /core/go/ (with GOBOT_API_KEY),
    GET /healthz and GET /metrics over HTTP."""
    from bot.web.server import run_http

    runtime = _runtime()
    _say_what_runs(runtime, f"serving http://{host}:{port}")
    runtime.ticker.start()
    try:
        run_http(runtime, host, port)
    finally:
        runtime.ticker.shutdown()


@main.command()
def socket() -> None:
    """Connect to Slack over Socket Mode (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError, SlackClientError

    runtime = _runtime(socket_mode=True)
    assert runtime.settings.slack_app_token is not None
    _say_what_runs(runtime, "on Socket Mode")
    runtime.ticker.start()
    try:
        handler = SocketModeHandler(
            runtime.app, runtime.settings.slack_app_token.get_secret_value()
        )
        handler.start()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        _fail(f"Slack refused Socket Mode ({exc.response.get('error')}): check SLACK_APP_TOKEN")
    except (SlackClientError, OSError) as exc:
        _fail(f"cannot open Socket Mode with Slack ({_reason(exc)})")
    finally:
        runtime.ticker.shutdown()


@main.group()
def audit() -> None:
    """Audit trail commands."""


@audit.command()
def verify() -> None:
    """Check the audit hash chain; exit non-zero naming the first bad line. A data dir with
    nothing recorded yet is intact (0 records)."""
    from bot.dev.local import LOCAL_DIR
    from core.stores.json.audit import AUDIT_FILE

    settings = _settings()
    services = _reading_services(settings)
    try:
        result = services.audit.verify()
    except GoError as exc:  # a damaged journal: the chain cannot be read
        _fail(exc, 2)
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)
    if result.ok:
        click.echo(f"audit chain intact: {result.records} records")
        local = settings.data_dir / LOCAL_DIR
        if settings.store == "json" and not result.records and (local / AUDIT_FILE).exists():
            click.echo(f"note: `gobot local` keeps its own audit trail, in {local}", err=True)
        return
    click.echo(
        f"audit chain BROKEN after {result.records} good records: {result.problem}", err=True
    )
    sys.exit(1)


@main.command()
def recover() -> None:
    """Set a damaged go_journal.wal aside (a copy is kept beside it) and go on from the data
    files as they are; says so, and does nothing, when the journal is whole."""
    from core.clock import SystemClock
    from core.stores.json.datadir import data_dir

    settings = _settings()
    if settings.store != "json":
        click.echo("nothing to recover: the PostgreSQL store keeps no journal")
        return
    if not settings.data_dir.is_dir():
        _fail(f"no gobot data at {settings.data_dir} (is GOBOT_DATA_DIR right?)", 1)
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


@main.command()
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
    from core.models import GateRequest

    try:
        how_long = parse_duration(wait)
    except ValueError as exc:
        _fail(f"--wait: {exc}")
    asked = {key: value for key, value in options.items() if value is not None}
    asked.setdefault("requester", os.environ.get("USER") or "cli")
    try:
        request = GateRequest.model_validate(asked)
    except ValidationError as exc:
        error = exc.errors()[0]
        _fail(f"--{error['loc'][0]}: {error['msg']}")
    try:
        if url is not None:
            ask = remote(url, os.environ.get("GOBOT_API_KEY"))
        else:
            from bot.bootstrap import build_services
            from bot.settings import SettingsError

            try:
                services = build_services(_settings())
            except (SettingsError, GoError) as exc:
                _fail(exc)
            ask = local(lambda r: services.gate.decide(r, source="cli", actor=r.requester or "cli"))
    except GateUsageError as exc:
        _fail(exc)
    complain = functools.partial(click.echo, err=True)
    sys.exit(Waiting(ask, click.echo, complain, how_long).run(request))


@main.command()
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
        _fail(exc, 1)
    click.echo(
        f"copied {copied.sessions} sessions, {copied.steps} playbook steps, "
        f"{copied.audit_records} audit records, {copied.outbox_items} pending messages, "
        f"{copied.windows} planned windows and {copied.deployments} GitHub deployments "
        f"from {settings.data_dir} to {target}; set GOBOT_STORE=postgres to use it"
    )


@main.command()
@click.option(
    "--script",
    type=click.File("r"),
    default=None,
    help="Read commands from this file, one per line, instead of the terminal.",
)
def local(script: TextIO | None) -> None:
    """The whole bot in this terminal, with no Slack: type /go commands, press buttons by
    number, `wait 5s` to let reminders come, `health red "why"` to change the next snapshot,
    `exit` (or Ctrl-D) to quit. Its state is its own (`local/` in the data dir). With --script
    or piped input it exits 1 if a command failed."""
    from bot.bootstrap import usable_data_dir
    from bot.dev.local import LocalBot, local_settings
    from bot.settings import SettingsError, load_settings

    logging.getLogger().setLevel(logging.ERROR)  # the conversation is the output
    interactive = script is None and sys.stdin.isatty()
    try:
        settings = load_settings()
        usable_data_dir(settings.data_dir, writing=True)  # the demo's own dir is made in it
        bot = LocalBot(local_settings(settings), sys.stdout, interactive=interactive)
    except (SettingsError, GoError, OSError) as exc:
        _fail(exc)
    source = script or sys.stdin

    def read_line() -> str | None:
        if interactive:
            try:
                return input("> ")
            except EOFError:
                return None
        line = source.readline()
        return line or None

    with bot:
        try:
            bot.run(read_line)
        except KeyboardInterrupt:
            click.echo()
    if not interactive and bot.failures:
        _fail(f"{bot.failures} command(s) failed", 1)


HISTORY_COLUMNS = (
    "id",
    "started_at_utc",
    "ended_at_utc",
    "duration",
    "started_by",
    "ended_by",
    "start_band",
    "start_status",
    "end_band",
    "end_status",
    "notes",
    "end_notes",
    "outcome",
    "link",
)


def _history_row(session: GoSession) -> dict[str, str]:
    end = session.end_snapshot
    return {
        "id": session.id or "",
        "started_at_utc": _time(session.started_at_utc),
        "ended_at_utc": _time(session.ended_at_utc),
        "duration": format_duration(timedelta(seconds=session.duration_seconds or 0)),
        "started_by": session.started_by or "",
        "ended_by": session.ended_by or "",
        "start_band": session.cone_band or "",
        "start_status": session.status or "",
        "end_band": end.cone.band if end else "",
        "end_status": end.status.status if end else "",
        "notes": session.notes or "",
        "end_notes": session.end_notes or "",
        "outcome": session.outcome or "",
        "link": session.link or "",
    }


def _ended_in(services: Services, channel: str) -> Iterator[GoSession]:
    """The ended sessions of `channel`, newest first, read a page at a time (in workspace scope
    every channel's sessions are in one history)."""
    from core.report import MAX_PAGE, MAX_SEARCHED

    offset, more = 0, True
    while more and offset <= MAX_SEARCHED:
        page, more = services.reports.page(offset, MAX_PAGE)
        offset += len(page)
        yield from (session for session in page if session.channel == channel)


def _session_in(services: Services, channel: str) -> str:
    """The id of `channel`'s active session, or else of its last ended one."""
    from core.errors import NoActiveSession

    current = services.sessions.get(channel)
    if current.channel == channel and current.id:
        return current.id
    found = next(_ended_in(services, channel), None)
    if found is None or not found.id:
        raise NoActiveSession(f"No GO session in channel {channel}: there is nothing to report.")
    return found.id


@main.command()
@click.option(
    "--last",
    "last",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100),
    help="How many ended sessions, newest first.",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json", "csv", "md"]),
)
@click.option("--channel", default=None, help="Only the sessions of this channel.")
def history(last: int, fmt: str, channel: str | None) -> None:
    """Ended sessions: id (for `gobot report`), start, end, duration, who, band and status at
    start and end, notes, outcome and link."""
    services = _reading_services(_settings())
    try:
        ended = (
            services.sessions.history(last)
            if channel is None
            else list(islice(_ended_in(services, channel), last))
        )
        rows = [_history_row(s) for s in ended]
    except GoError as exc:
        _fail(exc, 1)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "md":
        click.echo("| " + " | ".join(HISTORY_COLUMNS) + " |")
        click.echo("|" + "---|" * len(HISTORY_COLUMNS))
        for row in rows:
            cells = (row[c].replace("|", "\\|").replace("\n", " ") for c in HISTORY_COLUMNS)
            click.echo("| " + " | ".join(cells) + " |")
    else:
        if not rows:
            click.echo(
                f"No ended GO session in channel {channel}."
                if channel
                else "No ended GO sessions yet."
            )
        for row in rows:
            first_line = row["notes"].splitlines()[0] if row["notes"] else ""
            click.echo(
                f"{row['id']}  {row['started_at_utc']}  {row['duration']:>8}  "
                f"{row['started_by']} -> {row['ended_by']}  "
                f"{row['start_band']}/{row['start_status']} -> "
                f"{row['end_band']}/{row['end_status']}  {row['outcome'] or '-'}  {first_line}"
            )


@main.command()
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json", "ics"]),
)
def windows(fmt: str) -> None:
    """The planned GO windows and change freezes that have not ended (ics: also the last 30
    days', to import into a calendar)."""
    from bot.calendar import CALENDAR_PAST, windows_ics
    from core.windows import MAX_AHEAD

    services = _reading_services(_settings())
    try:
        now = services.clock.now()
        if fmt == "ics":
            shown = services.windows.between(now - CALENDAR_PAST, now + MAX_AHEAD + CALENDAR_PAST)
            sys.stdout.buffer.write(windows_ics(shown, now))
            return
        upcoming = services.windows.upcoming()
    except GoError as exc:
        _fail(exc, 1)
    if fmt == "json":
        click.echo(_json([w.model_dump() for w in upcoming]))
        return
    if not upcoming:
        click.echo("No GO windows planned.")
        return
    table: list[tuple[str, ...]] = [
        ("id", "kind", "starts (UTC)", "length", "channel", "by", "notes")
    ]
    for w in upcoming:
        length = format_duration(timedelta(seconds=w.duration_seconds))
        notes = w.notes.splitlines()[0] if w.notes else ""
        table.append(
            (w.id, w.kind, _time(w.starts_at_utc), length, w.channel, w.scheduled_by, notes)
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@main.command()
@click.argument("session_id", required=False)
@click.option("--format", "fmt", default="md", show_default=True, type=click.Choice(["md", "json"]))
@click.option("--channel", default=None, help="Without SESSION_ID: this channel's session.")
def report(session_id: str | None, fmt: str, channel: str | None) -> None:
    """A session's report (SESSION_ID from `gobot history`, or the active or last session, of
    --channel if named): snapshots, owner changes, timeline, playbook run, and whether its
    audit records verify."""
    from bot.reports import MARKDOWN, report_lines

    services = _reading_services(_settings())
    try:
        if session_id is None and channel is not None:
            session_id = _session_in(services, channel)
        found = services.reports.report(channel, session_id)
    except GoError as exc:
        _fail(exc, 1)
    if fmt == "json":
        click.echo(_json(found.model_dump()))
    else:
        click.echo("# GO session report\n")
        click.echo("\n".join(report_lines(found, MARKDOWN)))


@main.command()
@click.option("--url", default=None, help="Public base URL of `gobot serve` (https://HOST).")
@click.option("--socket", is_flag=True, help="Socket Mode instead of request URLs.")
@click.option(
    "--format", "fmt", default="json", show_default=True, type=click.Choice(["json", "yaml"])
)
def manifest(url: str | None, socket: bool, fmt: str) -> None:
    """Print the Slack app manifest to paste at api.slack.com/apps (Create New App)."""
    import yaml

    from bot.settings import SettingsError, load_settings
    from bot.slack.manifest import build_manifest

    try:
        built = build_manifest(load_settings(), url, socket)
    except (SettingsError, ValueError) as exc:
        _fail(exc)
    if fmt == "yaml":
        click.echo(yaml.safe_dump(built, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(json.dumps(built, indent=2, ensure_ascii=False))


class _PreviewKinds(click.Choice[str]):
    """`preview`'s kinds, read when first asked for: where they come from imports every view,
    which the other commands (and `--help`) start without."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from bot.dev.preview import KINDS

        return KINDS


class _PreviewCommand(click.Command):
    """`preview`, whose help lists the kinds whole (click's wrapping breaks words at hyphens)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from bot.dev.preview import KINDS

        width = max(formatter.width - formatter.current_indent - 2, 40)
        kinds = textwrap.wrap(", ".join(KINDS), width, break_on_hyphens=False)
        formatter.write_paragraph()
        formatter.write_text("KIND is one of:")
        with formatter.indentation():
            formatter.write_text("\n".join(["\b", *kinds]))


@main.command(cls=_PreviewCommand)
@click.argument("kind", type=_PreviewKinds(), metavar="KIND")
def preview(kind: str) -> None:
    """Print the Block Kit JSON of a message, form or App Home (KIND) for sample data, and a
    Block Kit Builder link."""
    from bot.dev.preview import builder_link, preview_payload

    payload = preview_payload(kind)
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    click.echo(f"\nSee it rendered: {builder_link(payload)}")
