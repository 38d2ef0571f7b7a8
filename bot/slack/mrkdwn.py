"""The one place that makes outside text safe for Slack mrkdwn and fits it to Block Kit limits,
quotes a Slack message's text (its mentions and dates kept), writes people, channels and times
as Slack shows them, and turns mrkdwn back into plain text (for a terminal, or a workflow
step's error)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from core.clock import format_utc

TRUNCATION_MARKER = "… (truncated)"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,20}")  # a Slack channel (or DM) ID
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_CLOSE = r"(?:(?!&gt;).)*&gt;"  # the rest of an escaped `<…>`
_ESCAPED_MENTION = re.compile(rf"&lt;([@#])([UWCG][A-Z0-9]{{1,20}})(?:\|{_CLOSE}|&gt;)")
_ESCAPED_DATE = re.compile(rf"&lt;!date\^([0-9]{{1,12}})\^{_CLOSE}")


def escape(text: str) -> str:
    """`&`, `<`, `>` become entities (`&` first): no mention, broadcast or link can be forged.
    A bare `@here`, `@channel` or `@everyone` gets a full-width at sign, so that no parsing of
    Slack's can turn it into a ping; bidi overrides and zero-width characters are dropped, so
    no text can reorder or hide what others read."""
    text = _INVISIBLE.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda found: f"\uff20{found.group(1)}", text)


def fit(text: str, limit: int) -> str:
    """Cut already-escaped text to `limit` characters with a visible marker, never inside an
    entity such as `&amp;` nor inside gobot's own markup (a mention, a date, a link)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(TRUNCATION_MARKER)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened != -1 and ">" not in cut[opened:]:
        cut = cut[:opened]
    return cut + TRUNCATION_MARKER


def safe(text: str, limit: int = SECTION_LIMIT) -> str:
    return fit(escape(text), limit)


def quoted(text: str, limit: int = SECTION_LIMIT) -> str:
    """The text of a Slack message, quoted: as safe as any outside text, except that the
    people, channels and dates it named show as they did where it was written (as mentions
    and Slack dates; a label such as `<@U1|name>` is dropped, broadcasts stay defused)."""
    text = _ESCAPED_MENTION.sub(lambda found: f"<{found.group(1)}{found.group(2)}>", escape(text))
    text = _ESCAPED_DATE.sub(
        lambda found: date(datetime.fromtimestamp(int(found.group(1)), UTC)), text
    )
    return fit(text, limit)


def who(actor: str | None) -> str:
    """A Slack user ID becomes a mention; any other actor (an API key's name, the CLI) is text."""
    if actor and _USER_ID.fullmatch(actor):
        return f"<@{actor}>"
    return safe(actor or "someone", 200)


def channel(channel_id: str | None) -> str:
    """A Slack channel ID becomes a channel mention; anything else is text."""
    if channel_id and CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return safe(channel_id or "a channel", 200)


def date(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone (Slack's date formatting), with the UTC
    time to the second as the fallback for clients that cannot (and for `gobot local`)."""
    if moment is None:
        return "an unknown time"
    fallback = format_utc(moment, "seconds")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def plain(text: str) -> str:
    """mrkdwn as plain text: entities back to characters, mentions as `@U…`/`#C…`, Slack
    dates as their UTC fallback, links as their address."""
    text = re.sub(r"<@([A-Z0-9]+)(\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<#([A-Z0-9]+)(\|[^>]*)?>", r"#\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|[^>]*>", r"\1", text)
    text = re.sub(r"<!date\^[0-9]+\^[^|>]*\|([^>]*)>", r"\1", text)
    return html.unescape(text)
