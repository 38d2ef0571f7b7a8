"""bot/reports.py: the report's parts that stand alone: a timeline entry as one line and the
drift as words, in both styles (Slack mrkdwn and Markdown), outside text never becoming
markup. The whole report is driven three ways in test_report.py."""

from __future__ import annotations

from typing import Any

import pytest

from bot.reports import MARKDOWN, SLACK, drift_text, session_drift, timeline_line
from core.models import ConeState, GoSession, HealthStatus, Snapshot, TimelineEntry
from tests.conftest import T0

LINK = "https://team.slack.com/archives/C1/p1700000000000100"


def entry(**fields: Any) -> TimelineEntry:
    return TimelineEntry(at_utc=T0, **{"kind": "note", "by": "U1", **fields})


@pytest.mark.parametrize(
    ("fields", "slack", "markdown"),
    [
        ({"text": "canary fine"}, "<@U1>: canary fine", "U1: canary fine"),
        ({}, "<@U1>", "U1"),
        (
            {"text": "<!channel> *now* & [x](y)"},
            "<@U1>: &lt;!channel&gt; *now* &amp; [x](y)",
            r"U1: \<\!channel\> \*now\* & \[x\]\(y\)",
        ),
        (
            {"kind": "message", "author": "U7", "permalink": LINK, "text": "at 50%"},
            f"<@U1> added a message by <@U7> (<{LINK}|link>): at 50%",
            f"U1 added a message by U7 (<{LINK}>): at 50%",
        ),
        (
            {"kind": "message", "author": None, "permalink": "javascript:alert(1)", "text": "x"},
            "<@U1> added a message by someone: x",
            "U1 added a message by someone: x",
        ),
        (
            {"kind": "handover", "to": "U2", "text": "going home"},
            "<@U1> handed the session to <@U2>: going home",
            "U1 handed the session to U2: going home",
        ),
        (
            {"kind": "handover", "to": "U1"},
            "<@U1> took over the session",
            "U1 took over the session",
        ),
        (
            {"by": "rest-api", "text": "from a script"},
            "rest-api: from a script",
            r"rest\-api: from a script",
        ),
    ],
)
def test_a_timeline_entry_is_one_line_in_each_style(
    fields: dict[str, Any], slack: str, markdown: str
) -> None:
    assert timeline_line(entry(**fields), SLACK) == slack
    assert timeline_line(entry(**fields), MARKDOWN) == markdown


def test_a_markdown_link_with_markup_in_it_is_written_as_text() -> None:
    line = timeline_line(
        entry(kind="message", author="U7", permalink="https://x.example/<b>", text="t"), MARKDOWN
    )
    assert line == r"U1 added a message by U7 (https://x\.example/\<b\>): t"


def test_drift_names_what_changed() -> None:
    assert drift_text("A", "green", "C", "red") == "band A → C, health green → red"
    assert drift_text("A", "green", "A", "yellow") == "health green → yellow"
    assert drift_text("B", "green", "B", "green") == "no drift (band and health unchanged)"


def test_a_sessions_drift_is_start_against_end() -> None:
    def snap(band: Any, status: Any) -> Snapshot:
        return Snapshot(cone=ConeState(band=band), status=HealthStatus(status=status))

    ended = GoSession(snapshot=snap("A", "green"), end_snapshot=snap("B", "green"))
    assert session_drift(ended) == "band A → B"
    assert session_drift(GoSession(snapshot=snap("A", "green"))) == "no end snapshot"
