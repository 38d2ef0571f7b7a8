from __future__ import annotations

import errno
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import FakeSlack
from bot.dev.slack_requests import view_submission_body
from bot.slack.capability import Place, SessionButton
from tests import slow_sources
from tests.bot.conftest import SlackHarness, block_text, playbook_calls, posts, signed_headers
from tests.conftest import FakeClock, write_json
from tests.faults import FULL_DISK, FaultyOs, fail_with


def audit_events(data_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]


def test_start_posts_snapshot_and_records_its_message(slack: SlackHarness) -> None:
    reply = slack.run("/go-start", "deploy v2.1", user="U1", channel="C1")
    assert "GO session started; snapshot posted" in reply
    post = slack.fake.wait_for_calls("chat.postMessage")[0]
    assert post.params["channel"] == "C1"
    assert post.headers["authorization"] == "Bearer xoxb-test-not-a-real-token"
    text = block_text(post.params)
    for expected in (
        "GO session started",
        "`A` KPIs green",
        ":large_green_circle: green",
        "error_rate",
        "deploy v2.1",
        "<@U1>",
        "2026-01-01T09:00:00Z",  # the Slack date's fallback, to the second
    ):
        assert expected in text
    buttons = [e for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    session = slack.services.sessions.get()
    assert session.id is not None
    value = SessionButton(session_id=session.id).value()
    assert json.loads(value) == {"session_id": session.id}
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("go_end_session", value),
        ("go_snooze_30m", value),
        ("go_snooze_1h", value),
        ("go_snooze_2h", value),
        ("go_take_over", value),
    ]
    assert session.message is not None and session.message.channel == "C1"
    assert session.message.ts == slack.fake.messages[("C1", session.message.ts)].ts


def test_second_start_is_refused_ephemerally_with_no_second_post(slack: SlackHarness) -> None:
    slack.run("/go-start", "first", user="U1")
    reply = slack.run("/go-start", "second", user="U2", channel="C2")
    assert "already active" in reply and "started by <@U1> in <#C1>" in reply
    assert len(posts(slack.fake)) == 1


def test_end_updates_the_message_in_place_and_replies_in_thread(
    slack: SlackHarness, data_dir: Path
) -> None:
    slack.run("/go-start", "go")
    message = slack.services.sessions.get().message
    assert message is not None
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db down"]})
    reply = slack.run("/go-end", "rolled back", user="U2")
    assert "GO session ended; summary posted" in reply
    update = slack.fake.wait_for_calls("chat.update")[0]
    assert (update.params["channel"], update.params["ts"]) == (message.channel, message.ts)
    assert "GO session ended" in block_text(update.params)
    assert not [b for b in update.params["blocks"] if b["type"] == "actions"]
    summary = posts(slack.fake)[-1]
    assert summary.params["thread_ts"] == message.ts
    text = block_text(summary.params)
    assert "<@U2>" in text and "rolled back" in text and "health green → red" in text


def test_end_with_no_session_is_refused(slack: SlackHarness) -> None:
    assert "no active GO session" in slack.run("/go-end", "done")
    assert posts(slack.fake) == []


def test_end_button_opens_the_end_form_for_its_own_session(slack: SlackHarness) -> None:
    slack.run("/go-start", "launch")
    session = slack.services.sessions.get()
    response, _ = slack.click("go_end_session", str(session.id), user="U3")
    assert response.status_code == 200
    [opened] = slack.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "go_end_modal"
    assert Place.model_validate_json(view["private_metadata"]) == Place(
        channel="C1", about=session.id
    )
    assert slack.services.sessions.get().active  # the click itself ends nothing
    slack.run("/go-end", "done")
    slack.run("/go-start", "again")
    form = {"notes": "x", "outcome": "aborted"}
    body = view_submission_body("go_end_modal", "U3", view["private_metadata"], form)
    slack.post(body, signed_headers(body))
    [refusal] = slack.fake.wait_for_calls("chat.postEphemeral")
    assert "already ended" in block_text(refusal.params)  # the form ends only its session
    newer = slack.services.sessions.get()
    assert newer.active and newer.notes == "again"
    body = view_submission_body("go_end_modal", "U3", f"C1 {newer.id}", form)
    slack.post(body, signed_headers(body))
    slack.fake.wait_for_calls("chat.postEphemeral", 2)
    ended = slack.services.sessions.history(1)[0]
    assert ended.id == newer.id and ended.ended_by == "U3" and ended.outcome == "aborted"


