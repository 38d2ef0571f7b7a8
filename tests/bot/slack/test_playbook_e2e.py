"""The playbook run as the team sees it: one message in the session's thread, edited in place,
with a Complete button per open step and a Reopen button (asking first) per done one; App Home
with the same buttons. Signed requests into the real HTTP app, the loopback Slack out, on both
stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import Failure, FakeSlack, Message
from tests.bot.conftest import SlackHarness, block_text, is_playbook, slack_date
from tests.conftest import FakeClock, audit_records, write_json


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(**store_settings)


def playbook_messages(fake: FakeSlack, channel: str = "C1") -> list[Message]:
    """The playbook messages that landed in a channel, oldest first."""
    found = [m for m in fake.messages.values() if m.channel == channel and is_playbook_post(m)]
    return sorted(found, key=lambda m: m.ts)


def is_playbook_post(message: Message) -> bool:
    return str(message.params.get("text", "")).startswith("GO playbook:")


def shown(message: Message) -> dict[str, Any]:
    """What the message shows now: its last edit, or as posted."""
    return message.updates[-1] if message.updates else message.params


def step_buttons(params: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each step's button by step number (none once the session has ended)."""
    steps = [b for b in params["blocks"] if b["type"] == "section"][1:]
    return {n: b["accessory"] for n, b in enumerate(steps, start=1) if "accessory" in b}


def press(
    team: SlackHarness, message: Message, number: int, user: str = "U1", channel: str = "C1"
) -> str:
    """Click step `number`'s button on the message as it shows now; the response_url token."""
    button = step_buttons(shown(message))[number]
    response, token = team.click(
        button["action_id"], button["value"], user=user, channel=channel, message_ts=message.ts
    )
    assert response.status_code == 200
    return token


def edited(fake: FakeSlack, message: Message, count: int) -> None:
    assert fake.wait_for(lambda f: len(message.updates) >= count), "the message was not edited"


def answered(fake: FakeSlack, token: str) -> str:
    assert fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    return block_text(next(c.params for c in fake.responses if c.method == token))


def events(team: SlackHarness) -> list[tuple[str, str]]:
    return [(r["event"], r["actor"]) for r in audit_records(team.services)]


def test_a_launch_completed_by_slash_and_button_edits_one_message_and_ends_with_its_progress(
    team: SlackHarness,
) -> None:
    fake = team.fake
    assert "GO session started" in team.run("/go-start", "launch")
    [message] = playbook_messages(fake)
    post = next(m for m in fake.messages.values() if m.thread_ts is None)
    assert message.thread_ts == post.ts  # in the session's thread
    assert "0/9 steps" in block_text(shown(message))
    buttons = step_buttons(shown(message))
    assert [b["text"]["text"] for b in buttons.values()] == ["Complete"] * 9

    assert "Step *1. Confirm cone band and health* done" in team.run("/go-complete", "1 read")
    edited(fake, message, 1)
    text = block_text(shown(message))
    assert "1/9 steps" in text and "_read_" in text
    assert f"<@U1> at {slack_date('2026-01-01T09:00:00Z')}" in text
    assert "*Playbook:* 1/9 steps, next: *2. Freeze" in block_text(shown(post))  # the post too

    press(team, message, 3, user="U2")  # out of order, by another operator
    edited(fake, message, 2)
    assert "2/9 steps" in block_text(shown(message))
    reopen = step_buttons(shown(message))[3]
    assert reopen["text"]["text"] == "Reopen" and reopen["confirm"]["title"]["text"]
    press(team, message, 3, user="U1")  # the undo
    edited(fake, message, 3)
    assert "1/9 steps" in block_text(shown(message))
    assert step_buttons(shown(message))[3]["text"]["text"] == "Complete"
    assert [e for e in events(team) if e[0].startswith("GO_STEP")] == [
        ("GO_STEP_COMPLETE", "U1"),
        ("GO_STEP_COMPLETE", "U2"),
        ("GO_STEP_REOPENED", "U1"),
    ]

    assert "GO session ended" in team.run("/go-end", "done")
    edited(fake, message, 4)
    final = shown(message)
    assert step_buttons(final) == {} and "(the session has ended)" in block_text(final)
    summary = next(m for m in fake.messages.values() if "Session ended" in block_text(m.params))
    assert "1/9 steps; not done: 2, 3, 4, 5, 6, 7, 8, 9" in block_text(summary.params)
    assert len(playbook_messages(fake)) == 1  # edited in place, never posted again
    edits = [c for c in fake.calls_to("chat.update") if is_playbook(c)]
    assert {c.params["ts"] for c in edits} == {message.ts} and len(edits) == 4

    assert "GO session started" in team.run("/go-start", "second launch")
    first, second = playbook_messages(fake)
    assert first is message and "0/9 steps" in block_text(shown(second))
    stale = step_buttons(message.updates[0])[2]  # a button of the first session, still shown
    old = team.click(stale["action_id"], stale["value"], message_ts=message.ts)[1]
    assert "has ended" in answered(fake, old)
    assert team.services.playbook.checklist("C1").completed == 0


def test_red_health_refuses_the_button_as_it_refuses_the_command(
    team: SlackHarness, data_dir: Path
) -> None:
    team.run("/go-start", "launch")
    [message] = playbook_messages(team.fake)
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db lag"]})
    refused = answered(team.fake, press(team, message, 1))
    assert "was not completed: health is red (db lag)" in refused
    assert "was not completed: health is red (db lag)" in team.run("/go-complete", "1")
    assert message.updates == [] and team.services.playbook.checklist("C1").completed == 0
    assert [e for e, _ in events(team)].count("GO_STEP_BLOCKED") == 2


