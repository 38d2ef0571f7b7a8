"""`gobot local`: the whole bot in a terminal, with no Slack at all. This module puts the demo
together and does each line typed (or read from a script).

Typed slash commands go through the real Bolt pipeline (signed as Slack signs them, real
listeners, real core, real scheduler) against the loopback Slack stand-in (bot.dev.local_slack);
what the channel and the user would see is printed as text (bot.dev.local_screen), and buttons
become numbered actions. A number belongs to the rendering that showed it: once a message is
edited, its older numbers are refused (Slack shows only the latest version). A button that asks
first, and a form Slack would open (`/go-start`, `/go-end` or `/go-schedule` with no text, End
session, Move), are asked as bot.dev.local_forms asks them. The commands it knows, and its help,
come from the capabilities' declarations (`bot.slack.catalog`); a typo is answered with the
nearest one. The demo's other words (`wait`, `say`, `pin`, `gate`, `deploy`, `health`, `band`)
are bot.dev.local_words; `deploy` has the demo's own GitHub App (bot.dev.local_github) ask.
Ctrl-C stops the command running, not the demo.
Nothing leaves the machine. The demo keeps its own state (`local/` inside the data dir, apart
from what `gobot serve` uses), says so if a session of an earlier run is still open, and starts
healthy.
"""

from __future__ import annotations

import difflib
import json
import signal
import threading
import uuid
from collections.abc import Callable
from typing import TextIO

from bot.bootstrap import build_runtime
from bot.dev.local_console import Console
from bot.dev.local_forms import confirmed, fill_forms
from bot.dev.local_github import LocalGithub
from bot.dev.local_screen import Screen
from bot.dev.local_slack import CHANNEL, KNOWN, USER, LocalSlack
from bot.dev.local_words import (
    SOURCE_WORDS,
    DemoClock,
    deploy,
    gate,
    pin,
    post,
    set_source,
    wait,
)
from bot.dev.slack_requests import button_click_body, slash_command_body
from bot.settings import Settings
from bot.slack.catalog import BY_NAME, COMMANDS, SLASH_COMMANDS
from core.clock import format_utc
from core.snapshots import CONE_FILE, HEALTH_FILE

TRIGGER = "local.trigger"
HELP = (
    f"Type a slash command ({', '.join(f'/go-{c.usage}' for c in COMMANDS if c.slash == 'own')}"
    ", /go help), a number to press a button, `say text` to post to the channel, `pin N` to "
    "add message N to the session's timeline, `gate [step]` to ask the GO gate as a CI job "
    "would, `deploy production` (or staging) to have GitHub ask gobot about a deploy and see "
    "its answer, `wait 30m` to move the demo's clock on, "
    '`health red|yellow|green "why"` or `band A|B|C|D "why"` to change what the next snapshot '
    f"sees, `help` for this, or `exit`. Lines starting with # are comments. You are @{USER}; "
    f"{KNOWN} are here too (`/go-handover @alice` mentions her, as Slack does). Ctrl-C stops "
    "the command running."
)
WORDS = ("wait", "say", "pin", "gate", "deploy", "help", "exit", "quit", *SOURCE_WORDS)
LOCAL_DIR = "local"
HEALTHY = {"status": "green", "reasons": ['local demo: change it with `health red "why"`']}
BAND_B = {"band": "B", "reason": 'local demo: change it with `band C "why"`'}


def local_settings(settings: Settings) -> Settings:
    """The demo's own data dir, whose default sources start healthy at every run."""
    directory = settings.data_dir / LOCAL_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for name, content, own in (
        (HEALTH_FILE, HEALTHY, settings.health_source),
        (CONE_FILE, BAND_B, settings.cone_source),
    ):
        if own is None:
            (directory / name).write_text(json.dumps(content), encoding="utf-8")
    return settings.model_copy(update={"data_dir": directory})


