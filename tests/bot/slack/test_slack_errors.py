"""How Slack failures are judged: retried (when), final, or to be looked up first."""

from __future__ import annotations

import socket
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.slack.transport import classify


def api_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="x",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("exc", "permanent", "waiting", "maybe_sent", "retry_after"),
    [
        (api_error(429, "ratelimited", {"Retry-After": "7"}), False, False, False, 7.0),
        (api_error(429, "ratelimited", {"Retry-After": "soon"}), False, False, False, 1.0),
        (api_error(429, "ratelimited", {"Retry-After": "1e11"}), False, False, False, 300.0),
        (api_error(429, "ratelimited", {"Retry-After": "nan"}), False, False, False, 300.0),
        (api_error(200, "not_in_channel"), False, True, False, None),
        (api_error(200, "token_revoked"), False, True, False, None),
        (api_error(200, "missing_scope"), False, True, False, None),
        (api_error(200, "invalid_blocks"), True, False, False, None),
        (api_error(200, "some_error_slack_adds_later"), True, False, False, None),
        (api_error(200, "internal_error"), False, False, True, None),
        (api_error(503, "service_unavailable"), False, False, True, None),
        (api_error(500, "<html>Bad Gateway</html>"), False, False, True, None),
        (URLError(ConnectionRefusedError()), False, False, False, None),
        (URLError(socket.gaierror()), False, False, False, None),
        (TimeoutError(), False, False, True, None),
        (ConnectionResetError(), False, False, True, None),
        (URLError(TimeoutError()), False, False, True, None),
        (ValueError("Expecting value"), False, False, True, None),
    ],
)
def test_classify(
    exc: Exception, permanent: bool, waiting: bool, maybe_sent: bool, retry_after: float | None
) -> None:
    """Only an answer that proves the post did not happen spares the look-up; only what can
    never succeed is dropped."""
    failure = classify(exc)
    assert (failure.permanent, failure.waiting, failure.maybe_sent, failure.retry_after) == (
        permanent,
        waiting,
        maybe_sent,
        retry_after,
    )
