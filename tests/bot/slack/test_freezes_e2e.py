"""Change freezes through the real boundaries: signed slash commands, buttons and forms into the
real HTTP app, the loopback Slack out, REST and the calendar feed, an injected clock; on both
stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from bot.dev.slack_requests import view_submission_body
from bot.slack.capability import Place
from bot.slack.window_views import WindowButton
from core.gate_models import GateRequest
from tests.bot.conftest import SlackHarness, block_text, posts, signed_headers, slack_date
from tests.bot.slack.test_views import check_escaped
from tests.conftest import T0, FakeClock, audit_records

API_KEY = "test-api-key-not-real"
START = T0 + timedelta(hours=3)  # 12:00Z
FREEZE_TEXT = "2026-01-01T12:00Z 2d year-end <!here> freeze"


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(
        operators=["U1", "U2"], admins=["UADMIN"], api_key=API_KEY, **store_settings
    )


def events(team: SlackHarness, name: str) -> list[dict[str, Any]]:
    return [r for r in audit_records(team.services) if r["event"] == name]


def frozen(team: SlackHarness, clock: FakeClock) -> str:
    """A freeze planned by command, and the clock moved into it; its id."""
    said = team.run("/go-freeze", FREEZE_TEXT)
    assert said.startswith(":snowflake: Change freeze planned: <!date^1767268800^"), said
    [freeze] = team.services.windows.upcoming()
    clock.advance(START + timedelta(hours=1) - clock.now())
    return freeze.id


def test_go_freeze_plans_one_and_go_windows_shows_it_with_its_buttons(
    team: SlackHarness,
) -> None:
    assert "for 2d 0h in <#C1>" in team.run("/go-freeze", FREEZE_TEXT)
    [freeze] = team.services.windows.upcoming()
    assert (freeze.kind, freeze.notes, freeze.duration_seconds) == (
        "freeze",
        "year-end <!here> freeze",
        2 * 86400,
    )
    assert events(team, "GO_FREEZE_SCHEDULED")[0]["data"]["freeze"] == freeze.id
    reply = team.reply(team.command("/go-windows", user="U9"))
    listed = block_text(reply)
    assert ":snowflake: *Change freeze* *<!date^1767268800^" in listed
    assert "*Reason:* year-end &lt;!here&gt; freeze" in listed
    check_escaped(listed, ("<@U1>", "<#C1>"))
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["go_freeze_move", "go_freeze_cancel"]
    assert "Usage: `/go-freeze`" in team.run("/go-freeze", "tomorrow 2d why")
    assert "Usage: `/go-freeze`" in team.run("/go-freeze", "2026-01-03T00:00Z 2d")
    assert "at most 31 days" in team.run("/go-freeze", "2026-01-05T00:00Z 32d long")
    assert "for how long" in team.run("/go-freeze", "2026-01-05T00:00Z soon why")
    assert len(team.services.windows.upcoming()) == 1


def test_the_freeze_form_plans_moves_and_the_button_cancels(team: SlackHarness) -> None:
    assert team.command("/go-freeze", "").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "go_freeze_modal"
    assert [b["block_id"] for b in view["blocks"]] == ["when", "duration", "channel", "reason"]
    values = {"when": str(int(START.timestamp())), "duration": "3d", "channel": "C1"}
    body = view_submission_body("go_freeze_modal", "U1", "C1", {**values, "reason": "audit"})
    assert team.post(body, signed_headers(body)).status_code == 200
    said = team.fake.wait_for_calls("chat.postEphemeral")[0]
    assert "Change freeze planned" in block_text(said.params)
    [freeze] = team.services.windows.upcoming()

    window = {"when": str(int((START + timedelta(days=1)).timestamp())), "planned": "1h"}
    body = view_submission_body("go_schedule_modal", "U2", "C1", {**window, "channel": "C1"})
    clash = team.post(body, signed_headers(body)).json()
    assert clash["errors"]["when"].startswith("That overlaps a change freeze, 2026-01-01 12:00")

    move = WindowButton(window_id=freeze.id, channel="C1").value()
    team.click("go_freeze_move", move, user="U2")
    moving = team.fake.wait_for_calls("views.open", 2)[1].params["view"]
    assert Place.read(moving["private_metadata"]) == Place(channel="C1", about=freeze.id)
    [duration] = [b for b in moving["blocks"] if b["block_id"] == "duration"]
    assert duration["element"]["initial_value"] == "3d0h"
    later = {"when": str(int((START + timedelta(days=7)).timestamp())), "duration": "3d0h"}
    body = view_submission_body("go_freeze_modal", "U2", moving["private_metadata"], later)
    assert team.post(body, signed_headers(body)).status_code == 200
    team.fake.wait_for_calls("chat.postEphemeral", 2)
    assert team.services.windows.find(freeze.id).starts_at_utc == START + timedelta(days=7)

    _, token = team.click("go_freeze_cancel", move, user="U2")
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    [reply] = [c for c in team.fake.responses if c.method == token]
    assert "The change freeze of <!date^" in block_text(reply.params)
    assert team.services.windows.find(freeze.id).status == "cancelled"
    assert [r["event"] for r in audit_records(team.services) if "FREEZE" in r["event"]] == [
        "GO_FREEZE_SCHEDULED",
        "GO_FREEZE_MOVED",
        "GO_FREEZE_CANCELLED",
    ]


def test_a_go_window_inside_a_freeze_is_refused_naming_it(team: SlackHarness) -> None:
    team.run("/go-freeze", FREEZE_TEXT)
    refused = team.run("/go-schedule", "2026-01-02T09:00Z 1h deploy", user="U2")
    assert refused.startswith(":warning: That overlaps the change freeze of <!date^1767268800^")
    assert "in <#C1> (scheduled by <@U1>): move or cancel one of them." in refused
    assert [w.kind for w in team.services.windows.upcoming()] == ["freeze"]


def test_go_start_is_refused_during_a_freeze_everywhere(
    team: SlackHarness, clock: FakeClock
) -> None:
    freeze = frozen(team, clock)
    refused = team.run("/go-start", "deploy", user="U2")
    assert refused == (
        f":snowflake: A change freeze is in force until {slack_date('2026-01-03T12:00:00Z')}: "
        f"year-end &lt;!here&gt; freeze (freeze `{freeze}`). A gobot admin may start anyway, "
        "saying why: `/go-start --override &lt;reason&gt;`."
    )
    assert team.run("/go", "start", user="U2") == refused  # no form for an operator either
    assert team.fake.calls_to("views.open") == []
    answer = team.http.post("/core/go/start_session", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 409 and answer.json()["code"] == "freeze_in_force"
    assert not team.services.sessions.get("C1").active
    assert events(team, "GO_SESSION_START") == []


def test_an_admins_override_starts_it_shows_it_on_the_post_and_audits_it(
    team: SlackHarness, clock: FakeClock
) -> None:
    freeze = frozen(team, clock)
    said = team.run("/go-start", "hotfix --override payments down <!channel>", user="UADMIN")
    assert said.startswith(":white_check_mark: GO session started"), said
    session = team.services.sessions.get("C1")
    assert session.notes == "hotfix" and session.freeze_override is not None
    assert (session.freeze_override.freeze_id, session.freeze_override.by) == (freeze, "UADMIN")
    [post] = posts(team.fake)
    assert (
        f":snowflake: Started during change freeze `{freeze}` by <@UADMIN>: payments down "
        "&lt;!channel&gt;"
    ) in block_text(post.params)
    [overridden] = events(team, "GO_FREEZE_OVERRIDDEN")
    assert overridden["data"] == {"freeze": freeze, "reason": "payments down <!channel>"}
    assert overridden["session_id"] == events(team, "GO_SESSION_START")[0]["session_id"]
    decision = team.services.gate.evaluate(GateRequest(channel="C1"))
    assert (decision.state, decision.freeze_id) == ("allowed", freeze)  # the gate lets it by


def test_an_admins_form_during_a_freeze_asks_for_the_reason(
    team: SlackHarness, clock: FakeClock
) -> None:
    freeze = frozen(team, clock)
    assert team.command("/go-start", "", user="UADMIN").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    [reason] = [b for b in view["blocks"] if b.get("block_id") == "override"]
    assert reason["label"]["text"] == "Override reason" and not reason.get("optional")
    assert f"Change freeze `{freeze}` holds until" in block_text(view)
    body = view_submission_body(
        "go_start_modal", "UADMIN", view["private_metadata"], {"override": "outage"}
    )
    assert team.post(body, signed_headers(body)).status_code == 200
    team.fake.wait_for(lambda f: bool(posts(f)))
    session = team.services.sessions.get("C1")
    assert session.freeze_override is not None and session.freeze_override.reason == "outage"


def test_an_override_by_anyone_but_an_admin_is_refused(
    team: SlackHarness, clock: FakeClock
) -> None:
    frozen(team, clock)
    said = team.run("/go-start", "--override I know better", user="U2")
    assert said == ":warning: Only gobot admins may override a change freeze."
    body = view_submission_body("go_start_modal", "U2", "C1", {"override": "me too"})
    assert team.post(body, signed_headers(body)).status_code == 200
    [refused] = team.fake.wait_for_calls("chat.postEphemeral")
    assert "Only gobot admins may override a change freeze." in block_text(refused.params)
    assert "Say why you override" in team.run("/go-start", "--override", user="UADMIN")
    assert not team.services.sessions.get("C1").active
    assert events(team, "GO_FREEZE_OVERRIDDEN") == []
    assert [r["data"]["command"] for r in events(team, "GO_COMMAND_DENIED")] == [
        "override a change freeze"
    ]  # the second within a minute is counted, not recorded


def test_a_freeze_in_force_is_ended_or_moved_only_by_an_admin(
    team: SlackHarness, clock: FakeClock
) -> None:
    freeze_id = frozen(team, clock)
    value = WindowButton(window_id=freeze_id).value()
    for action in ("go_freeze_cancel", "go_freeze_move"):
        response, token = team.click(action, value, user="U1")
        assert response.status_code == 200
        assert team.fake.wait_for(lambda f, t=token: any(c.method == t for c in f.responses))
        said = block_text(next(c.params for c in team.fake.responses if c.method == token))
        assert "Only gobot admins may end or move a change freeze in force" in said
    assert [w.id for w in team.services.windows.upcoming()] == [freeze_id]
    assert "GO session started" not in team.run("/go-start", "sneaky", user="U1")
    _, token = team.click("go_freeze_cancel", value, user="UADMIN")
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    assert team.services.windows.upcoming() == []
    assert [r["actor"] for r in events(team, "GO_FREEZE_CANCELLED")] == ["UADMIN"]


def test_the_calendar_marks_the_freeze(team: SlackHarness) -> None:
    team.run("/go-freeze", FREEZE_TEXT)
    team.run("/go-schedule", "2026-01-05T12:00Z 1h deploy")
    feed = team.http.get("/core/go/windows.ics", headers={"X-API-Key": API_KEY})
    found = {str(e["summary"]): e for e in Calendar.from_ical(feed.content).walk("VEVENT")}
    freeze = found["Change freeze: year-end <!here> freeze"]
    assert freeze.get("categories").cats == ["FREEZE"]
    assert "categories" not in found["GO window in C1"]


counter = iter(range(10**6))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reason=st.text(min_size=1, max_size=200))
def test_any_freeze_or_override_reason_is_kept_and_shown_escaped(
    make_harness: Callable[..., SlackHarness], clock: FakeClock, reason: str
) -> None:
    """Free text as a freeze's reason and as an override's: planned (or refused in one line)
    and shown escaped; never an error id."""
    channel = f"C{next(counter)}"
    team = make_harness(session_scope="channel", admins=["UADMIN"])
    when = clock.now() + timedelta(hours=1)
    said = team.run("/go-freeze", f"{when:%Y-%m-%dT%H:%MZ} 1d {reason}", channel=channel)
    assert ":x:" not in said and "Traceback" not in said
    if "Change freeze planned" not in said:
        assert said.startswith(":warning:") and team.services.windows.upcoming(channel) == []
        return
    check_escaped(team.run("/go-windows", channel=channel), ("<@U1>", f"<#{channel}>"))
    clock.advance(timedelta(hours=2))
    started = team.run("/go-start", f"--override {reason}", user="UADMIN", channel=channel)
    assert ":x:" not in started and "Traceback" not in started
    if started.startswith(":white_check_mark:"):
        post = next(p for p in posts(team.fake) if p.params["channel"] == channel)
        check_escaped(block_text(post.params), ("<@UADMIN>",))
    else:
        assert started.startswith(":warning:")
    team.services.windows.cancel("U1", team.services.windows.upcoming(channel)[0].id)
