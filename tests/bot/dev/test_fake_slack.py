"""bot/dev/fake_slack.py: the loopback Slack that `gobot local` and the tests talk to, driven by
the real `slack_sdk.WebClient`: it keeps what is posted, answers as Slack does for what it does
not know, pages conversations, and fails as it is told (once, after some calls, or applied)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.dev.fake_slack import Failure, FakeSlack


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """One server for the module (each test uses channels of its own)."""
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> Iterator[WebClient]:
    yield WebClient(token="xoxb-test-not-a-real-token", base_url=fake.api_url, timeout=5)
    fake.heal()


def error_of(call: object) -> str:
    assert isinstance(call, SlackApiError)
    return str(call.response["error"])


def test_a_post_is_kept_updated_and_read_back(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="CPOST", text="hello")
    ts = str(posted["ts"])
    reply = client.chat_postMessage(channel="CPOST", text="in thread", thread_ts=ts)
    client.chat_update(channel="CPOST", ts=ts, text="hello again")
    message = fake.messages[("CPOST", ts)]
    assert message.params["text"] == "hello" and message.thread_ts is None
    assert [u["text"] for u in message.updates] == ["hello again"]
    assert fake.messages[("CPOST", str(reply["ts"]))].thread_ts == ts
    history = client.conversations_history(channel="CPOST")
    assert [m["ts"] for m in history["messages"]] == [ts]  # top level only
    replies = client.conversations_replies(channel="CPOST", ts=ts)
    assert [m["text"] for m in replies["messages"]] == ["in thread", "hello"]  # newest first
    link = client.chat_getPermalink(channel="CPOST", message_ts=ts)
    assert link["permalink"] == f"https://fake.slack.local/archives/CPOST/p{ts.replace('.', '')}"
    assert [c.method for c in fake.calls_to("chat.update")] == ["chat.update"]
    assert fake.calls_to("chat.update")[0].headers["authorization"] == (
        "Bearer xoxb-test-not-a-real-token"
    )


def test_what_it_does_not_know_is_refused_as_slack_would(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="CNONE", ts="1.000001", text="x")
    assert error_of(raised.value) == "message_not_found"
    with pytest.raises(SlackApiError) as raised:
        client.usergroups_users_list(usergroup="SNONE")
    assert error_of(raised.value) == "no_such_subteam"
    with pytest.raises(SlackApiError) as raised:
        client.api_call("no.such.method")
    assert error_of(raised.value) == "unknown_method"


def test_timestamps_are_unique_and_ordered(client: WebClient) -> None:
    stamps = [str(client.chat_postMessage(channel="CTS", text=str(n))["ts"]) for n in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_a_failure_is_answered_as_often_as_told_after_the_calls_it_lets_through(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.fail("chat.postMessage", Failure(error="not_in_channel", times=2, after=1))
    client.chat_postMessage(channel="CFAIL", text="goes through")
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="CFAIL", text="refused")
        assert error_of(raised.value) == "not_in_channel"
    client.chat_postMessage(channel="CFAIL", text="through again")
    texts = [m.params["text"] for m in fake.messages.values() if m.channel == "CFAIL"]
    assert texts == ["goes through", "through again"]


def test_a_rate_limit_says_when_to_come_back(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=7))
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="CRATE", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


def test_an_applied_failure_lands_although_the_answer_fails(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.fail("chat.postMessage", Failure(status=500, applied=True))
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="CAPPLIED", text="landed")
    assert [m.params["text"] for m in fake.messages.values() if m.channel == "CAPPLIED"] == [
        "landed"
    ]


def test_heal_forgets_the_failures_still_queued(fake: FakeSlack, client: WebClient) -> None:
    fake.fail("chat.postMessage", Failure(error="channel_not_found", times=5))
    fake.heal()
    assert client.chat_postMessage(channel="CHEAL", text="fine")["ok"]


def test_a_response_url_is_recorded(fake: FakeSlack) -> None:
    answered = httpx.post(fake.response_url("tok1"), json={"text": "done"}, timeout=5)
    assert answered.status_code == 200
    assert fake.wait_for(lambda f: any(c.method == "tok1" for c in f.responses))
    [call] = [c for c in fake.responses if c.method == "tok1"]
    assert call.params == {"text": "done"}
