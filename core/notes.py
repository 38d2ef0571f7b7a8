"""Cleaning of operator-typed notes and links: the free text that reaches the store."""

from __future__ import annotations

import re
import unicodedata

from core.errors import InvalidInput

MAX_NOTES_CHARS = 2000
_KEPT_CONTROLS = {"\n", "\t"}


_INVISIBLE = set("\u061c\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff") | {
    chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def clean_notes(raw: str | None) -> str:
    """Trim, drop control characters (newlines and tabs stay), bidi overrides and zero-width
    characters, and enforce the length limit.

    Too long is an error, never a silent truncation: the operator must know what was stored.
    """
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ch
        for ch in text
        if ch in _KEPT_CONTROLS
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _INVISIBLE)
    ).strip()
    if len(text) > MAX_NOTES_CHARS:
        raise InvalidInput(
            f"Notes are {len(text)} characters long; the limit is {MAX_NOTES_CHARS}. "
            "Nothing was changed: shorten them and try again."
        )
    return text


MAX_LINK_CHARS = 500
_LINK = re.compile(r"https?://[^\s<>|\"]+")


def clean_link(raw: str | None) -> str | None:
    """A ticket, change request or runbook URL (http or https), or None when none is given."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > MAX_LINK_CHARS or not _LINK.fullmatch(text):
        raise InvalidInput(
            f"The link must be one http:// or https:// URL of at most {MAX_LINK_CHARS} "
            "characters: nothing was changed."
        )
    return text
