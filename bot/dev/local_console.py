"""The person at `gobot local`'s terminal: the lines they type (a command, a form's field, a
y/n), what the demo says back, and how many of their commands failed (with a script or piped
input, `gobot local` exits 1 if any did). A line read from a script or a pipe is echoed, as the
terminal would have shown it typed; interactively, output that arrives while readline shows its
prompt draws the prompt again below it (bot.dev.local_screen)."""

from __future__ import annotations

import readline
from collections.abc import Callable

from bot.dev.local_screen import Screen


class Console:
    def __init__(self, screen: Screen, *, interactive: bool) -> None:
        self.interactive = interactive
        self.failures = 0
        self._screen = screen
        self._read: Callable[[], str | None] = lambda: None

    def read_from(self, read_line: Callable[[], str | None]) -> None:
        """The lines typed (or read) come from `read_line` (None: the end of the input)."""
        self._read = read_line
        if self.interactive:
            readline.set_pre_input_hook(self._prompt_shown)

    def next_line(self) -> str | None:
        """A line typed (or read): a command, a form's field, a y/n; interactively, output
        meanwhile draws the prompt again below it once readline has shown it."""
        try:
            return self._read()
        finally:
            self._screen.prompt_shown(False)

    def _prompt_shown(self) -> None:
        self._screen.prompt_shown(True)

    def echo(self, typed: str) -> None:
        """What was read, as the terminal shows it typed; interactively, it already did."""
        if not self.interactive:
            self.say(typed)

    def say(self, text: str) -> None:
        self._screen.say(text)

    def fail(self, text: str) -> None:
        self.failures += 1
        self.say(f"! {text}")
