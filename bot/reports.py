"""A session's report as lines of text, in Slack's mrkdwn (`/go-report`, timeline lines in
the thread, how an approval stands; times as Slack dates) or in Markdown (`gobot report
--format md`; times in UTC to the second): one layout, two styles."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.slack.mrkdwn import date, plain, quoted, safe, who
from core.clock import format_utc
from core.durations import format_duration
from core.gate_models import Deployment
from core.models import START_APPROVAL, Approval, GoSession, Snapshot, TimelineEntry
from core.report import SessionReport

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def _md(text: str) -> str:
    """Markdown text that renders as written (nothing becomes markup or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


@dataclass(frozen=True)
class Style:
    bold: Callable[[str], str]
    person: Callable[[str | None], str]
    text: Callable[[str], str]
    quote: Callable[[str], str]  # the text of a Slack message added to the timeline
    link: Callable[[str], str]
    time: Callable[[datetime | None], str]


SLACK = Style(
    bold=lambda t: f"*{t}*",
    person=who,
    text=lambda t: safe(t, 2500),
    quote=lambda t: quoted(t, 2500),
    link=lambda url: f"<{safe(url, 500)}|link>",
    time=date,
)
MARKDOWN = Style(
    bold=lambda t: f"**{t}**",
    person=lambda user: _md(user or "someone"),
    text=_md,
    quote=lambda t: _md(plain(t)),
    link=lambda url: f"<{url}>" if not set(url) & set("<> ") else _md(url),
    time=lambda moment: (
        format_utc(moment, timespec="seconds") if moment is not None else "an unknown time"
    ),
)


def timeline_line(entry: TimelineEntry, style: Style) -> str:
    """One line for a timeline entry: a note, a message added from Slack, a handover."""
    if entry.kind == "handover":
        line = f"{style.person(entry.by)} handed the session to {style.person(entry.to)}"
        if entry.by == entry.to:
            line = f"{style.person(entry.by)} took over the session"
    elif entry.kind == "message":
        line = f"{style.person(entry.by)} added a message by {style.person(entry.author)}"
        if entry.permalink and entry.permalink.startswith("https://"):
            line += f" ({style.link(entry.permalink)})"
    else:
        line = style.person(entry.by)
    quote = style.quote if entry.kind == "message" else style.text
    return line + (f": {quote(entry.text)}" if entry.text else "")


def approval_words(approval: Approval, style: Style) -> str:
    """`waits for approval (asked by X)`, or who approved or rejected it (and why)."""
    asked = f"asked by {style.person(approval.asked_by)}"
    if approval.state == "pending":
        return f"waits for a second operator's approval ({asked})"
    answered = f"{approval.state} by {style.person(approval.decided_by)}"
    when = style.time(approval.decided_at_utc)
    why = f": {style.text(approval.reason)}" if approval.reason else ""
    return f"{answered} at {when} ({asked}){why}"


def deployment_line(deployment: Deployment, style: Style) -> str:
    """`production: acme/shop@abc1234 (main) approved at … (asked by octocat): why`."""
    ref = f" ({style.text(deployment.ref)})" if deployment.ref else ""
    asked = f"asked by {style.text(deployment.creator)}" if deployment.creator else "asked"
    if deployment.state == "pending":
        state = f"waiting ({asked} at {style.time(deployment.asked_at_utc)})"
    else:
        state = f"{deployment.state} at {style.time(deployment.decided_at_utc)} ({asked})"
    why = f": {style.text(deployment.reason)}" if deployment.reason else ""
    what = f"{style.text(deployment.environment)}: {style.text(deployment.describe())}"
    return f"{what}{ref} {state}{why}"


def _snapshot(snapshot: Snapshot | None, style: Style) -> str:
    if snapshot is None:
        return "none"
    reasons = "; ".join(snapshot.status.reasons)
    return f"band {style.text(snapshot.cone.band)}, health {style.text(snapshot.status.status)}" + (
        f" ({style.text(reasons)})" if reasons else ""
    )


def drift_text(
    band: str | None, status: str | None, to_band: str | None, to_status: str | None
) -> str:
    """`band B → C, health green → red`, or that nothing drifted (plain text)."""
    changes = [
        f"{what} {before} → {after}"
        for what, before, after in (("band", band, to_band), ("health", status, to_status))
        if before != after
    ]
    return ", ".join(changes) or "no drift (band and health unchanged)"


def session_drift(session: GoSession) -> str:
    """Start-vs-end drift of band and health (plain text)."""
    start, end = session.snapshot, session.end_snapshot
    if start is None or end is None:
        return "no end snapshot"
    return drift_text(start.cone.band, start.status.status, end.cone.band, end.status.status)


def report_lines(report: SessionReport, style: Style) -> list[str]:
    """The report, line by line: what happened, the playbook run, the timeline, the audit."""
    s, b = report.session, style.bold
    state = "active" if s.active else "ended"
    duration = format_duration(timedelta(seconds=s.duration_seconds or 0))
    lines = [
        f"{b('GO session')} {style.text(s.id or '?')} ({state})",
        f"{b('Started')} {style.time(s.started_at_utc)} by {style.person(s.started_by)}",
    ]
    if not s.active:
        ended = f"{style.time(s.ended_at_utc)} by {style.person(s.ended_by)}"
        outcome = style.text(s.outcome or "no outcome recorded")
        lines.append(f"{b('Ended')} {ended} after {duration}: {outcome}")
    if s.planned_end_utc:
        overran = f", overran by {format_duration(s.overrun)}" if s.overrun else ""
        lines.append(f"{b('Planned end')} {style.time(s.planned_end_utc)}{overran}")
    if s.link:
        lines.append(f"{b('Link')} {style.link(s.link)}")
    lines.append(f"{b('Owner')} {style.person(s.current_owner)}")
    lines.append(f"{b('At the start')} {_snapshot(s.snapshot, style)}")
    if not s.active:
        lines.append(f"{b('At the end')} {_snapshot(s.end_snapshot, style)}")
        lines.append(f"{b('Drift')} {style.text(session_drift(s))}")
    if s.notes:
        lines.append(f"{b('Notes')} {style.text(s.notes)}")
    if s.end_notes:
        lines.append(f"{b('End notes')} {style.text(s.end_notes)}")
    run = report.playbook
    lines.append(f"{b('Playbook')} {run.completed}/{run.total} steps")
    start = s.approvals.get(START_APPROVAL)
    if start is not None:
        lines.append(f"{b('Start')} {approval_words(start, style)}")
    for item in run.steps:
        if item.done:
            done = (
                f"done by {style.person(item.completed_by)} at {style.time(item.completed_at_utc)}"
            )
            if item.approved_by:
                done += f", approved by {style.person(item.approved_by)}"
        else:
            done = "not done" + (
                f", {approval_words(item.approval, style)}" if item.approval else ""
            )
        notes = f"; notes: {style.text(item.notes)}" if item.done and item.notes else ""
        lines.append(f"- {item.number}. {style.text(item.title)}: {done}{notes}")
    if report.deployments:
        lines.append(f"{b('Deployments')} {len(report.deployments)} from GitHub")
        lines += [f"- {deployment_line(d, style)}" for d in report.deployments]
    lines.append(f"{b('Timeline')} {len(s.timeline)} entries")
    lines += [f"- {style.time(e.at_utc)} {timeline_line(e, style)}" for e in s.timeline]
    audit = "verify" if report.audit_verified else "do NOT verify"
    problem = f" ({style.text(report.audit_problem)})" if report.audit_problem else ""
    lines.append(
        f"{b('Audit')} {len(report.audit_records)} records of this session; the trail's "
        f"records {audit}{problem}"
    )
    return lines
