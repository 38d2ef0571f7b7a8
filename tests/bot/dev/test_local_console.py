"""`gobot local` at a terminal, as a person runs it: the lines typed go through readline, the
prompt is drawn once (output that arrives meanwhile draws it again below), and the shell gets a
fresh line at the end; the CLI as a subprocess on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import outside_env, wait_until


class Terminal:
    """`gobot local` on a pseudo-terminal, as a person runs it: what it wrote, so far."""

    def __init__(self, cwd: Path) -> None:
        self._master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "local"],
            env=outside_env(TERM="dumb"),
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def type(self, keys: str, then: str) -> None:
        """Type `keys`, then wait until `then` was written after them."""
        before = len(self.text)
        os.write(self._master, keys.encode())
        wait_until(lambda: then in self.text[before:], what=repr(then))

    def close(self) -> int:
        wait_until(lambda: self.process.poll() is not None, what="the exit")
        self._reader.join()
        os.close(self._master)
        return self.process.returncode


def test_the_prompt_is_drawn_once_and_the_shell_gets_a_fresh_line_after_ctrl_d(
    tmp_path: Path,
) -> None:
    terminal = Terminal(tmp_path)
    terminal.type("", "(the demo's own).")
    terminal.type("/go-start tty\n", "snapshot posted.")
    terminal.type("helth red\n", "did you mean health?")
    terminal.type("/go-end\n", "End notes")  # a form: its fields are lines typed too
    terminal.type("done\n", "Outcome")
    terminal.type("\n", "summary posted.")
    terminal.type("\x04", "")  # Ctrl-D at the prompt
    assert terminal.close() == 0
    text = terminal.text
    assert "GO session started" in text and "> > " not in text
    assert text.endswith("\n")  # not on the prompt's line


def test_after_exit_the_shell_gets_a_fresh_line(tmp_path: Path) -> None:
    terminal = Terminal(tmp_path)
    terminal.type("/go-start left open\n", "snapshot posted.")
    terminal.type("exit\n", "it will be there next time")
    assert terminal.close() == 0
    text = terminal.text
    assert "> > " not in text and text.endswith("/go-end ends it)\r\n")
