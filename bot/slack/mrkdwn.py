"""The one place that makes outside text safe for Slack mrkdwn and fits it to Block Kit limits."""

from __future__ import annotations

import re

TRUNCATION_MARKER = "… (truncated)"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")


def escape(text: str) -> str:
    """`&`, `<`, `>` become entities (`&` first): no mention, broadcast or link can be forged."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Cut already-escaped text to `limit` characters with a visible marker, never inside an
    entity such as `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(TRUNCATION_MARKER)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + TRUNCATION_MARKER


def safe(text: str, limit: int = SECTION_LIMIT) -> str:
    return fit(escape(text), limit)


def who(actor: str | None) -> str:
    """A Slack user ID becomes a mention; any other actor (an API key's name, the CLI) is text."""
    if actor and _USER_ID.match(actor):
        return f"<@{actor}>"
    return safe(actor or "someone", 200)
