"""What happened: `/go-report` (the active or last session's report) and `/go-history` (the
last ended sessions), with their messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from bot.reports import SLACK, report_lines
from bot.slack.blocks import MAX_MESSAGE_BLOCKS, Blocks, context, header, section, to_dicts
from bot.slack.capability import Arguments, Command, Invocation, Text
from bot.slack.mrkdwn import date, safe, who
from core.durations import format_duration
from core.errors import InvalidInput
from core.models import GoSession
from core.report import SessionReport
from core.services import Services

MAX_SLACK_HISTORY = 20


def report_message(report: SessionReport) -> list[dict[str, Any]]:
    """`/go-report`: the report's lines in as many sections as they need (a message holds at
    most 50; what does not fit is said, and `gobot report` has it all)."""
    sections: list[str] = []
    for line in report_lines(report, SLACK):
        if sections and len(sections[-1]) + len(line) < 2900:
            sections[-1] += "\n" + line
        else:
            sections.append(line)
    blocks: list[Block] = [header("GO session report")]
    room = MAX_MESSAGE_BLOCKS - 2
    blocks += [section(text) for text in sections[:room]]
    if len(sections) > room:
        blocks.append(context("… the rest did not fit one message: `gobot report` has it all."))
    return to_dicts(blocks)


def history_blocks(sessions: list[GoSession]) -> list[Block]:
    if not sessions:
        return [section("No ended GO sessions yet.")]
    lines = []
    for s in sessions:
        duration = format_duration(timedelta(seconds=s.duration_seconds or 0))
        end = s.end_snapshot
        end_state = f"{end.cone.band}/{end.status.status}" if end else "?"
        line = (
            f"• {date(s.started_at_utc)} · {duration} · {who(s.started_by)} → {who(s.ended_by)} · "
            f"{safe(s.cone_band or '?', 20)}/{safe(s.status or '?', 20)} → {safe(end_state, 40)}"
        )
        if s.outcome:
            line += f" · *{s.outcome}*"
        if s.link:
            line += f" · <{safe(s.link, 500)}|link>"
        if s.notes:
            line += f"\n    _{safe(s.notes, 200)}_"
        lines.append(line)
    title = "Last GO session" if len(sessions) == 1 else f"Last {len(sessions)} GO sessions"
    return [section(f"*{title}*"), section("\n".join(lines))]


def history_message(sessions: list[GoSession]) -> list[dict[str, Any]]:
    return to_dicts(history_blocks(sessions))


def _report(services: Services, call: Invocation, given: Text) -> Blocks:
    return report_message(services.reports.report(call.channel))


class HowMany(Arguments):
    """`/go-history [n]`: how many ended sessions (5 unless given)."""

    n: int

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        raw = text.strip() or "5"
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_SLACK_HISTORY:
            raise InvalidInput(f"Usage: `/go-history [n]` with n from 1 to {MAX_SLACK_HISTORY}.")
        return {"n": int(raw)}


def _history(services: Services, call: Invocation, given: HowMany) -> Blocks:
    return history_message(services.sessions.history(given.n, call.channel))


COMMANDS: tuple[Command, ...] = (
    Command(
        "report",
        "report",
        "the report of the active session, or of the last one",
        _report,
        slash="own",
    ),
    Command(
        "history",
        f"history [n ≤ {MAX_SLACK_HISTORY}]",
        "show the last ended GO sessions",
        _history,
        input=HowMany,
        slash="own",
    ),
)
