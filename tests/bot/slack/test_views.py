"""Block Kit validity and escaping of every message, with worst-case content."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.digest import digest_message
from bot.slack.history import history_message
from bot.slack.home import home_view
from bot.slack.mrkdwn import date, escape, fit
from bot.slack.playbook import checklist_message, next_step_message, playbook_message
from bot.slack.session_views import session_status, snapshot_message, summary_message
from bot.slack.window_views import window_message, windows_message
from core.clock import parse_utc
from core.digest import summarize
from core.models import (
    Checklist,
    ChecklistItem,
    ConeState,
    GoSession,
    GoWindow,
    HealthStatus,
    NextStep,
    PlaybookStep,
    Snapshot,
    StepCompletion,
)
from core.outbox import WindowPayload
from core.playbook import MAX_STEPS
from tests.bot.conftest import SlackHarness, block_text
from tests.conftest import T0, FakeClock

ENTITY = re.compile(r"&(amp|lt|gt);")
WORST_STEPS = tuple(
    PlaybookStep(id=f"s{n}", title=("<!here> & " * 20)[:150]) for n in range(MAX_STEPS)
)  # the longest playbook, step titles full of markup
HUGE = "<!channel> & " * 400
WORST_WINDOW = GoWindow(
    id="w1",
    scope="workspace",
    channel="C1",
    starts_at_utc=T0,
    duration_seconds=86400,
    notes=HUGE[:2000],
    scheduled_by="U1",
)


def worst_snapshot() -> Snapshot:
    return Snapshot(
        cone=ConeState(band="D", reason=HUGE, metrics={f"m{n}<>": HUGE for n in range(40)}),
        status=HealthStatus(status="red", reasons=[HUGE] * 60),
    )


def worst_session(active: bool) -> GoSession:
    return GoSession(
        active=active,
        id="s1",
        started_at_utc="2026-01-01T09:00:00.000000Z",
        ended_at_utc=None if active else "2026-01-01T10:00:00.000000Z",
        cone_band="D",
        status="red",
        notes=HUGE[:2000],
        snapshot=worst_snapshot(),
        end_snapshot=None if active else worst_snapshot(),
        started_by="api:<ops>",
        ended_by=None if active else "U1",
        end_notes=None if active else HUGE[:2000],
        duration_seconds=None if active else 3600.0,
        playbook={
            step.id: StepCompletion(
                completed_at_utc=parse_utc("2026-01-01T09:30:00Z"),
                completed_by="api:<ops>",
                notes=HUGE[:2000],
            )
            for step in WORST_STEPS[::2]
        },
    )


def checklist() -> Checklist:
    items = [
        ChecklistItem(
            number=n,
            id=f"s{n}",
            title=HUGE[:150],
            description=HUGE[:1000],
            done=n % 2 == 0,
            completed_by="U1",
        )
        for n in range(1, 40)
    ]
    return Checklist(steps=items, completed=19, total=39)


def check_limits(blocks: list[dict[str, Any]], max_blocks: int = 50) -> None:
    assert len(blocks) <= max_blocks
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


SLACK_DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9T:.-]+Z>")


def check_escaped(text: str, allowed_mentions: tuple[str, ...] = ()) -> None:
    """No markup but the allowed mentions and gobot's own dates."""
    text = SLACK_DATE.sub("", text)
    for mention in allowed_mentions:
        text = text.replace(mention, "")
    assert "<" not in text and ">" not in text, text[:200]
    assert "&" not in ENTITY.sub("", text), text[:200]


