"""The outbox against a failing Slack: 429 with Retry-After, 500s, and timeouts whose post did
land. Every message must arrive exactly once, in order, in the right thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.dev.fake_slack import Failure
from tests.bot.conftest import SlackHarness, block_text, posts
from tests.conftest import T0, FakeClock


def drain(slack: SlackHarness, clock: FakeClock, rounds: int = 12) -> None:
    for _ in range(rounds):
        clock.advance(timedelta(seconds=10))
        slack.tick()


def test_every_message_arrives_once_in_order_through_429_500_and_timeouts(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(slack_timeout="500ms", remind_after="60m", remind_every="60m")
    fake = slack.fake
    fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=1, times=2))
    fake.fail("chat.postMessage", Failure(status=500, error="internal_error"))
    fake.fail("chat.postMessage", Failure(delay=1.5, applied=True))  # lands, answer too late
    reply = slack.run("/go-start", "through the storm")
    assert "Slack has not taken the message yet" in reply
    drain(slack, clock, rounds=8)
    snapshots = [m for m in fake.messages.values() if m.thread_ts is None]
    assert len(snapshots) == 1, "the timed-out post landed: it must not be posted again"
    assert fake.calls_to("conversations.history"), "it was looked up before any new post"
    thread = snapshots[0].ts
    assert slack.services.sessions.get().message is not None

    clock.advance(timedelta(minutes=60))
    fake.fail("chat.postMessage", Failure(status=503, error="service_unavailable"))
    fake.fail("chat.postMessage", Failure(delay=1.5, applied=True))
    drain(slack, clock)
    slack.run("/go-end", "calm again")
    drain(slack, clock)

    replies = sorted(
        (m for m in fake.messages.values() if m.thread_ts == thread), key=lambda m: m.ts
    )
    kinds = [
        "playbook"
        if str(m.params.get("text")).startswith("GO playbook:")
        else "reminder"
        if "(reminder 1)" in block_text(m.params)
        else "summary"
        for m in replies
    ]
    # the end's update and summary: one owed item; the playbook message: posted once
    assert kinds == ["playbook", "reminder", "summary"]
    assert fake.calls_to("conversations.replies"), "the timed-out reminder was looked up"
    assert len(posts(fake, "chat.update")) == 1
    assert fake.messages[(snapshots[0].channel, thread)].updates
    assert slack.services.outbox.depth() == 0


def test_snooze_button_moves_the_next_reminder(slack: SlackHarness, clock: FakeClock) -> None:
    slack.run("/go-start", "launch")
    session = slack.services.sessions.get()
    _, token = slack.click("go_snooze_2h", str(session.id), user="U2")
    assert slack.fake.wait_for(lambda f: any(c.method == token for c in f.responses))
    reply = next(c.params for c in slack.fake.responses if c.method == token)
    assert "Reminders snoozed for 2h" in block_text(reply)
    assert slack.services.sessions.get().reminder.next_due_utc == T0 + timedelta(hours=2)
    clock.advance(timedelta(minutes=61))
    slack.tick()
    assert not [c for c in posts(slack.fake) if c.params.get("thread_ts")]


def test_escalated_reminders_are_broadcast_to_the_channel(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(remind_after="60m", remind_every="60m", escalate_after="90m")
    slack.run("/go-start", "launch", user="U1")
    for _ in range(2):
        clock.advance(timedelta(minutes=60))
        slack.tick()
    reminders = [c for c in posts(slack.fake) if c.params.get("thread_ts")]
    assert [c.params.get("reply_broadcast") for c in reminders] == [False, True]
    assert "Escalation" in block_text(reminders[1].params)


def test_a_background_give_up_reaches_the_operator_ephemerally(
    slack: SlackHarness, clock: FakeClock
) -> None:
    slack.fake.fail("chat.postMessage", Failure(status=500, error="internal_error"))
    response = slack.command("/go-start", "launch")
    assert "Slack has not taken the message yet" in block_text(slack.reply(response))
    slack.fake.fail("chat.postMessage", Failure(error="not_in_channel"))
    clock.advance(timedelta(seconds=5))
    slack.tick()
    token = response.token  # type: ignore[attr-defined]
    told = [c.params for c in slack.fake.responses if c.method == token][1:]
    assert len(told) == 1 and "not_in_channel" in told[0]["text"]
    assert told[0]["response_type"] == "ephemeral" and "/invite @gobot" in told[0]["text"]
    assert slack.services.sessions.get().active
    assert slack.services.outbox.depth() == 2  # with its playbook message: they wait, told once
    clock.advance(timedelta(minutes=10))
    slack.tick()
    assert len([c for c in slack.fake.responses if c.method == token]) == 2


def test_a_post_that_lands_after_the_end_is_where_history_says_it_is(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(api_key="test-api-key-not-real", channel="C1")
    slack.fake.fail("chat.postMessage", Failure(status=500, error="internal_error", times=3))
    assert "Slack has not taken the message yet" in slack.run("/go-start", "slack is down")
    slack.run("/go-end", "ended before its post landed")
    ended = slack.services.sessions.get()
    assert ended.message is None  # the record was kept before the post landed
    drain(slack, clock)
    [post] = [m for m in slack.fake.messages.values() if m.thread_ts is None]
    listed = slack.http.get("/core/go/sessions", headers={"X-API-Key": "test-api-key-not-real"})
    [row] = listed.json()["sessions"]
    assert row["message"] == {"channel": post.channel, "ts": post.ts}
    assert slack.services.sessions.history(1)[0].message is not None
    assert slack.services.reports.report(session_id=ended.id).session.message is not None
