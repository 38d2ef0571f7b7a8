"""The reading commands of `gobot`: status, history, report, windows and audit verify. They
open the store to read only: they create and change nothing in the data dir (they only finish a
change a crashed `gobot serve` committed, as any process must before reading)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING

import click

from core.durations import format_duration
from core.errors import GoError

if TYPE_CHECKING:
    from core.models import GoSession
    from core.services import Services

from bot.cli_support import cli_settings, cli_time, fail, reading_services, to_json


def _describe(session: GoSession) -> str:
    if session.started_at_utc is None:
        return "No GO session yet."
    state = "ACTIVE" if session.active else "ended"
    lines = [
        f"GO session {session.id or ''} ({state})",
        f"  started  {cli_time(session.started_at_utc)} by {session.started_by} "
        f"in {session.channel}",
        f"  band {session.cone_band}, health {session.status}",
    ]
    if session.snapshot and session.snapshot.status.reasons:
        lines.append(f"  reasons  {'; '.join(session.snapshot.status.reasons)}")
    if session.notes:
        lines.append(f"  notes    {session.notes}")
    if not session.active:
        lines.append(f"  ended    {cli_time(session.ended_at_utc)} by {session.ended_by}")
        if session.end_notes:
            lines.append(f"  end notes {session.end_notes}")
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
def status(as_json: bool) -> None:
    """Print the current session (every active one in channel scope)."""
    services = reading_services(cli_settings())
    try:
        sessions = services.sessions.active() or [services.sessions.latest()]
    except GoError as exc:
        fail(exc, 1)
    if as_json:
        payload = [session.model_dump() for session in sessions]
        click.echo(to_json(payload[0] if len(payload) == 1 else payload))
        return
    click.echo("\n\n".join(_describe(session) for session in sessions))


@click.group()
def audit() -> None:
    """Audit trail commands."""


@audit.command()
def verify() -> None:
    """Check the audit hash chain; exit non-zero naming the first bad line. A data dir with
    nothing recorded yet is intact (0 records)."""
    from bot.dev.local import LOCAL_DIR
    from core.stores.json.audit import AUDIT_FILE

    settings = cli_settings()
    services = reading_services(settings)
    try:
        result = services.audit.verify()
    except GoError as exc:  # a damaged journal: the chain cannot be read
        fail(exc, 2)
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
        "started_at_utc": cli_time(session.started_at_utc),
        "ended_at_utc": cli_time(session.ended_at_utc),
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


@click.command()
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
    services = reading_services(cli_settings())
    try:
        ended = (
            services.sessions.history(last)
            if channel is None
            else list(islice(_ended_in(services, channel), last))
        )
        rows = [_history_row(s) for s in ended]
    except GoError as exc:
        fail(exc, 1)
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


@click.command()
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

    services = reading_services(cli_settings())
    try:
        now = services.clock.now()
        if fmt == "ics":
            shown = services.windows.between(now - CALENDAR_PAST, now + MAX_AHEAD + CALENDAR_PAST)
            sys.stdout.buffer.write(windows_ics(shown, now))
            return
        upcoming = services.windows.upcoming()
    except GoError as exc:
        fail(exc, 1)
    if fmt == "json":
        click.echo(to_json([w.model_dump() for w in upcoming]))
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
            (w.id, w.kind, cli_time(w.starts_at_utc), length, w.channel, w.scheduled_by, notes)
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@click.command()
@click.argument("session_id", required=False)
@click.option("--format", "fmt", default="md", show_default=True, type=click.Choice(["md", "json"]))
@click.option("--channel", default=None, help="Without SESSION_ID: this channel's session.")
def report(session_id: str | None, fmt: str, channel: str | None) -> None:
    """A session's report (SESSION_ID from `gobot history`, or the active or last session, of
    --channel if named): snapshots, owner changes, timeline, playbook run, and whether its
    audit records verify."""
    from bot.reports import MARKDOWN, report_lines

    services = reading_services(cli_settings())
    try:
        if session_id is None and channel is not None:
            session_id = _session_in(services, channel)
        found = services.reports.report(channel, session_id)
    except GoError as exc:
        fail(exc, 1)
    if fmt == "json":
        click.echo(to_json(found.model_dump()))
    else:
        click.echo("# GO session report\n")
        click.echo("\n".join(report_lines(found, MARKDOWN)))
