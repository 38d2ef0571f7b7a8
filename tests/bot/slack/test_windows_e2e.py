"""Planned GO windows and the weekly digest: signed payloads into the real app, the loopback
Slack out, an injected clock; on both stores, with two replicas where it says exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from bot.dev.fake_slack import Call, Failure
from bot.dev.slack_requests import view_submission_body
from bot.slack.capability import Place
from bot.slack.window_views import WindowButton, windows_message
from tests.bot.conftest import SlackHarness, block_text, signed_headers
from tests.bot.slack.test_views import check_escaped
from tests.conftest import T0, FakeClock, audit_records

API_KEY = "test-api-key-not-real"
START = T0 + timedelta(hours=3)  # 12:00Z


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(operators=["U1", "U2"], api_key=API_KEY, **store_settings)


def submit(team: SlackHarness, values: dict[str, str], metadata: str = "C1") -> httpx.Response:
    body = view_submission_body("go_schedule_modal", "U1", metadata, values)
    return team.post(body, signed_headers(body))


def plan(team: SlackHarness, at: datetime, **extra: str) -> str:
    """Plan a window through the form; its id."""
    before = {w.id for w in team.services.windows.upcoming()}
    values = {"when": str(int(at.timestamp())), "planned": "1h", "channel": "C1", **extra}
    answered = len(team.fake.calls_to("chat.postEphemeral"))
    assert submit(team, values).status_code == 200
    team.fake.wait_for_calls("chat.postEphemeral", answered + 1)
    [new] = [w.id for w in team.services.windows.upcoming() if w.id not in before]
    return new


def window_posts(team: SlackHarness) -> list[dict[str, Any]]:
    """What landed in the channel about windows (a refused attempt did not land)."""
    return [
        m.params
        for m in team.fake.messages.values()
        if "GO window" in block_text(m.params) and not m.thread_ts
    ]


def at(team: SlackHarness, clock: FakeClock, moment: datetime) -> list[str]:
    clock.advance(moment - clock.now())
    team.tick()
    return [block_text(params) for params in window_posts(team)]


def events(team: SlackHarness, name: str) -> list[dict[str, Any]]:
    return [r for r in audit_records(team.services) if r["event"] == name]


def test_a_window_is_planned_in_its_form_listed_and_overlaps_are_refused(
    team: SlackHarness,
) -> None:
    assert team.command("/go-schedule", "").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "go_schedule_modal" and Place.read(
        view["private_metadata"]
    ) == Place(channel="C1")
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"]}
    assert kinds["when"] == "datetimepicker" and kinds["channel"] == "conversations_select"
    [when] = [b for b in view["blocks"] if b["block_id"] == "when"]
    assert (when["label"]["text"], when["hint"]["text"]) == ("When", "In your own time zone.")

    for when in ("99999999999999999999", "-99999999999999"):  # out of any calendar
        submit(team, {"when": when, "planned": "1h", "channel": "C1"})
    assert team.fake.wait_for_calls("chat.postEphemeral", 2)
    said = [block_text(c.params) for c in team.fake.calls_to("chat.postEphemeral")]
    assert said == [":warning: Pick a date and a time for the GO window."] * 2
    bad = submit(team, {"when": str(int(START.timestamp())), "planned": "1h", "link": "ftp://x"})
    assert bad.json()["response_action"] == "errors" and "link" in bad.json()["errors"]
    window = plan(team, START, notes="db upgrade <!here>", link="https://t.example/CHG-3")
    answer = team.fake.calls_to("chat.postEphemeral")[-1]
    assert "GO window planned: <!date^" in block_text(answer.params)
    stored = team.services.windows.find(window)
    assert (stored.starts_at_utc, stored.duration_seconds, stored.channel) == (START, 3600, "C1")
    assert stored.scheduled_by == "U1" and stored.link == "https://t.example/CHG-3"
    assert events(team, "GO_WINDOW_SCHEDULED")[0]["data"]["window"] == window

    refused = team.run("/go-schedule", "2026-01-01T12:30Z 1h another", user="U2")
    assert refused.startswith(":warning: That overlaps the GO window of <!date^1767268800^")
    assert "in <#C1> (scheduled by <@U1>): move or cancel one of them." in refused
    clash = submit(team, {"when": str(int(START.timestamp()) + 1800), "planned": "1h"})
    assert clash.json() == {
        "response_action": "errors",
        "errors": {
            "when": "That overlaps another GO window, 2026-01-01 12:00 to 2026-01-01 13:00 UTC: "
            "pick another time, or move or cancel that one."
        },
    }
    assert "must start in the future" in team.run("/go-schedule", "2025-12-31T12:00Z 1h")
    assert "Usage: `/go-schedule`" in team.run("/go-schedule", "tomorrow 1h")
    assert "one of 30m, 1h, 2h, 4h" in team.run("/go-schedule", "2026-01-02T12:00Z 3h")
    assert len(team.services.windows.upcoming()) == 1  # nothing else planned

    listed = team.run("/go-windows", user="U9")
    assert "Planned GO windows" in listed and "db upgrade &lt;!here&gt;" in listed
    assert "scheduled by <@U1>" in listed
    home = team.services.windows.upcoming()
    assert [w.id for w in home] == [window]


def test_a_windows_lifecycle_reminder_prompt_and_missed_note(
    team: SlackHarness, clock: FakeClock
) -> None:
    window = plan(team, START, notes="db upgrade")
    assert at(team, clock, START - timedelta(minutes=31)) == []
    [reminder] = at(team, clock, START - timedelta(minutes=30))
    assert ":calendar: A GO window starts <!date^" in reminder and "db upgrade" in reminder
    buttons = [
        e["action_id"]
        for b in window_posts(team)[0]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["go_window_start"]
    assert len(at(team, clock, START - timedelta(minutes=1))) == 1  # not reminded twice
    [_, prompt] = at(team, clock, START)
    assert "<@U1>, your GO window starts now" in prompt
    assert len(at(team, clock, START + timedelta(minutes=59))) == 2
    [*_, missed] = at(team, clock, START + timedelta(hours=1))
    assert "was missed: no GO session was started in it" in missed
    assert team.services.windows.find(window).status == "missed"
    assert len(events(team, "GO_WINDOW_MISSED")) == 1
    assert len(at(team, clock, START + timedelta(hours=5))) == 3  # said once


def test_start_now_carries_the_windows_notes_link_and_duration(
    team: SlackHarness, clock: FakeClock
) -> None:
    window = plan(team, START, notes="db upgrade", link="https://t.example/CHG-3")
    team.fake.fail("chat.postMessage", Failure(error="not_in_channel", times=100))
    at(team, clock, START - timedelta(minutes=30))  # its reminder waits: the bot is not invited
    team.fake.heal()
    response, token = team.click("go_window_start", window, user="U2")
    assert response.status_code == 200
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    session = team.services.sessions.get("C1")
    assert session.active and session.started_by == "U2" and session.notes == "db upgrade"
    assert session.link == "https://t.example/CHG-3"
    assert session.planned_end_utc == clock.now() + timedelta(hours=1)
    started = team.services.windows.find(window)
    assert started.status == "started" and started.session_id == session.id
    assert events(team, "GO_WINDOW_STARTED")[0]["data"]["session"] == session.id
    team.tick()
    assert window_posts(team) == []  # its waiting reminder was dropped as it started
    assert at(team, clock, START + timedelta(hours=2)) == []  # no prompt, no missed note
    _, again = team.click("go_window_start", window, user="U2")
    assert team.fake.wait_for(lambda f: any(c.method == again for c in f.responses))
    reply = next(c.params for c in team.fake.responses if c.method == again)
    assert "That GO window is started already." in block_text(reply)


def initial_duration(view: dict[str, Any]) -> tuple[str, list[str]]:
    """The Move form's preselected duration, and every duration it offers."""
    [planned] = [b["element"] for b in view["blocks"] if b["block_id"] == "planned"]
    return planned["initial_option"]["value"], [o["value"] for o in planned["options"]]