def test_a_strangers_end_button_opens_no_form(
    make_harness: Callable[..., SlackHarness],
) -> None:
    slack = make_harness(operators=["U1"])
    slack.run("/go-start", "launch")
    session = slack.services.sessions.get()
    _, token = slack.click("go_end_session", str(session.id), user="UNOBODY")
    assert slack.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    reply = next(c.params for c in slack.fake.responses if c.method == token)
    assert "Only gobot operators may end a GO session" in block_text(reply)
    assert "views.open" not in [c.method for c in slack.fake.calls]
    assert slack.services.sessions.get().active


def test_stale_end_button_does_not_end_a_newer_session(slack: SlackHarness) -> None:
    slack.run("/go-start", "launch")
    old = slack.services.sessions.get()
    slack.run("/go-end", "done")
    slack.run("/go-start", "launch")
    _, token = slack.click("go_end_session", str(old.id))
    assert slack.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    reply = next(c.params for c in slack.fake.responses if c.method == token)
    assert "already ended" in block_text(reply)
    assert slack.services.sessions.get().active


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/go-session", "", "No GO session yet"),
        ("/go-checklist", "", "no active GO session: each session runs these steps afresh"),
        ("/go-next", "", "No active GO session: the playbook runs with a session"),
        ("/go-history", "", "No ended GO sessions yet"),
        ("/go", "help", "/go start [notes]"),
        ("/go", "", "gobot commands"),
    ],
)
def test_read_commands(slack: SlackHarness, command: str, text: str, expected: str) -> None:
    assert expected in slack.run(command, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start notes here", "GO session started"),
        ("session", "No GO session yet"),
        ("checklist", "no active GO session"),
        ("next", "No active GO session"),
        ("history 3", "No ended GO sessions"),
        ("complete 1 ok", "no active GO session to complete a step of"),
        ("HELP", "gobot commands"),
    ],
)
def test_umbrella_routes_to_the_same_handlers(
    slack: SlackHarness, text: str, expected: str
) -> None:
    assert expected in slack.run("/go", text)


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/go", "launch", "Unknown subcommand `launch`"),
        ("/go", "<!channel>", "Unknown subcommand `&lt;!channel&gt;`"),
        (
            "/go-complete",
            "",
            "Usage: `/go-complete <step> [notes]`".replace("<", "&lt;").replace(">", "&gt;"),
        ),
        ("/go-complete", "42", "There is no step '42'"),
        ("/go-history", "abc", "n from 1 to 20"),
        ("/go-history", "21", "n from 1 to 20"),
        ("/go-start", "x" * 2001, "the limit is 2000"),
    ],
)
def test_bad_arguments_get_a_short_usage_message(
    slack: SlackHarness, command: str, text: str, expected: str
) -> None:
    assert expected in slack.run(command, text)
    assert posts(slack.fake) == []


def test_complete_next_and_checklist_flow(slack: SlackHarness, data_dir: Path) -> None:
    slack.run("/go-start", "launch")
    assert "Next step 1/9:* Confirm cone band and health" in slack.run("/go-next")
    assert "0/9 done" in slack.run("/go-checklist")
    assert "Next: *2. Freeze unrelated changes*" in slack.run("/go-complete", "1 looks good")
    assert "already done" in slack.run("/go-complete", "health")
    assert "1/9 done" in slack.run("/go-checklist")
    report = slack.run("/go-report")  # the notes given with a step are in the report
    assert "1. Confirm cone band and health: done by <@U1> at <!date^" in report
    assert "; notes: looks good\n- 2. Freeze unrelated changes: not done" in report
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["<!here> db"]})
    reply = slack.run("/go-complete", "2")
    assert "health is red (&lt;!here&gt; db)" in reply
    assert audit_events(data_dir)[-1]["event"] == "GO_STEP_BLOCKED"


