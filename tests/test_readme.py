"""The README's configuration table and the settings model cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_variables() -> set[str]:
    section = README.read_text(encoding="utf-8").split("\n## Configuration", 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break  # the end of the table
    names: set[str] = set()
    for row in rows[2:]:
        first_cell = row.split("|")[1]
        names |= set(re.findall(r"`([A-Z][A-Z_]+)`", first_cell))
    return names


def setting_variables() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else f"GOBOT_{name.upper()}")
    return names


def test_every_setting_is_documented_and_every_documented_variable_exists() -> None:
    assert documented_variables() == setting_variables()


def test_the_two_setup_commands_are_the_ones_ci_and_make_use() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run     #" in text and "make test    #" in text
    ci = (README.parent / ".ci" / "run").read_text()
    makefile = (README.parent / "Makefile").read_text()
    assert "make test" in ci
    assert "$(VENV)/bin/gobot local" in makefile.split("run:", 1)[1].split("\n\n")[0]