def test_a_window_is_moved_in_its_form_and_cancelled_by_its_button(
    team: SlackHarness, clock: FakeClock
) -> None:
    window = plan(team, START, planned="2h")
    team.click("go_window_move", window, user="U2")
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert Place.read(view["private_metadata"]) == Place(channel="C1", about=window)
    assert {b["block_id"] for b in view["blocks"]} == {"when", "planned"}
    assert initial_duration(view) == ("2h", ["30m", "1h", "2h", "4h"])  # its own, not 1h
    later = START + timedelta(days=1)
    values = {"when": str(int(later.timestamp())), "planned": initial_duration(view)[0]}
    assert submit(team, values, metadata=view["private_metadata"]).status_code == 200
    team.fake.wait_for_calls("chat.postEphemeral", 2)
    moved = team.services.windows.find(window)
    assert (moved.starts_at_utc, moved.duration_seconds) == (later, 7200)  # only its start
    assert events(team, "GO_WINDOW_MOVED")[0]["data"]["from_utc"] == "2026-01-01T12:00:00.000000Z"
    assert at(team, clock, START) == []  # nothing at the old time

    _, token = team.click("go_window_cancel", window, user="UEVE")  # not an operator
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    assert team.services.windows.find(window).status == "scheduled"
    team.click("go_window_cancel", window, user="U2")
    assert team.runtime is not None and team.runtime.work.wait_idle("C1", 10)
    assert team.services.windows.find(window).status == "cancelled"
    assert events(team, "GO_WINDOW_CANCELLED")[0]["actor"] == "U2"
    assert at(team, clock, later) == [] and team.services.windows.upcoming() == []


