"""The weekly digest's message: the past week's figures, then the coming week's windows and
change freezes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import context, header, section, to_dicts
from bot.slack.mrkdwn import date, safe
from bot.slack.window_views import MAX_LISTED_WINDOWS, listed
from core.durations import format_duration
from core.outbox import DigestPayload


def digest_message(digest: DigestPayload) -> list[dict[str, Any]]:
    """The weekly digest: the past week's figures, then the coming week's windows and
    freezes."""
    total = format_duration(timedelta(seconds=digest.total_seconds))
    longest = format_duration(timedelta(seconds=digest.longest_seconds))
    outcomes = ", ".join(f"{count} {safe(name, 40)}" for name, count in digest.outcomes.items())
    share = round(100 * digest.steps_done / digest.steps_total) if digest.steps_total else 0
    lines = [
        f"*Sessions:* {digest.count}" + (f" ({outcomes})" if outcomes else ""),
        f"*Time in sessions:* {total}; the longest {longest}",
        f"*Playbook:* {share}% of steps done; {digest.all_steps_done} sessions did every step",
        f"*Drift seen:* {digest.drifted} sessions ended with another band or health",
        f"*Overruns:* {digest.overruns} sessions ran past their planned end",
    ]
    freezes = sum(w.kind == "freeze" for w in digest.windows)
    planned = f"{len(digest.windows) - freezes} GO windows"
    planned += f", {freezes} change freezes" if freezes else ""
    blocks: list[Block] = [
        header(f"GO weekly digest · {digest.week}"),
        context(f"{date(digest.since_utc)} to {date(digest.until_utc)}"),
        section("\n".join(lines)),
        section(f"*Planned for the coming week:* {planned}"),
    ]
    blocks += [section(f"• {listed(w)}") for w in digest.windows[:MAX_LISTED_WINDOWS]]
    return to_dicts(blocks)
