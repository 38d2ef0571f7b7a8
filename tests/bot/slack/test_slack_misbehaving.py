"""Slack on a bad day, through the loopback Slack: answers that do not prove a post failed,
pages of other people's messages, refusals that heal, posts that are gone, absurd Retry-After
values, an outage with reminders piling up, and the bot invited after the fact."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.dev.fake_slack import Failure, FakeSlack
from tests.bot.conftest import SlackHarness, block_text, posts
from tests.conftest import FakeClock, audit_records, wait_until


def outbox_ids(fake: FakeSlack) -> Counter[str]:
    """How many messages landed in Slack for each outbox item."""
    return Counter(
        str(metadata.get("event_payload", {}).get("outbox_id"))
        for message in list(fake.messages.values())
        if isinstance(metadata := message.params.get("metadata"), dict)
    )


def landed(fake: FakeSlack) -> list[dict[str, object]]:
    """What reached the channels, in order (the posts Slack kept)."""
    return [message.params for message in sorted(fake.messages.values(), key=lambda m: m.ts)]


def drain(slack: SlackHarness, clock: FakeClock, ticks: int = 12) -> None:
    for _ in range(ticks):
        clock.advance(timedelta(seconds=31))
        slack.tick()


@pytest.mark.parametrize(
    "answer",
    [
        Failure(status=500, error="internal_error", applied=True),
        Failure(status=200, error="internal_error", applied=True),
        Failure(status=503, raw=b"<html>upstream gone</html>", applied=True),
        Failure(status=200, raw=b"<html><body>proxy says hi</body></html>", applied=True),
        Failure(status=200, raw=b"{not json", applied=True),
    ],
    ids=["500", "200-internal_error", "503-html", "200-html", "200-bad-json"],
)
def test_an_answer_that_does_not_prove_a_failure_is_looked_up_not_reposted(
    slack: SlackHarness, clock: FakeClock, answer: Failure
) -> None:
    slack.fake.fail("chat.postMessage", answer)
    reply = slack.run("/go-start", "launch")
    assert "GO session started" in reply and "Something went wrong" not in reply
    drain(slack, clock)
    assert list(outbox_ids(slack.fake).values()) == [1, 1]  # the post that landed, its playbook
    assert slack.services.sessions.get().message is not None
    assert slack.fake.calls_to("conversations.history")  # it looked before posting again


def test_the_look_up_pages_through_a_busy_channel(slack: SlackHarness, clock: FakeClock) -> None:
    slack.fake.fail("chat.postMessage", Failure(status=500, applied=True))
    slack.run("/go-start", "launch")
    for n in range(450):  # the channel moves on before the retry
        slack.fake.post_directly("C1", f"chatter {n}")
    drain(slack, clock)
    assert list(outbox_ids(slack.fake).values()) == [1, 1]
    lookups = slack.fake.calls_to("conversations.history")
    assert len(lookups) >= 3 and all(float(c.params["oldest"]) > 0 for c in lookups)


@pytest.mark.parametrize("error", ["token_revoked", "account_inactive", "missing_scope"])
def test_a_refusal_that_can_heal_waits_is_told_once_and_lands_once(
    slack: SlackHarness, clock: FakeClock, error: str
) -> None:
    slack.fake.fail("chat.postMessage", Failure(error=error, times=6))
    reply = slack.run("/go-start", "launch")
    assert error in reply and "waits" in reply
    drain(slack, clock, ticks=4)
    assert slack.services.delivery is not None
    assert slack.services.delivery.waiting() == Counter({error: 1})
    health = slack.http.get("/healthz").json()
    assert health["slack_waiting"] == {error: 1}
    drain(slack, clock, ticks=30)  # the admin reinstalled the app meanwhile
    assert list(outbox_ids(slack.fake).values()) == [1, 1]
    assert slack.services.delivery.waiting() == Counter()
    told = [r for r in slack.fake.responses if error in block_text(r.params)]
    assert len(told) == 1  # the reply to /go-start; no ephemeral nagging after it


@pytest.mark.parametrize(
    ("error", "in_thread"), [("message_not_found", False), ("edit_window_closed", True)]
)
def test_the_summary_reaches_the_channel_when_the_post_cannot_be_updated(
    slack: SlackHarness, error: str, in_thread: bool
) -> None:
    slack.run("/go-start", "launch")
    slack.fake.fail("chat.update", Failure(error=error))
    assert "summary posted" in slack.run("/go-end", "done")
    summary = posts(slack.fake)[-1]
    assert "Session ended" in block_text(summary.params)
    assert bool(summary.params.get("thread_ts")) is in_thread


def test_an_absurd_retry_after_is_capped(slack: SlackHarness, clock: FakeClock) -> None:
    slack.fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=1e11))
    slack.run("/go-start", "launch")
    clock.advance(timedelta(minutes=5, seconds=1))
    slack.tick()
    assert len(posts(slack.fake)) == 2 or list(outbox_ids(slack.fake).values()) == [1]
    assert slack.services.sessions.get().message is not None


def test_reminders_owed_through_an_outage_arrive_as_one(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(remind_after="10s", remind_every="10s", watch_every="24h")
    slack.run("/go-start", "launch")
    slack.fake.fail("chat.postMessage", Failure(status=503, error="service_unavailable", times=8))
    for _ in range(8):  # a minute and more of outage, a reminder due every 10 s
        clock.advance(timedelta(seconds=10))
        slack.tick()
    drain(slack, clock, ticks=1)
    reminders = [params for params in landed(slack.fake) if "reminder" in block_text(params)]
    assert len(reminders) == 1, [block_text(params)[:60] for params in reminders]


def test_an_escalation_without_a_thread_is_not_a_broadcast(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(remind_after="1m", escalate_after="1m", watch_every="24h")
    slack.fake.fail("chat.postMessage", Failure(error="invalid_blocks"))  # the snapshot is lost
    slack.run("/go-start", "launch")
    clock.advance(timedelta(minutes=2))
    slack.tick()  # the playbook message, standing alone too
    clock.advance(timedelta(seconds=1))
    slack.tick()  # a message a second to one channel
    reminder = posts(slack.fake)[-1]
    assert "Escalation" in block_text(reminder.params)
    assert "reply_broadcast" not in reminder.params and not reminder.params.get("thread_ts")


def test_once_the_bot_is_invited_the_owed_snapshot_is_posted(
    slack: SlackHarness, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.fail("chat.postMessage", Failure(error="not_in_channel"))
    reply = slack.run("/go-start", "launch")
    assert "not_in_channel" in reply and "/invite @gobot" in reply
    clock.advance(timedelta(seconds=5))  # someone invites the bot
    joined = {"type": "member_joined_channel", "user": "UBOT", "channel": "C1"}
    slack.event({**joined, "user": "USOMEONE"}, event_id="EvOther")  # not the bot: nothing
    slack.settle()
    assert not outbox_ids(fake_slack)
    slack.event(joined, event_id="EvJoin")
    assert fake_slack.wait_for(lambda f: len(outbox_ids(f)) == 2)  # the post, its playbook
    assert list(outbox_ids(fake_slack).values()) == [1, 1]
    # the post is recorded on the session just after it lands
    wait_until(lambda: slack.services.sessions.get().message is not None, what="the post kept")


def test_running_start_again_after_the_invite_posts_the_owed_snapshot(
    slack: SlackHarness, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("chat.postMessage", Failure(error="not_in_channel"))
    assert "not_in_channel" in slack.run("/go-start", "launch")
    reply = slack.run("/go-start", "launch")  # invited meanwhile, as the reply said
    assert "its snapshot had not been posted; posted it now" in reply
    assert list(outbox_ids(fake_slack).values()) == [1, 1]
    assert "already active" in slack.run("/go-start", "again")  # now it is just active


def test_soak_every_owed_message_lands_once_in_order(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    """Minutes of simulated time with Slack answering 429, 5xx, timeouts and HTML pages, many
    of them after the post landed: every owed message arrives once, in order per session."""
    slack = make_harness(session_scope="channel", remind_after="2m", remind_every="2m")
    rng = random.Random(20261125)
    kinds = [
        Failure(status=429, error="ratelimited", retry_after=3),
        Failure(status=500, error="internal_error", applied=True),
        Failure(status=502, raw=b"<html>bad gateway</html>", applied=True),
        Failure(status=200, raw=b"<html>captive portal</html>", applied=True),
        Failure(status=500, error="internal_error"),
    ]
    channels = [f"C{n}" for n in range(6)]
    for minute in range(12):
        for _ in range(3):
            kind = rng.choice(kinds)
            slack.fake.fail(rng.choice(["chat.postMessage", "chat.update"]), kind)
        channel = channels[minute % len(channels)]
        user = f"U{minute % len(channels)}"  # one operator per channel
        if minute < 6:
            assert "started" in slack.run("/go-start", f"soak {minute}", user, channel)
        else:
            assert "ended" in slack.run("/go-end", f"soak {minute}", user, channel)
        for _ in range(4):
            clock.advance(timedelta(seconds=15))
            slack.tick()
    drain(slack, clock, ticks=40)
    counts = outbox_ids(slack.fake)
    assert counts and all(count == 1 for count in counts.values()), counts
    by_channel: dict[str, list[str]] = defaultdict(list)
    for params in landed(slack.fake):
        if not params.get("thread_ts") or "Session ended" in block_text(params):
            by_channel[str(params["channel"])].append(block_text(params))
    failed = [r for r in audit_records(slack.services) if r["event"] == "GO_POST_FAILED"]
    assert failed == []
    for channel in channels:
        texts = by_channel[channel]
        assert texts and "GO session started" in texts[0], (channel, texts[:2])
        assert "Session ended" in texts[-1], (channel, texts[-1][:80])