def test_a_move_that_overlaps_is_refused_beside_its_when_and_an_odd_duration_is_kept(
    team: SlackHarness,
) -> None:
    """A window planned outside the form (3h 30m) is offered and preselected as it is; moving
    it onto another window is a field error: the form stays open and nothing moves."""
    first = plan(team, START)
    odd = team.services.windows.schedule(
        "U1", "C1", START + timedelta(days=1), timedelta(hours=3, minutes=30)
    )
    team.click("go_window_move", odd.id, user="U2")
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert initial_duration(view) == ("3h30m", ["30m", "1h", "2h", "4h", "3h30m"])
    onto = {"when": str(int((START - timedelta(hours=1)).timestamp())), "planned": "3h30m"}
    answered = len(team.fake.calls_to("chat.postEphemeral"))
    refused = submit(team, onto, metadata=view["private_metadata"])
    assert refused.json()["response_action"] == "errors"
    assert refused.json()["errors"]["when"].startswith(
        "That overlaps another GO window, 2026-01-01 12:00 to 2026-01-01 13:00 UTC"
    )
    assert team.services.windows.find(odd.id) == odd and events(team, "GO_WINDOW_MOVED") == []
    later = {"when": str(int((START + timedelta(days=2)).timestamp())), "planned": "3h30m"}
    assert submit(team, later, metadata=view["private_metadata"]).content == b""  # closes
    team.fake.wait_for_calls("chat.postEphemeral", answered + 1)
    moved = team.services.windows.find(odd.id)
    assert (moved.starts_at_utc, moved.duration_seconds) == (START + timedelta(days=2), 12600)
    assert team.services.windows.find(first).starts_at_utc == START


