"""Every trigger goes the one interaction path: form openings, forms, events and the shortcut
are authorized before anything else; button values and private_metadata are typed (what an
older gobot posted still works, what gobot never made is refused clearly); a listener that
fails answers its user. Signed requests in, the loopback Slack out."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from bot.dev.slack_requests import button_click_body, message_shortcut_body, view_submission_body
from bot.slack.capability import FORGED, Place
from tests.bot.conftest import SlackHarness, block_text, signed_headers
from tests.bot.test_observability import samples

SLACK_READS = ("chat.getPermalink", "conversations.history", "conversations.replies")
SLOW = 10.0


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness]) -> SlackHarness:
    return make_harness(operators=["U1", "U2"])


def counted(team: SlackHarness, command: str, outcome: str) -> float:
    key = ("gobot_commands_total", (("command", command), ("outcome", outcome)))
    return samples(team).get(key, 0.0)


def idle(team: SlackHarness, *keys: str) -> None:
    assert team.runtime is not None
    for key in keys:
        assert team.runtime.work.wait_idle(key, SLOW), key


def reply_to(team: SlackHarness, token: str) -> str:
    assert team.fake.wait_for(lambda f: any(c.method == token for c in f.responses), SLOW)
    return block_text(next(c.params for c in team.fake.responses if c.method == token))


def submit(
    team: SlackHarness, callback_id: str, user: str, metadata: str, values: dict[str, str]
) -> httpx.Response:
    body = view_submission_body(callback_id, user, metadata, values)
    return team.post(body, signed_headers(body))


def test_a_stranger_opening_a_form_is_refused_before_any_form_opens(team: SlackHarness) -> None:
    for command in ("/go-start", "/go-end", "/go-schedule"):
        assert "Only gobot operators may" in team.run(command, "", user="U9")
    team.run("/go-start", "launch", user="U1")
    session = team.services.sessions.get("C1")
    assert session.id is not None
    _, token = team.click("go_end_session", session.id, user="U9")
    assert "Only gobot operators may end a GO session" in reply_to(team, token)
    idle(team, "modal:U9", "C1")
    assert team.fake.calls_to("views.open") == []
    assert counted(team, "start", "permission_denied") == 1
    assert counted(team, "end-button", "permission_denied") == 1
    team.command("/go-schedule", "", user="U1")  # an operator's opens, and is counted
    assert team.fake.wait_for_calls("views.open")
    assert counted(team, "schedule", "opened") == 1


def test_a_strangers_form_is_refused_before_its_fields_are_checked(team: SlackHarness) -> None:
    metadata = Place(channel="C1").value()
    bad = {"notes": "x", "link": "javascript:alert(1)"}
    checked = submit(team, "go_start_modal", "U1", metadata, bad)
    assert "link" in checked.json()["errors"]  # an operator's fields are checked
    refused = submit(team, "go_start_modal", "U9", metadata, bad)
    assert refused.status_code == 200 and not refused.content  # no field was looked at
    [said] = team.fake.wait_for_calls("chat.postEphemeral")
    assert said.params["user"] == "U9"
    assert "Only gobot operators may start a GO session" in block_text(said.params)
    assert not team.services.sessions.get("C1").active
    assert counted(team, "start-form", "permission_denied") == 1


def test_app_home_and_the_bot_joining_go_through_the_path(
    team: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gobot.commands")
    team.event({"type": "app_home_opened", "user": "U7", "tab": "home"}, "EvHome")
    assert team.fake.wait_for_calls("views.publish")
    team.event({"type": "member_joined_channel", "user": "UBOT", "channel": "C1"}, "EvJoin")
    team.event({"type": "member_joined_channel", "user": "U8", "channel": "C1"}, "EvOther")
    team.event({"type": "app_home_opened", "user": "U7", "tab": "messages"}, "EvTab")
    idle(team, "home:U7", "C1")
    assert counted(team, "home", "ok") == 1 and counted(team, "joined", "ok") == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "gobot.commands"]
    assert any(line.startswith("home by U7: ok") for line in lines)
    assert any(line.startswith("joined by UBOT: ok") for line in lines)
    assert len(team.fake.calls_to("views.publish")) == 1  # the Messages tab is not gobot's


def test_a_strangers_shortcut_reads_nothing_from_slack(team: SlackHarness) -> None:
    team.run("/go-start", "launch", user="U1")
    message = {"type": "message", "ts": "1700000000.000100", "user": "U5", "text": "p99 ok"}
    for user in ("U9", "U1"):
        token = uuid.uuid4().hex
        body = message_shortcut_body(
            "go_add_to_session", user, "C1", message, team.fake.response_url(token)
        )
        team.post(body, signed_headers(body))
        said = reply_to(team, token)
        if user == "U9":
            assert "Only gobot operators may" in said
            assert not [c for c in team.fake.calls if c.method in SLACK_READS]
    assert "Added to the session's timeline" in said
    assert team.fake.calls_to("chat.getPermalink")  # read once the user was allowed


def test_a_failing_listener_answers_its_user_with_an_error_id(
    team: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A block_actions payload whose channel is not the object Slack documents: the listener
    fails before handing the click over, and `@app.error` answers the clicker."""
    token = uuid.uuid4().hex
    body = button_click_body("go_take_over", "S1", "U1", "C1", team.fake.response_url(token))
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["channel"] = "C1"
    forged = urlencode({"payload": json.dumps(payload)})
    team.post(forged, signed_headers(forged))
    said = reply_to(team, token)
    assert "Something went wrong (error id `" in said
    error_id = said.split("error id `")[1].split("`")[0]
    assert any(error_id in record.getMessage() for record in caplog.records)


def test_buttons_and_forms_an_older_gobot_posted_keep_working(team: SlackHarness) -> None:
    team.run("/go-start", "launch", user="U1")
    session = team.services.sessions.get("C1")
    assert session.id is not None
    _, token = team.click("go_snooze_1h", session.id)  # the bare session id
    assert "Reminders snoozed for 1h" in reply_to(team, token)
    team.click("go_step_complete", f"{session.id} 1 C1")  # "<session> <step> <channel>"
    assert team.fake.wait_for(lambda f: len(team.services.sessions.get("C1").playbook) == 1, SLOW)
    submit(team, "go_end_modal", "U1", f"C1 {session.id}", {"notes": "ok", "outcome": "aborted"})
    assert team.fake.wait_for(lambda f: not team.services.sessions.get("C1").active, SLOW)
    assert team.services.sessions.history(1)[0].outcome == "aborted"


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("go_end_session", "{not json"),
        ("go_take_over", '{"session_id": ""}'),
        ("go_snooze_30m", '{"session": "s1"}'),
        ("go_step_complete", '{"session_id": "s1"}'),
        ("go_window_cancel", '{"window_id": ["w1"]}'),
    ],
)
def test_a_button_value_gobot_never_made_is_refused_clearly(
    team: SlackHarness, action_id: str, value: str
) -> None:
    team.run("/go-start", "launch", user="U1")
    _, token = team.click(action_id, value)
    assert FORGED.split(":")[0] in reply_to(team, token)
    assert team.services.sessions.get("C1").active and not team.fake.calls_to("views.open")


def test_private_metadata_gobot_never_made_is_refused_beside_the_form(team: SlackHarness) -> None:
    team.run("/go-start", "launch", user="U1")
    answer = submit(team, "go_end_modal", "U1", '{"channel": "C1", "about": 5', {"notes": "x"})
    assert answer.json() == {"response_action": "errors", "errors": {"notes": FORGED[:150]}}
    assert team.services.sessions.get("C1").active
