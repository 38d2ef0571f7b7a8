"""`gobot local`'s Slack: what the user does reaches the bot as Slack sends it (a mention of
someone Slack knows included), and what the bot sends is shown; the CLI as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.dev.test_local import local


def test_handover_to_someone_the_demo_knows_as_readme_writes_it(tmp_path: Path) -> None:
    """`@alice` becomes the mention Slack would send for a command that escapes them; a name
    the demo does not know stays text, and the demo says whom it knows."""
    result = local(
        tmp_path,
        stdin="/go-start x\n/go-handover @Alice going off shift\n/go-handover @carol later\n"
        "say thanks @bob.\npin 4\n",
    )
    out = result.stdout
    assert "You are @ULOCAL; @alice, @bob are here too" in out
    assert ":arrows_counterclockwise: @ULOCAL handed the session to @UALICE: going off shift" in out
    assert ":arrows_counterclockwise: @UALICE owns the GO session now." in out
    assert "(@carol is nobody the demo knows: it knows @alice, @bob; left as text)" in out
    assert "naming one person" in out.split("> /go-handover @carol later", 1)[1]
    stored = json.loads((tmp_path / "data" / "local" / "go_session.json").read_text())["session"]
    assert stored["owner"] == "UALICE"
    said = out.split("> say", 1)[1]
    assert "@ULOCAL: thanks @bob." in said and "nobody the demo knows" not in said
    assert ":pushpin: @ULOCAL added a message by @ULOCAL" in said
    pinned = said.split(":pushpin:", 1)[1].splitlines()[0]
    assert "UBOB" in pinned  # the message was posted as Slack posts a mention: <@UBOB>
