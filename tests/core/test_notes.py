from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.notes import MAX_NOTES_CHARS, clean_notes


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, ""),
        ("  hello  ", "hello"),
        ("a\x00b\x07c\x1bd", "abcd"),
        ("line1\r\nline2\rline3", "line1\nline2\nline3"),
        ("tab\there", "tab\there"),
        ("<!channel> & <https://evil|x>", "<!channel> & <https://evil|x>"),
        ("\x7f\x85\u0000", ""),
    ],
)
def test_clean_notes(raw: str | None, clean: str) -> None:
    assert clean_notes(raw) == clean


def test_limit_is_inclusive_and_longer_is_an_error_not_a_truncation() -> None:
    assert len(clean_notes("x" * MAX_NOTES_CHARS)) == MAX_NOTES_CHARS
    with pytest.raises(InvalidInput, match="2001 characters long; the limit is 2000"):
        clean_notes("x" * (MAX_NOTES_CHARS + 1))


def test_limit_counts_after_cleaning() -> None:
    assert clean_notes("  " + "x" * MAX_NOTES_CHARS + "\x00\x00  ") == "x" * MAX_NOTES_CHARS


@given(st.text(max_size=3000))
def test_notes_are_clean_or_refused(raw: str) -> None:
    try:
        text = clean_notes(raw)
    except InvalidInput:
        assert len(raw) > MAX_NOTES_CHARS  # cleaning only removes characters
        return
    assert len(text) <= MAX_NOTES_CHARS
    assert text == text.strip()
    assert all(ch in "\n\t" or unicodedata.category(ch) != "Cc" for ch in text)
    assert clean_notes(text) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cf")), max_size=500))
def test_printable_text_is_kept_verbatim(raw: str) -> None:
    """Text with no control or format character is kept as it is."""
    assert clean_notes(raw) == raw.strip()


@pytest.mark.parametrize("mark", ["\u061c", "\u200b", "\u200f", "\u202e", "\u2066", "\ufeff"])
def test_invisible_marks_are_dropped(mark: str) -> None:
    assert clean_notes(f"deploy{mark} v2{mark}") == "deploy v2"