class LocalBot:
    def __init__(self, settings: Settings, out: TextIO, *, interactive: bool = False) -> None:
        self._settings = settings
        self._screen = Screen(out, interactive=interactive)
        self._console = Console(self._screen, interactive=interactive)
        self._clock = DemoClock()
        self._github = LocalGithub(CHANNEL, self._clock)
        self._slack = LocalSlack(self._console, self._screen, self._github.answers)
        local = self._github.configure(self._slack.configure(settings))
        self._runtime = build_runtime(local, clock=self._clock)
        self._github.attach(self._runtime)
        self._slack.attach(self._runtime)
        self._known = set(SLASH_COMMANDS)

    @property
    def failures(self) -> int:
        """How many commands failed (with a script or piped input, `gobot local` exits 1)."""
        return self._console.failures

    # lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalBot:
        self._runtime.ticker.start()
        self._slack.start_printing()
        return self

    def __exit__(self, *exc: object) -> None:
        self._slack.stop_printing()
        self._runtime.ticker.shutdown()
        self._slack.close()
        self._github.close()
        if self._open_sessions():
            self._console.say(
                "(a GO session is still open: it will be there next time; /go-end ends it)"
            )

    def _open_sessions(self) -> list[str]:
        return [
            f"started {format_utc(s.started_at_utc)[:16]}Z by @{s.started_by}"
            for s in self._runtime.services.sessions.active()
            if s.active and s.started_at_utc is not None
        ]

    # input ---------------------------------------------------------------------------------
    def run(self, read_line: Callable[[], str | None]) -> None:
        """Handle lines until `exit` or the end of the input (which also answers forms).
        Ctrl-C stops the command running (or the line being typed), not the demo."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)  # even if inherited ignored
        self._console.read_from(read_line)
        self._console.say(f"{HELP}\nState: {self._settings.data_dir} (the demo's own).")
        for left_open in self._open_sessions():
            self._console.say(
                f"(a GO session from an earlier run is still open: {left_open}; "
                "/go-session shows it, /go-end ends it)"
            )
        while True:
            try:
                if not self._one_line():
                    return
            except KeyboardInterrupt:
                self._console.say("(interrupted)")

    def _one_line(self) -> bool:
        """Read a line and do it; False at `exit` or the end of the input."""
        raw = self._console.next_line()
        if raw is None:
            if self._console.interactive:
                self._console.say("")  # the shell's prompt starts on a line of its own
            return False
        line = raw.strip()
        if line:
            self._console.echo(f"> {line}")
        if line in ("exit", "quit"):
            return False
        if line and not line.startswith("#"):
            self.handle(line)
        return True

    def handle(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        console, slack, screen, runtime = self._console, self._slack, self._screen, self._runtime
        if word == "wait":
            wait(rest.strip() or "1s", console, slack, runtime, self._clock)
        elif word == "help":
            console.say(HELP)
        elif word in SOURCE_WORDS:
            set_source(word, rest, console, self._settings)
        elif line.isdigit():
            self._press(int(line))
        elif word == "say":
            post(rest.strip(), console, slack, screen)
        elif word == "pin":
            pin(rest.strip(), console, slack, screen, runtime)
        elif word == "gate":
            gate(rest.strip(), console, slack, runtime)
        elif word == "deploy":
            deploy(rest.strip(), console, slack, self._github)
        elif not line.startswith("/"):
            close = difflib.get_close_matches(word, WORDS, 1)
            console.fail(
                f"Not a command: did you mean {close[0]}? (`help` lists them)"
                if close
                else "Not a command: `help` lists them."
            )
        else:
            self._command(line)

    def _command(self, line: str) -> None:
        command, _, text = line.partition(" ")
        if command not in self._known:
            close = difflib.get_close_matches(command, SLASH_COMMANDS, 1)
            self._console.fail(
                f"Unknown command {command}: did you mean {close[0]}?"
                if close
                else f"Unknown command {command}. The commands: {', '.join(SLASH_COMMANDS)}"
            )
            return
        row = BY_NAME.get(command.removeprefix("/go-"))
        if row is not None and row.escapes:  # as the manifest asks Slack to
            text = self._slack.mentions(text, escaped=True)
        token = uuid.uuid4().hex
        forms = self._slack.forms_opened()
        self._slack.dispatch(
            slash_command_body(
                command, text, USER, CHANNEL, self._slack.response_url(token), trigger_id=TRIGGER
            )
        )
        self._slack.await_reply(token, forms)
        fill_forms(forms, self._console, self._slack)

    def _press(self, number: int) -> None:
        button, outdated = self._screen.button(number)
        if button is None:
            self._console.fail("No such button.")
            return
        if outdated:
            assert button.message is not None
            self._console.fail(
                f"Button {number} is on an earlier version of message "
                f"{self._screen.message_number(button.message[1])}, which has changed since: "
                "Slack shows only its latest version; press one of its newer numbers."
            )
            return
        if button.confirm is not None and not confirmed(button.confirm, self._console):
            return
        token = uuid.uuid4().hex
        forms = self._slack.forms_opened()
        self._slack.dispatch(
            button_click_body(
                button.action_id, button.value, USER, CHANNEL, self._slack.response_url(token)
            )
        )
        self._slack.settle()
        self._slack.show_replies(token)
        fill_forms(forms, self._console, self._slack)