def test_history_and_session_after_a_cycle(slack: SlackHarness) -> None:
    slack.run("/go-start", "first run")
    assert "Active GO session" in slack.run("/go-session")
    slack.run("/go-end", "done")
    history = slack.run("/go-history", "5")
    assert "*Last GO session*" in history and "first run" in history
    slack.run("/go-start", "second run")
    slack.run("/go-end", "done")
    assert "*Last 2 GO sessions*" in slack.run("/go-history", "5")


def test_user_text_is_escaped_everywhere_it_is_rendered(slack: SlackHarness) -> None:
    evil = "<!channel> <https://evil.example|click> & <@U999> <!subteam^S1>"
    slack.run("/go-start", evil)
    post = slack.fake.wait_for_calls("chat.postMessage")[0]
    raw = json.dumps(post.params["blocks"])
    assert "<!channel>" not in raw and "<https://evil" not in raw and "<@U999>" not in raw
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U999&gt;" in raw
    assert "<!channel>" not in post.params["text"]


def test_long_notes_are_truncated_with_a_visible_marker(slack: SlackHarness) -> None:
    slack.run("/go-start", "&" * 2000)
    post = slack.fake.wait_for_calls("chat.postMessage")[0]
    notes = next(
        b["text"]["text"]
        for b in post.params["blocks"]
        if b["type"] == "section" and "text" in b and "*Notes*" in b["text"]["text"]
    )
    assert len(notes) <= 3000 and notes.endswith("… (truncated)")
    assert notes.removesuffix("… (truncated)").endswith("&amp;")


def test_operators_only_and_denials_are_audited(
    make_harness: Callable[..., SlackHarness], data_dir: Path
) -> None:
    slack = make_harness(operators=["U1"], admins=["UADMIN"])
    reply = slack.run("/go-start", "launch", user="U2")
    assert "Only gobot operators may start a GO session" in reply
    assert posts(slack.fake) == []
    denied = audit_events(data_dir)[-1]
    assert denied["event"] == "GO_COMMAND_DENIED" and denied["actor"] == "U2"
    assert "No GO session yet" in slack.run("/go-session", user="U2")
    assert "GO session started" in slack.run("/go-start", "launch", user="U1")
    assert "Only gobot admins may reset the playbook" in slack.run("/go", "reset", user="U1")
    assert "playbook run is reset" in slack.run("/go", "reset", user="UADMIN")
    assert "GO session ended" in slack.run("/go-end", "done", user="UADMIN")


def test_user_groups_are_resolved_through_the_web_api_and_cached(
    make_harness: Callable[..., SlackHarness], fake_slack: FakeSlack
) -> None:
    fake_slack.usergroups["SOPS"] = ["U7", "U8"]
    slack = make_harness(operators=["SOPS"])
    assert "GO session started" in slack.run("/go-start", "launch", user="U7")
    assert "GO session ended" in slack.run("/go-end", "done", user="U8")
    assert "Only gobot operators" in slack.run("/go-start", "launch", user="U9")
    lookups = fake_slack.calls_to("usergroups.users.list")
    assert len(lookups) == 1 and lookups[0].params["usergroup"] == "SOPS"


def test_group_lookup_failure_fails_closed(
    make_harness: Callable[..., SlackHarness], fake_slack: FakeSlack
) -> None:
    slack = make_harness(operators=["SMISSING"])
    assert "could not be checked" in slack.run("/go-start", "launch", user="U7")
    assert posts(fake_slack) == []


def test_burst_of_state_changes_is_rate_limited_but_never_an_end_or_a_refusal(
    slack: SlackHarness,
) -> None:
    commands = ["/go-start", "/go-end"] * 6
    replies = [slack.run(command, "burst", user="U1") for command in commands]
    assert ["Easy there" in reply for reply in replies] == [False] * 10 + [True, False]
    assert "no active GO session" in replies[-1]  # the end is not limited; nothing to end
    slack.drain()  # one channel: its burst, then a message a second
    assert len(posts(slack.fake)) == 10  # five snapshots and five end summaries
    for _ in range(6):  # refused attempts change nothing, so they do not count
        assert "There is no step" in slack.run("/go-complete", "42", user="U2")
    assert "GO session started" in slack.run("/go-start", "launch", user="U2")