def test_two_replicas_ticking_at_once_owe_each_message_once(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], clock: FakeClock
) -> None:
    """Two replicas tick at the same moment, again and again, through six windows' reminders
    and prompts: each message owed once (each claim reads the window again under the lock)."""
    one = make_harness(**store_settings)
    two = make_harness(**store_settings)
    for hour in range(6):
        one.services.windows.schedule(
            f"U{hour}", "C1", START + timedelta(hours=hour), timedelta(minutes=30)
        )
    for moment in (START - timedelta(minutes=30), START + timedelta(hours=5, minutes=1)):
        clock.advance(moment - clock.now())
        for _ in range(3):
            gate = threading.Barrier(2)

            def tick(replica: SlackHarness, gate: threading.Barrier = gate) -> int:
                gate.wait()
                return replica.services.windows.tick()

            with ThreadPoolExecutor(2) as pool:
                owed = list(pool.map(tick, (one, two)))
            assert sum(owed) <= 6
    windows = one.services.windows.between(START, START + timedelta(hours=6))
    assert [w.status for w in windows] == ["missed"] * 5 + ["scheduled"]
    missed = [r["data"]["window"] for r in events(one, "GO_WINDOW_MISSED")]
    assert sorted(missed) == sorted(w.id for w in windows[:5])  # each once
    first = one.services.outbox.ready(clock.now() + timedelta(days=1))  # each window's first
    owed = sorted((i.session_id, str(getattr(i.data, "what", ""))) for i in first)
    assert owed == sorted(
        [(f"window:{windows[0].id}", "reminder")]
        + [(f"window:{w.id}", "missed") for w in windows[1:5]]
        + [(f"window:{windows[5].id}", "prompt")]
    )


def test_a_cancelled_or_moved_windows_waiting_messages_are_not_sent(
    team: SlackHarness, clock: FakeClock
) -> None:
    """The bot is not in the channel: the reminders wait; the window is cancelled (and another
    moved) meanwhile; once the bot is invited, nothing about the old times goes out."""
    cancelled = plan(team, START)
    moved = plan(team, START + timedelta(hours=1))
    team.fake.fail("chat.postMessage", Failure(error="not_in_channel", times=100))
    at(team, clock, START + timedelta(minutes=30))  # the first's prompt, the second's reminder
    assert window_posts(team) == []
    waiting = [i for i in team.services.outbox.ready(clock.now() + timedelta(days=1))]
    assert {i.session_id for i in waiting if i.kind == "window"} == {
        f"window:{cancelled}",
        f"window:{moved}",
    }
    team.services.windows.cancel("U1", cancelled)
    team.services.windows.move("U1", moved, START + timedelta(days=3), timedelta(hours=1))
    team.fake.heal()
    assert team.services.delivery is not None
    team.services.delivery.wake("C1")
    team.tick()
    assert window_posts(team) == []


