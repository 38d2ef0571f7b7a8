"""The README's command table and its workflow steps table cannot drift from the capabilities
gobot declares: one row per `/go` subcommand, in declaration order, with its usage and who may
use it; one row per workflow step."""

from __future__ import annotations

import re
from pathlib import Path

from bot.slack.catalog import COMMANDS, SUBCOMMANDS

README = Path(__file__).resolve().parents[3] / "README.md"
WHO = {None: "everyone", "operator": "operators", "admin": "admins"}


def table(header: str) -> list[list[str]]:
    """The rows of the README table that starts with `header`, as their cells."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_the_command_table_lists_every_declared_command_with_its_role() -> None:
    rows = table("| command | what it does | who |")
    expected = [
        (f"`/go-{c.usage}`" if c.slash == "own" else f"`/go {c.usage}`", WHO[c.role])
        for c in SUBCOMMANDS.values()
    ]
    assert [(command, who.split(" ")[0].rstrip(";")) for command, _, who in rows] == expected


def test_the_workflow_steps_table_lists_every_declared_step() -> None:
    rows = table("| step | inputs | outputs |")
    titles = [re.sub(r"\*\*(.*)\*\*", r"\1", row[0]) for row in rows]
    assert titles == [c.step.title for c in COMMANDS if c.step]
