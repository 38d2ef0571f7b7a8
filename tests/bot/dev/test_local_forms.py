"""`gobot local`'s forms and confirm dialogs: asked field by field (or y/n) as Slack would show
them, submitted as Slack submits them, the bot's errors asked again; the CLI as a subprocess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bot.dev.test_local import local


def test_forms_are_asked_field_by_field_and_their_errors_asked_again(tmp_path: Path) -> None:
    """The start form's bad link is said beside its field and asked again (nothing started
    meanwhile); the End session button's form asks for a choice until it is one."""
    result = local(
        tmp_path,
        stdin="/go-start\ndeploy v3\n3h\n2h\njavascript:alert(1)\nhttps://t.example/CHG-1\n"
        "1\nreverted\nexploded\nrolled back\n/go-report\n",
    )
    out = result.stdout
    assert "[form: Start a GO session]" in out
    assert "! choose one of 30m, 1h, 2h, 4h" in out
    assert "! link: The link must be one http:// or https:// URL" in out
    assert out.index("! link:") < out.index("GO session started")  # nothing started before
    assert "Link:* https://t.example/CHG-1 · *Planned end:*" in out
    assert "[form: End the GO session] 9 of 9 playbook steps are still open." in out
    assert "! choose one of completed, rolled back, aborted" in out
    assert "*Session ended* by @ULOCAL after" in out and "*rolled back*" in out
    assert "*Planned end*" in out and "*Link* https://t.example/CHG-1" in out
    assert result.returncode == 1 and "gobot: 3 command(s) failed" in result.stderr
    assert "Traceback" not in out + result.stderr


def test_a_form_left_at_the_end_of_input_submits_nothing(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="/go-start\nhalf typed\n")
    assert "(form closed: nothing was submitted)" in result.stdout
    assert not (tmp_path / "data" / "local" / "go_session.json").exists()


def test_start_now_asks_first_when_the_window_has_not_started(tmp_path: Path) -> None:
    """Slack's confirm dialog, as the demo asks it: y or n."""
    when = (datetime.now(UTC) + timedelta(days=16)).strftime("%Y-%m-%dT%H:%MZ")
    result = local(
        tmp_path, stdin=f"/go-schedule {when} 1h far off\n/go-windows\n1\nmaybe\nn\n1\ny\n"
    )
    out = result.stdout
    assert "(1) Start now (asks first)" in out and "(3) Cancel (asks first)" in out
    assert out.count("[asks: Start the GO window early?] It is planned for ") == 2
    assert "  y: Start now / n: Wait:\n  > maybe\n! answer y or n\n" in out
    assert "  > n\n(nothing was sent)\n" in out
    assert out.count("[#local] [message 1]\n  GO session started") == 1
    assert out.index("  > y\n") < out.index("[#local] [message 1]\n  GO session started")
    assert "gobot: 1 command(s) failed" in result.stderr