def test_the_calendar_feed_parses_back(team: SlackHarness, clock: FakeClock) -> None:
    first = plan(team, START, notes="db upgrade", link="https://t.example/CHG-3")
    second = plan(team, START + timedelta(days=2))
    team.click("go_window_cancel", second)
    assert team.runtime is not None and team.runtime.work.wait_idle("C1", 10)
    assert team.http.get("/core/go/windows.ics").status_code == 401
    answer = team.http.get("/core/go/windows.ics", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    found = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(found) == {f"{first}@gobot", f"{second}@gobot"}
    event = found[f"{first}@gobot"]
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(hours=1)
    assert str(event["url"]) == "https://t.example/CHG-3"
    assert "db upgrade" in str(event["description"])
    assert str(found[f"{second}@gobot"]["status"]) == "CANCELLED"
    listed = team.http.get("/core/go/windows", headers={"X-API-Key": API_KEY}).json()
    assert [w["id"] for w in listed] == [first]
    assert listed[0]["starts_at_utc"] == "2026-01-01T12:00:00.000000Z"


def digests(team: SlackHarness) -> list[Call]:
    return [c for c in team.fake.calls_to("chat.postMessage") if c.params["channel"] == "CDIGEST"]


def test_the_weekly_digest_goes_out_once_across_replicas(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], clock: FakeClock
) -> None:
    """2026-01-01 is a Thursday; the digest is due Monday 2026-01-05 09:00 Berlin (08:00Z)."""
    settings = {
        "digest_channel": "CDIGEST",
        "digest_at": "mon 09:00 Europe/Berlin",
        **store_settings,
    }
    one, two = make_harness(**settings), make_harness(**settings)
    one.run("/go-start", "deploy", user="U1")
    clock.advance(timedelta(minutes=90))
    one.run("/go-end", "done", user="U1")
    one.run("/go-schedule", "2026-01-06T10:00Z 2h next deploy", user="U1")
    clock.advance(datetime(2026, 1, 5, 7, 59, tzinfo=clock.now().tzinfo) - clock.now())
    one.tick()
    two.tick()
    assert digests(one) == []
    clock.advance(timedelta(minutes=1))
    two.tick()
    one.tick()
    [digest] = digests(one)
    text = block_text(digest.params)
    assert "GO weekly digest · 2026-W02" in text
    assert "*Sessions:* 1 (1 completed)" in text and "*Time in sessions:* 1h 30m" in text
    assert "*Planned for the coming week:* 1 GO windows" in text and "next deploy" in text
    assert "*Overruns:* 0" in text and "0% of steps done" in text
    clock.advance(timedelta(days=1))
    one.tick()
    two.tick()
    assert len(digests(one)) == 1
    assert len([r for r in audit_records(one.services) if r["event"] == "GO_DIGEST_SENT"]) == 1


def test_a_digest_missed_while_down_goes_out_once_that_week(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], clock: FakeClock
) -> None:
    settings = {"digest_channel": "CDIGEST", "digest_at": "thu 08:00", **store_settings}
    clock.advance(timedelta(days=1))  # Friday: Thursday's digest was missed
    team = make_harness(**settings)
    team.tick()
    team.tick()
    [digest] = digests(team)
    assert "GO weekly digest · 2026-W01" in block_text(digest.params)
    assert "*Sessions:* 0" in block_text(digest.params)
    clock.advance(timedelta(days=4))  # Tuesday of the next week: not due before Thursday
    team.tick()
    assert len(digests(team)) == 1


counter = iter(range(10**6))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(min_size=1, max_size=120).filter(str.strip),  # blank: the form opens
        st.builds(
            lambda when, rest: f"{when} 1h {rest}",
            st.sampled_from(
                [
                    "2026-03-01T10:00Z",
                    "2026-03-01T10:00+02:00",
                    "2026-02-30T10:00Z",
                    "9999-12-31T23:59-23:00",
                    "0001-01-01T00:00+14:00",
                ]
            ),
            st.text(max_size=200),
        ),
    )
)
def test_any_schedule_text_is_planned_or_refused_in_one_line(
    make_harness: Callable[..., SlackHarness], text: str
) -> None:
    """Free text after `/go-schedule`: a window with those notes (escaped where shown), or one
    clear line and nothing planned; never an error id."""
    channel = f"C{next(counter)}"
    team = make_harness(session_scope="channel")
    reply = team.run("/go-schedule", text, channel=channel)
    planned = team.services.windows.upcoming(channel)
    assert ":x:" not in reply and "Traceback" not in reply
    if "GO window planned" not in reply:
        assert planned == [] and reply.startswith(":warning:")
        return
    [window] = planned
    listed = team.run("/go-windows", channel=channel)
    check_escaped(listed, ("<@U1>", f"<#{channel}>"))
    assert len(window.notes) <= len(text)