def test_a_stranger_cannot_press_the_buttons(make_harness: Callable[..., SlackHarness]) -> None:
    team = make_harness(operators=["U1"])
    team.run("/go-start", "launch", user="U1")
    [message] = playbook_messages(team.fake)
    assert "Only gobot operators may" in answered(team.fake, press(team, message, 1, user="UEVE"))
    assert message.updates == [] and team.services.playbook.checklist("C1").completed == 0


def test_in_channel_scope_each_channel_has_its_own_run_and_message(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]
) -> None:
    team = make_harness(session_scope="channel", **store_settings)
    for channel in ("C1", "C2"):
        team.run("/go-start", f"launch in {channel}", channel=channel)
    [one] = playbook_messages(team.fake, "C1")
    [two] = playbook_messages(team.fake, "C2")
    press(team, two, 1, channel="C2")
    edited(team.fake, two, 1)
    assert "1/9 steps" in block_text(shown(two)) and one.updates == []
    assert team.services.playbook.checklist("C1").completed == 0
    assert team.services.playbook.checklist("C2").completed == 1


def test_app_home_shows_the_run_with_the_same_buttons_and_answers_on_the_page(
    team: SlackHarness, data_dir: Path
) -> None:
    fake = team.fake
    team.run("/go-start", "launch")
    [message] = playbook_messages(fake)
    team.event({"type": "app_home_opened", "user": "U2", "tab": "home"})
    home = fake.wait_for_calls("views.publish")[0].params
    buttons = [b["accessory"] for b in home["view"]["blocks"] if "accessory" in b]
    assert buttons == list(step_buttons(shown(message)).values())  # the same buttons
    team.click(buttons[0]["action_id"], buttons[0]["value"], user="U2", on_home=True)
    edited(fake, message, 1)  # the thread's message follows
    again = fake.wait_for_calls("views.publish", 2)[1].params
    assert again["user_id"] == "U2" and "1/9 steps" in block_text(again["view"])
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db lag"]})
    team.click(buttons[1]["action_id"], buttons[1]["value"], user="U2", on_home=True)
    refused = fake.wait_for_calls("views.publish", 3)[2].params
    assert "health is red (db lag)" in block_text(refused["view"])  # said on the page itself
    assert all("db lag" not in str(r.params) for r in fake.responses)  # no response_url


@pytest.mark.parametrize("error", ["message_not_found", "edit_window_closed"])
def test_a_playbook_message_that_cannot_be_edited_is_posted_again(
    team: SlackHarness, error: str
) -> None:
    team.run("/go-start", "launch")
    team.fake.fail("chat.update", Failure(error=error, times=2))  # the post and the message
    team.run("/go-complete", "1")
    assert team.fake.wait_for(lambda f: len(playbook_messages(f)) == 2)
    old, new = playbook_messages(team.fake)
    assert new.thread_ts == old.thread_ts and "1/9 steps" in block_text(new.params)
    team.run("/go-complete", "2")  # later edits go to the new message
    edited(team.fake, new, 1)
    assert "2/9 steps" in block_text(shown(new))


def test_an_edit_whose_answer_is_lost_is_retried_and_the_last_state_wins(
    team: SlackHarness, clock: FakeClock
) -> None:
    team.run("/go-start", "launch")
    [message] = playbook_messages(team.fake)
    team.fake.fail("chat.update", Failure(status=500, error="internal_error", applied=True))
    reply = team.run("/go-complete", "1")
    assert "done" in reply and "could not be updated" not in reply  # it is retried, not lost
    team.run("/go-complete", "2")  # owed while the first edit waits: only the newest is sent
    clock.advance(timedelta(seconds=5))
    team.tick()
    assert "2/9 steps" in block_text(shown(message)) and len(playbook_messages(team.fake)) == 1
    assert team.services.outbox.depth() == 0


def test_a_playbook_post_whose_answer_was_lost_is_found_not_posted_again(
    team: SlackHarness, clock: FakeClock
) -> None:
    """The playbook message lands but its answer is lost; a completion owes a newer state
    before the retry: the message that landed is found and edited, not posted again."""
    lost = Failure(status=500, error="internal_error", applied=True, after=1)  # after the post
    team.fake.fail("chat.postMessage", lost)
    team.run("/go-start", "launch")
    [message] = playbook_messages(team.fake)  # it landed; gobot does not know where
    clock.advance(timedelta(seconds=1))
    team.run("/go-complete", "1")
    clock.advance(timedelta(seconds=5))
    team.tick()
    assert playbook_messages(team.fake) == [message]
    assert "1/9 steps" in block_text(shown(message))
    assert team.services.outbox.depth() == 0


def test_a_button_of_another_channels_live_session_says_where_it_belongs(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]
) -> None:
    team = make_harness(session_scope="channel", **store_settings)
    team.run("/go-start", "launch in C2", channel="C2")
    [theirs] = playbook_messages(team.fake, "C2")
    forged = answered(team.fake, press(team, theirs, 1, channel="C1"))  # no session in C1
    assert forged == (
        ":warning: That button belongs to the GO session in <#C2>: use it there. Nothing changed."
    )
    team.run("/go-start", "launch in C1", channel="C1")
    again = answered(team.fake, press(team, theirs, 1, channel="C1"))  # C1's own is live
    assert "belongs to the GO session in <#C2>" in again
    assert team.services.playbook.checklist("C2").completed == 0
    assert team.services.playbook.checklist("C1").completed == 0