def test_app_home_publishes_session_playbook_and_history(slack: SlackHarness) -> None:
    slack.run("/go-start", "home test")
    response = slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert response.status_code == 200
    publish = slack.fake.wait_for_calls("views.publish")[0]
    assert publish.params["user_id"] == "U1"
    view = publish.params["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    text = block_text(view)
    assert "Active GO session" in text and "0/9 steps" in text and "home test" in text
    buttons = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert [b["action_id"] for b in buttons] == ["go_step_complete"] * 9


@pytest.mark.parametrize(
    "tamper",
    ["no signature", "wrong secret", "old timestamp", "body changed after signing"],
)
def test_bad_signatures_get_401_and_change_nothing(
    slack: SlackHarness, data_dir: Path, tamper: str
) -> None:
    body, _ = slack.command_body("/go-start", "sneaky")
    headers = signed_headers(body)
    if tamper == "no signature":
        headers = {"Content-Type": headers["Content-Type"]}
    elif tamper == "wrong secret":
        headers = signed_headers(body, secret="guess")
    elif tamper == "old timestamp":
        headers = signed_headers(body, timestamp=int(time.time()) - 301)
    else:
        body = body.replace("sneaky", "sneakier")
    response = slack.post(body, headers)
    assert response.status_code == 401
    slack.settle()
    assert slack.fake.calls_to("chat.postMessage") == [] and slack.fake.responses == []
    assert not (data_dir / "go_session.json").exists()


def test_every_ack_is_immediate_while_a_burst_of_starts_waits_on_hanging_sources(
    make_harness: Callable[..., SlackHarness], held_health: str
) -> None:
    """More concurrent starts than Bolt has listener threads: the slow work must not hold up
    the acks of the commands behind it (every ack is in while every snapshot still hangs)."""
    slack = make_harness(health_source=held_health, source_timeout="1m", session_scope="channel")

    def start(n: int) -> Any:
        return slack.command("/go-start", "slow", user=f"U{n}", channel=f"C{n}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(start, range(12)))
    assert all(response.status_code == 200 for response in responses)
    assert slack.fake.responses == [] and posts(slack.fake) == []  # no work done yet
    slow_sources.RELEASE.set()
    for response in responses:
        assert "GO session started" in block_text(slack.reply(response, timeout=30))


def test_unexpected_error_gets_an_id_not_a_stack_trace(
    slack: SlackHarness, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (data_dir / "go_session.json").mkdir()
    reply = slack.run("/go-checklist")
    assert "Something went wrong (error id `" in reply
    assert "Traceback" not in reply and "IsADirectoryError" not in reply
    error_id = reply.split("error id `")[1].split("`")[0]
    assert any(error_id in record.getMessage() for record in caplog.records)


def test_post_failure_is_reported_and_the_session_kept(slack: SlackHarness, data_dir: Path) -> None:
    from bot.dev.fake_slack import Failure

    slack.fake.fail("chat.postMessage", Failure(error="not_in_channel"))
    reply = slack.run("/go-start", "launch")
    assert "could not be posted: `not_in_channel`" in reply and "/invite @gobot" in reply
    assert slack.services.sessions.get().active
    assert slack.services.outbox.depth() == 2  # the post and the playbook wait for the invite
    slack.run("/go-end", "done")
    slack.fake.fail("chat.postMessage", Failure(error="invalid_blocks"))  # can never succeed
    assert "could not be posted: `invalid_blocks`" in slack.run("/go-start", "launch")
    assert audit_events(data_dir)[-1]["event"] == "GO_POST_FAILED"


def test_rate_limited_post_waits_for_retry_after_and_lands_once(
    slack: SlackHarness, clock: FakeClock
) -> None:
    """The outbox, not the client, retries a 429: after Retry-After, and without holding a
    lease through the wait."""
    from bot.dev.fake_slack import Failure

    slack.fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=30))
    reply = slack.run("/go-start", "patience")
    assert "Slack has not taken the message yet" in reply
    clock.advance(timedelta(seconds=29))
    slack.tick()
    assert len(slack.fake.calls_to("chat.postMessage")) == 1  # not before Retry-After
    clock.advance(timedelta(seconds=1))
    slack.tick()
    # the 429, then the retry and the playbook message behind it (within the channel's burst)
    assert len(slack.fake.calls_to("chat.postMessage")) == 3
    assert len(slack.fake.messages) == 2
    assert slack.services.sessions.get().message is not None


def test_server_error_is_retried_by_the_outbox_and_lands_once(
    slack: SlackHarness, clock: FakeClock
) -> None:
    from bot.dev.fake_slack import Failure

    slack.fake.fail("chat.postMessage", Failure(status=500, error="internal_error"))
    reply = slack.run("/go-start", "launch")
    assert "Slack has not taken the message yet" in reply
    assert slack.services.sessions.get().active
    assert slack.services.outbox.depth() == 2  # the post, and the playbook message behind it
    clock.advance(timedelta(seconds=5))
    slack.tick()
    assert len(posts(slack.fake)) == 2
    clock.advance(timedelta(seconds=1))  # a message a second to one channel
    slack.tick()
    assert len(playbook_calls(slack.fake)) == 1
    assert len(slack.fake.messages) == 2 and slack.services.outbox.depth() == 0
    assert slack.services.sessions.get().message is not None


def test_an_end_typed_right_after_a_start_runs_after_it(
    make_harness: Callable[..., SlackHarness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start waits on a slow snapshot; the end behind it in the same channel must wait for
    it, and must update the start's post in place."""
    (tmp_path / "slowish_source_mod.py").write_text(
        "import time\ndef health():\n    time.sleep(0.4)\n    return {'status': 'green'}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    slack = make_harness(health_source="python:slowish_source_mod:health")
    start = slack.command("/go-start", "first", user="U1", channel="C1")
    end = slack.command("/go-end", "right after", user="U2", channel="C1")
    assert "GO session started" in block_text(slack.reply(start))
    assert "GO session ended" in block_text(slack.reply(end))
    ended = slack.services.sessions.get()
    assert not ended.active and ended.message is not None
    update = slack.fake.wait_for_calls("chat.update")[0]
    assert update.params["ts"] == ended.message.ts
    assert posts(slack.fake)[-1].params["thread_ts"] == ended.message.ts


def test_other_channels_do_not_wait(
    make_harness: Callable[..., SlackHarness], held_health: str
) -> None:
    slack = make_harness(health_source=held_health, source_timeout="1m", session_scope="channel")
    held = slack.command("/go-start", "slow", user="U1", channel="C1")
    assert "No GO session yet" in slack.run("/go-session", user="U2", channel="C2")
    assert not any(call.method == held.token for call in slack.fake.responses)  # C1 still waits
    slow_sources.RELEASE.set()
    assert "GO session started" in block_text(slack.reply(held))


def test_a_full_disk_is_told_to_the_operator_and_a_retry_works(
    slack: SlackHarness, faulty_os: Callable[[object], None]
) -> None:
    faulty_os(FaultyOs(1, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
    reply = slack.run("/go-start", "launch")
    assert "Not started: the data disk is full. Nothing changed" in reply
    assert "Nothing was lost" not in reply and "/tmp" not in reply
    faulty_os(os)  # space freed
    assert not slack.services.sessions.get().active and posts(slack.fake) == []
    assert "GO session started; snapshot posted" in slack.run("/go-start", "launch")
    assert len(posts(slack.fake)) == 1


def test_steps_out_of_order_are_said_plainly_and_a_step_can_be_reopened(
    slack: SlackHarness, data_dir: Path
) -> None:
    assert "no active GO session to complete" in slack.run("/go-complete", "1")
    slack.run("/go-start", "launch")
    assert "done (step 3 done before steps 1, 2)" in slack.run("/go-complete", "3")
    assert "is open again" in slack.run("/go", "reopen 3")
    assert "0/9 done" in slack.run("/go-checklist")
    assert audit_events(data_dir)[-1]["event"] == "GO_STEP_REOPENED"
    slack.run("/go-end", "done")
    slack.run("/go-start", "again")
    assert "0/9 done" in slack.run("/go-checklist")  # each session runs it afresh


def end_form_says(slack: SlackHarness, params: dict[str, Any]) -> str:
    """What the end form opened by a message's End session button says of the playbook."""
    buttons = [e for b in params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    end = next(button for button in buttons if button["action_id"] == "go_end_session")
    opened = len(slack.fake.calls_to("views.open"))
    slack.click("go_end_session", str(end["value"]))
    view = slack.fake.wait_for_calls("views.open", opened + 1)[-1].params["view"]
    return str(view["blocks"][0]["elements"][0]["text"])


def test_posts_show_the_playbook_and_end_asks_first(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(remind_after="1m", watch_every="24h")
    slack.run("/go-start", "launch")
    post = posts(slack.fake)[0]
    assert "Playbook:* 0/9 steps, next: *1. Confirm cone band and health*" in block_text(
        post.params
    )
    assert end_form_says(slack, post.params) == "9 of 9 playbook steps are still open."
    slack.run("/go-complete", "1")
    slack.run("/go-complete", "3")
    clock.advance(timedelta(minutes=2))
    slack.tick()
    reminder = posts(slack.fake)[-1]
    assert "Playbook:* 2/9 steps, next: *2. Freeze unrelated changes*" in block_text(
        reminder.params
    )
    assert end_form_says(slack, reminder.params) == "7 of 9 playbook steps are still open."
    slack.run("/go-end", "done")
    summary = block_text(posts(slack.fake)[-1].params)
    assert "Playbook:* 2/9 steps; not done: 2, 4, 5, 6, 7, 8, 9" in summary


def test_typed_end_says_how_many_steps_are_open_in_its_form_and_its_answer(
    slack: SlackHarness,
) -> None:
    """`/go-end` with no text: its form says what the End button's says (in good grammar);
    an empty outcome is completed; `/go-end notes` says how many steps were left open."""
    slack.run("/go-start", "launch")
    for number in range(1, 9):  # set-up (a burst of typed commands would be rate-limited)
        slack.services.playbook.complete(str(number), "U1", channel="C1")
    assert slack.command("/go-end", "").status_code == 200
    [opened] = slack.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["blocks"][0]["elements"][0]["text"] == "1 of 9 playbook steps is still open."
    [outcome] = [b for b in view["blocks"] if b.get("block_id") == "outcome"]
    assert outcome["optional"] is True and outcome["element"]["initial_option"]["value"] == (
        "completed"
    )
    assert Place.read(view["private_metadata"]) == Place(channel="C1")
    body = view_submission_body("go_end_modal", "U1", view["private_metadata"], {"outcome": ""})
    assert slack.post(body, signed_headers(body)).status_code == 200
    [answer] = slack.fake.wait_for_calls("chat.postEphemeral")
    assert "GO session ended" in block_text(answer.params)
    assert "1 of 9 playbook steps was left open." in block_text(answer.params)
    assert slack.services.sessions.history(1)[0].outcome == "completed"

    slack.run("/go-start", "again")
    slack.run("/go-complete", "1")
    ended = slack.run("/go-end", "done")
    assert "GO session ended" in ended and "8 of 9 playbook steps were left open." in ended


def test_a_429_pauses_every_message_until_retry_after_then_each_lands_once(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    """Slack's Retry-After is for the app, not only the refused message: nothing is posted
    before it, by a command or by a tick, in any channel; then every message lands once."""
    from bot.dev.fake_slack import Failure

    team = make_harness(session_scope="channel")
    team.fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=30))
    assert "Slack has not taken the message yet" in team.run("/go-start", "first", channel="C1")
    tried = len(team.fake.calls_to("chat.postMessage"))
    assert tried == 1  # the 429
    for channel in ("C2", "C3"):
        reply = team.run("/go-start", f"in {channel}", channel=channel)
        assert "GO session started" in reply and "Slack has not taken the message yet" in reply
    clock.advance(timedelta(seconds=29))
    team.tick()
    assert len(team.fake.calls_to("chat.postMessage")) == tried  # not before Retry-After
    for _ in range(10):  # each channel about one message a second
        clock.advance(timedelta(seconds=2))
        team.tick()
    posts = [c for c in team.fake.calls_to("chat.postMessage")][tried:]
    by_channel = Counter(str(c.params["channel"]) for c in posts)
    assert by_channel == {"C1": 2, "C2": 2, "C3": 2}  # each snapshot and playbook message once
    assert team.services.outbox.depth() == 0