def home_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_app_home_lists_windows_with_their_buttons_answered_on_the_page(
    team: SlackHarness,
) -> None:
    """App Home has each planned window's Start now, Move and Cancel, as `/go-windows` does;
    a click, and the Move form opened from there, are answered on the page itself."""
    first = plan(team, START)
    second = plan(team, START + timedelta(days=1))
    team.event({"type": "app_home_opened", "user": "U2", "tab": "home"}, "EvHome1")
    home = team.fake.wait_for_calls("views.publish")[0].params["view"]
    buttons = home_buttons(home)
    assert [b["text"]["text"] for b in buttons] == ["Start now", "Move", "Cancel"] * 2
    windows = team.reply(team.command("/go-windows", user="U2"))
    assert buttons == home_buttons(windows)  # the same buttons
    move = next(b for b in buttons if b["action_id"] == "go_window_move")
    assert WindowButton.model_validate(move["value"]) == WindowButton(window_id=first, channel="C1")

    team.click("go_window_move", move["value"], user="U2", on_home=True)
    [opened] = team.fake.wait_for_calls("views.open")
    metadata = opened.params["view"]["private_metadata"]
    assert Place.read(metadata) == Place(channel="C1", about=first, home=True)
    later = START + timedelta(hours=4)
    body = view_submission_body(
        "go_schedule_modal", "U2", metadata, {"when": str(int(later.timestamp())), "planned": "1h"}
    )
    answered = len(team.fake.calls_to("chat.postEphemeral"))
    assert team.post(body, signed_headers(body)).status_code == 200
    moved = team.fake.wait_for_calls("views.publish", 2)[1].params
    assert moved["user_id"] == "U2" and "GO window moved: <!date^" in block_text(moved["view"])
    assert team.services.windows.find(first).starts_at_utc == later
    assert len(team.fake.calls_to("chat.postEphemeral")) == answered  # nothing in the channel

    cancel = next(b for b in home_buttons(moved["view"]) if b["action_id"] == "go_window_cancel")
    team.click("go_window_cancel", cancel["value"], user="U2", on_home=True)
    cancelled = team.fake.wait_for_calls("views.publish", 3)[2].params["view"]
    assert "is cancelled" in block_text(cancelled)
    assert team.services.windows.find(first).status == "cancelled"
    assert [b["value"] for b in home_buttons(cancelled)] == [
        WindowButton(window_id=second, channel="C1").value()
    ] * 3
    team.click("go_window_start", cancel["value"].replace(first, second), user="U2", on_home=True)
    started = team.fake.wait_for_calls("views.publish", 4)[3].params["view"]
    assert "GO session started" in block_text(started)
    assert team.services.sessions.get("C1").active
    assert team.services.windows.find(second).status == "started"


def test_a_window_whose_channel_is_no_slack_id_is_listed_with_buttons_that_name_none(
    team: SlackHarness,
) -> None:
    """A window planned from the CLI or REST in a channel by name (not a Slack ID) is listed
    all the same; its buttons name no channel (the window itself says where it runs)."""
    window = team.services.windows.schedule("api", "ops-team", START, timedelta(hours=1))
    [actions] = [b for b in windows_message([window], START) if b["type"] == "actions"]
    assert {e["value"] for e in actions["elements"]} == {WindowButton(window_id=window.id).value()}


@pytest.mark.parametrize("action", ["go_window_cancel", "go_window_start", "go_window_move"])
def test_a_window_button_acts_only_on_a_window_of_the_channel_it_was_clicked_in(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], action: str
) -> None:
    """Channel scope: a button carrying another channel's window id, clicked in C1, leaves
    that window as it is and says it is not there."""
    team = make_harness(operators=["U1"], session_scope="channel", **store_settings)
    theirs = team.services.windows.schedule("U1", "C2", START, timedelta(hours=1))
    _, token = team.click(action, theirs.id, user="U1", channel="C1")
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    [reply] = [c for c in team.fake.responses if c.method == token]
    assert f"There is no GO window '{theirs.id}' in this channel." in block_text(reply.params)
    assert team.services.windows.find(theirs.id).status == "scheduled"
    assert team.fake.calls_to("views.open") == []
    assert team.services.sessions.get("C2").started_at_utc is None
