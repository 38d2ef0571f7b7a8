"""The session as a workspace: notes on its timeline, an owner who hands it over (by command or
the Take over button), reminders that follow the owner. Signed requests in, the loopback Slack
out, on both stores."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dev.fake_slack import FakeSlack, Message
from bot.dev.slack_requests import message_shortcut_body
from bot.reports import MARKDOWN, report_lines
from bot.settings import Settings
from bot.slack.manifest import build_manifest
from tests.bot.conftest import SlackHarness, block_text, signed_headers
from tests.bot.slack.test_views import check_escaped
from tests.conftest import FakeClock, audit_records, json_only
from tests.faults import FULL_DISK, FaultyOs, fail_with


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(
        operators=["U1", "U2", "U3"], remind_after="60m", remind_every="60m", **store_settings
    )


def post_of(fake: FakeSlack) -> Message:
    return next(m for m in fake.messages.values() if m.thread_ts is None)


def thread_lines(fake: FakeSlack, marker: str) -> list[str]:
    """The thread replies whose text starts with `marker`, oldest first."""
    post = post_of(fake)
    replies = sorted(
        (m for m in fake.messages.values() if m.thread_ts == post.ts), key=lambda m: m.ts
    )
    return [block_text(m.params) for m in replies if block_text(m.params).startswith(marker)]


def events(team: SlackHarness, name: str) -> list[dict[str, Any]]:
    return [r for r in audit_records(team.services) if r["event"] == name]


def test_a_note_goes_on_the_timeline_with_one_line_in_the_thread(team: SlackHarness) -> None:
    assert "no active GO session" in team.run("/go-note", "too early")
    team.run("/go-start", "launch")
    assert "Usage: `/go-note &lt;text&gt;`" in team.run("/go-note", "   ")
    assert "Added to the session's timeline" in team.run("/go-note", "canary at 5% <!here>")
    [line] = thread_lines(team.fake, ":memo:")
    assert line == ":memo: <@U1>: canary at 5% &lt;!here&gt;"
    [entry] = team.services.sessions.get("C1").timeline
    assert (entry.kind, entry.by, entry.text) == ("note", "U1", "canary at 5% <!here>")
    [event] = events(team, "GO_NOTE_ADDED")
    assert event["actor"] == "U1" and event["data"]["text"] == "canary at 5% <!here>"


def test_a_stranger_cannot_add_notes(team: SlackHarness) -> None:
    team.run("/go-start", "launch")
    assert "Only gobot operators may add notes" in team.run("/go-note", "hi", user="UEVE")
    assert team.services.sessions.get("C1").timeline == []


def test_handover_by_command_moves_the_owner_the_post_and_the_reminders(
    team: SlackHarness, clock: FakeClock
) -> None:
    team.run("/go-start", "launch", user="U1")
    reply = team.run("/go-handover", "<@U2|bob> going off shift", user="U1")
    assert "<@U2> owns the GO session now" in reply
    assert thread_lines(team.fake, ":arrows_counterclockwise:") == [
        ":arrows_counterclockwise: <@U1> handed the session to <@U2>: going off shift"
    ]
    post = post_of(team.fake)
    assert "owner: <@U2>" in block_text(post.updates[-1])
    [event] = events(team, "GO_SESSION_HANDOVER")
    assert event["data"]["from"] == "U1" and event["data"]["to"] == "U2"
    clock.advance(timedelta(minutes=60))
    team.tick()
    [reminder] = thread_lines(team.fake, ":alarm_clock:")
    assert reminder.startswith(":alarm_clock: <@U2>, this GO session has been open")
    assert "already owns" in team.run("/go-handover", "U2", user="U1")
    refused = team.run("/go-handover", "<@UEVE|eve>", user="U2")
    assert refused == (
        ":warning: <@UEVE> is not a gobot operator, and only operators can own a GO session: "
        "nothing changed."
    )
    assert "Usage: `/go-handover @user" in team.run("/go-handover", "@bob", user="U2")
    assert team.services.sessions.get("C1").owner == "U2"


def test_take_over_button_on_the_post_makes_the_clicker_the_owner(team: SlackHarness) -> None:
    team.run("/go-start", "launch", user="U1")
    post = post_of(team.fake)
    [button] = [
        element
        for block in post.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "go_take_over"
    ]
    response, token = team.click("go_take_over", button["value"], user="UEVE")
    assert response.status_code == 200
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    assert team.services.sessions.get("C1").current_owner == "U1"  # a stranger cannot
    team.click("go_take_over", button["value"], user="U3")
    assert team.fake.wait_for(lambda f: bool(thread_lines(f, ":arrows_counterclockwise:")))
    assert thread_lines(team.fake, ":arrows_counterclockwise:") == [
        ":arrows_counterclockwise: <@U3> took over the session"
    ]
    assert team.services.sessions.get("C1").current_owner == "U3"


def test_the_manifest_asks_slack_to_escape_mentions_for_handover_only(data_dir: Path) -> None:
    manifest = build_manifest(Settings(data_dir=data_dir), "https://gobot.example.com", False)
    escaping = {c["command"] for c in manifest["features"]["slash_commands"] if c["should_escape"]}
    assert escaping == {"/go-handover"}


counter = iter(range(10**6))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=1, max_size=300))
def test_no_note_text_reaches_the_thread_unescaped(
    make_harness: Callable[..., SlackHarness], text: str
) -> None:
    channel = f"C{next(counter)}"
    team = make_harness(session_scope="channel")
    team.run("/go-start", "launch", channel=channel)
    reply = team.run("/go-note", text, channel=channel)
    timeline = team.services.sessions.get(channel).timeline
    if "Added" not in reply:  # only blank (or invisible) text is refused, and adds nothing
        assert timeline == [] and "Usage" in reply
        return
    [entry] = timeline
    line = next(
        m.params
        for m in team.fake.messages.values()
        if m.channel == channel and str(m.params.get("text")) == "GO session timeline"
    )
    check_escaped(block_text(line), ("<@U1>",))
    assert entry.text and len(entry.text) <= len(text)


def pin(
    team: SlackHarness, ts: str, event_id: str, reaction: str = "pushpin", channel: str = "C1"
) -> None:
    item = {"type": "message", "channel": channel, "ts": ts}
    event = {"type": "reaction_added", "user": "U2", "reaction": reaction, "item": item}
    assert team.event(event, event_id=event_id).status_code == 200
    assert team.runtime is not None and team.runtime.work.wait_idle(channel, 10)


def test_a_message_added_by_shortcut_and_by_reaction_is_one_entry(team: SlackHarness) -> None:
    team.run("/go-start", "launch")
    text = "db failover done <!channel>"
    ts = team.fake.post_directly("C1", text, user="U7")
    message = {"type": "message", "ts": ts, "text": text, "user": "U7"}
    token = uuid.uuid4().hex
    body = message_shortcut_body(
        "go_add_to_session", "U1", "C1", message, team.fake.response_url(token)
    )
    assert team.post(body, signed_headers(body)).status_code == 200
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    reply = next(c.params for c in team.fake.responses if c.method == token)
    assert "Added to the session's timeline" in block_text(reply)
    [entry] = team.services.sessions.get("C1").timeline
    assert (entry.kind, entry.by, entry.author, entry.key) == ("message", "U1", "U7", f"C1:{ts}")
    assert entry.permalink == f"https://fake.slack.local/archives/C1/p{ts.replace('.', '')}"
    [line] = thread_lines(team.fake, ":pushpin:")
    assert line == (
        f":pushpin: <@U1> added a message by <@U7> (<{entry.permalink}|link>): "
        "db failover done &lt;!channel&gt;"
    )
    for event_id in ("Ev1", "Ev1", "Ev2"):  # a Slack retry, and the same message pinned again
        pin(team, ts, event_id)
    pin(team, ts, "Ev3", reaction="eyes")  # not the pin
    before = len(team.fake.calls)
    event = {"type": "reaction_added", "user": "UEVE", "reaction": "pushpin"}
    team.event({**event, "item": {"type": "message", "channel": "C1", "ts": ts}}, "Ev6")
    assert team.runtime is not None and team.runtime.work.wait_idle("C1", 10)
    assert team.fake.calls[before:] == []  # a stranger's pin costs no Slack call
    elsewhere = team.fake.post_directly("GPRIVATE", "salary list", user="U7")
    before = len(team.fake.calls)
    pin(team, elsewhere, "Ev5", channel="GPRIVATE")  # another channel's message stays there
    assert team.fake.calls[before:] == []  # refused before anything is read from Slack
    assert len(team.services.sessions.get("C1").timeline) == 1
    assert len(events(team, "GO_NOTE_ADDED")) == 1
    post = post_of(team.fake)
    reply_ts = team.fake.post_directly("C1", "rolled back the canary", post.ts, user="U8")
    pin(team, reply_ts, "Ev4")  # a reply in the session's thread
    added = team.services.sessions.get("C1").timeline[-1]
    assert (added.by, added.author, added.text) == ("U2", "U8", "rolled back the canary")
    assert len(thread_lines(team.fake, ":pushpin:")) == 2


def test_a_pinned_message_keeps_its_mentions_and_dates_and_nothing_else(
    team: SlackHarness,
) -> None:
    """The bot's own post (as conversations.history gives it: mentions, a date, entities) is
    quoted in the timeline with its people, channel and date as Slack shows them; any other
    markup in it stays defused; the Markdown report writes them as plain text."""
    team.run("/go-start", "launch")
    text = (
        "<@U1>: your GO window starts now (<!date^1767268800^{date_short_pretty} {time}|"
        "2026-01-01T12:00Z> in <#C1|ops>) &amp; <!channel> <https://evil.example|click>"
    )
    ts = team.fake.post_directly("C1", text, user="UBOT")
    pin(team, ts, "EvBot")
    [line] = thread_lines(team.fake, ":pushpin:")
    quoted = line.partition("): ")[2]
    assert quoted.startswith("<@U1>: your GO window starts now (<!date^1767268800^")
    assert "<#C1>) &amp; &lt;!channel&gt; &lt;https://evil.example|click&gt;" in quoted
    check_escaped(quoted, ("<@U1>", "<#C1>"))
    assert "your GO window starts now (<!date^1767268800^" in team.run("/go-report")
    report = report_lines(team.services.reports.report("C1", None), MARKDOWN)
    plain = "@U1: your GO window starts now \\(2026\\-01\\-01T12:00Z in \\#C1\\)"
    assert any(plain in line for line in report)


def test_the_manifest_declares_the_shortcut_and_the_reaction(data_dir: Path) -> None:
    manifest = build_manifest(Settings(data_dir=data_dir), None, True)
    [shortcut] = manifest["features"]["shortcuts"]
    assert shortcut["type"] == "message" and shortcut["callback_id"] == "go_add_to_session"
    assert "reaction_added" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "reactions:read" in manifest["oauth_config"]["scopes"]["bot"]


@json_only
def test_a_full_disk_at_each_new_write_point_changes_nothing_and_says_so(
    team: SlackHarness, faulty_os: Callable[[object], None]
) -> None:
    team.run("/go-start", "launch")
    before = team.services.sessions.get("C1")
    faulty_os(FaultyOs(1, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
    for command, text, undone in (
        ("/go-note", "canary at 5%", "Not added"),
        ("/go-handover", "<@U2|bob>", "Not handed over"),
        ("/go-complete", "1", "Not completed"),
    ):
        reply = team.run(command, text)
        assert f"{undone}: the data disk is full. Nothing changed" in reply, reply
        assert "Traceback" not in reply and "/tmp" not in reply
    faulty_os(os)  # space freed
    assert team.services.sessions.get("C1") == before
    assert "Added to the session's timeline" in team.run("/go-note", "canary at 5%")