def test_every_message_respects_block_kit_limits_with_worst_case_content() -> None:
    messages: list[Callable[[], list[dict[str, Any]]]] = [
        lambda: snapshot_message(worst_session(True), WORST_STEPS),
        lambda: snapshot_message(worst_session(False), WORST_STEPS),
        lambda: summary_message(worst_session(False), WORST_STEPS),
        lambda: session_status(worst_session(True)),
        lambda: session_status(worst_session(False)),
        lambda: checklist_message(checklist()),
        lambda: next_step_message(
            NextStep(step=checklist().steps[0], done=False, completed=0, total=39)
        ),
        lambda: history_message([worst_session(False)] * 20),
        lambda: playbook_message(worst_session(True), WORST_STEPS),
        lambda: playbook_message(worst_session(False), WORST_STEPS),
        lambda: windows_message([WORST_WINDOW] * 40, T0),
        lambda: window_message(WindowPayload(window=WORST_WINDOW, what="reminder")),
        lambda: window_message(WindowPayload(window=WORST_WINDOW, what="prompt")),
        lambda: window_message(WindowPayload(window=WORST_WINDOW, what="missed")),
        lambda: digest_message(
            summarize(
                "2026-W01",
                since=T0,
                until=T0,
                sessions=[worst_session(False)] * 50,
                steps=WORST_STEPS,
                windows=[WORST_WINDOW] * 40,
            )
        ),
    ]
    for build in messages:
        blocks = build()
        check_limits(blocks)
        text = json.dumps(blocks, ensure_ascii=False).replace("\\n", " ")
        check_escaped(text, ("<@U1>", "<#C1>"))
    for active in ([], [worst_session(True)] * 10):
        home = home_view(
            active,
            worst_session(False),
            WORST_STEPS,
            [worst_session(False)] * 5,
            escape(HUGE),
            now=WORST_WINDOW.starts_at_utc,
            windows=[WORST_WINDOW] * 40,
        )
        check_limits(home["blocks"], max_blocks=100)
        text = json.dumps(home, ensure_ascii=False).replace("\\n", " ")
        check_escaped(text, ("<@U1>", "<#C1>"))


def test_truncation_marker_and_entities() -> None:
    assert fit("abc", 3) == "abc"
    cut = fit(escape("&" * 100), 50)
    assert cut.endswith("… (truncated)") and len(cut) <= 50
    assert ENTITY.sub("", cut.removesuffix("… (truncated)")) == ""
    marked = "x" * 30 + "<@U123456> " + date(parse_utc("2026-01-01T09:00:00Z"))
    for limit in range(14, len(marked)):  # never cut inside a mention or a date
        check_escaped(fit(marked, limit), ("<@U123456>",))


@given(st.text(max_size=300))
def test_escape_leaves_no_markup(text: str) -> None:
    check_escaped(escape(text))


counter = itertools.count(1)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(notes=st.text(min_size=1, max_size=400).filter(str.strip))  # blank: the form opens
def test_no_user_text_reaches_a_posted_block_unescaped(
    slack: SlackHarness, clock: FakeClock, notes: str
) -> None:
    user = f"U{next(counter)}"
    clock.advance(timedelta(minutes=1))  # an operator's minute: Slack's budget is full again
    first = len(slack.fake.calls)
    slack.run("/go-start", notes, user=user)
    slack.run("/go-end", notes, user=user)
    posted = [
        c for c in slack.fake.calls[first:] if c.method in ("chat.postMessage", "chat.update")
    ]
    # snapshot, playbook message, its update, the thread summary, the playbook's final state
    assert len(posted) == 5
    for call in posted:
        check_escaped(block_text(call.params), (f"<@{user}>",))
        check_escaped(str(call.params.get("text", "")), (f"<@{user}>",))


def test_no_user_text_can_ping_or_reorder_what_others_read(slack: SlackHarness) -> None:
    notes = "deploy @here and @channel, @Everyone: \u202egnp.exe\u202c zero\u200bwidth \ufeff"
    slack.run("/go-start", notes)
    post = slack.fake.wait_for_calls("chat.postMessage")[0]
    text = block_text(post.params)
    for ping in ("@here", "@channel", "@Everyone"):
        assert ping not in text
    assert "\uff20here" in text and "\uff20channel" in text
    assert not set(text) & {"\u202e", "\u202c", "\u200b", "\ufeff"}
    assert "gnp.exe" in text and "zerowidth" in text
    stored = slack.services.sessions.get().notes or ""
    assert not set(stored) & {"\u202e", "\u202c", "\u200b", "\ufeff"}

    def text_objects(node: object) -> list[dict[str, object]]:
        if isinstance(node, dict):
            own = [node] if node.get("type") == "mrkdwn" else []
            return own + [t for value in node.values() for t in text_objects(value)]
        if isinstance(node, list):
            return [t for value in node for t in text_objects(value)]
        return []

    objects = text_objects(post.params["blocks"])
    assert objects and all(obj.get("verbatim") is True for obj in objects)
