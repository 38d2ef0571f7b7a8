"""`gobot local`: the whole bot in a terminal, with no Slack at all.

Typed slash commands go through the real Bolt pipeline (signed as Slack signs them, real
listeners, real core, real scheduler) against the loopback Slack stand-in; what the channel and
the user would see is printed as text, and buttons become numbered actions. A number belongs
to the rendering that showed it: once a message is edited, its older numbers are refused (Slack
shows only the latest version), and a button that asks first (a `confirm` dialog) asks y/n.
A form Slack would open (`/go-start`, `/go-end` or `/go-schedule` with no text, End session,
Move) is asked field by field and submitted as Slack submits it; its errors are shown and only
those fields asked again. The commands it knows, and its help, come from the capabilities'
declarations (`bot.slack.catalog`); a typo is answered with the nearest one.
`@alice` and `@bob` are people the demo knows: in a command whose manifest entry escapes
mentions, and in `say`, `@name` becomes the mention Slack would send.
Messages in the channel are numbered too: `say text` posts one as you, and `pin N` reacts to
message N with the pin emoji, which adds it to the session's timeline (once).
The demo runs on its own clock (real time plus what `wait` added): `wait 30m` moves it on at
once, a tick at a time, doing each tick's work (reminders, planned ends, windows, the digest)
as it comes due; Ctrl-C stops the command running, not the demo.
`deploy production` (or `staging`) has GitHub ask about a deploy: the demo is its own GitHub
App (bot.dev.local_github) against a loopback GitHub, and shows the answer GitHub receives.
Nothing leaves the machine. The demo keeps its own state (`local/` inside the data dir, apart
from what `gobot serve` uses), says so if a session of an earlier run is still open, and starts
healthy; `health red "why"` and `band C "why"` (split as a shell splits words) change what the
next snapshot sees.
"""

from __future__ import annotations

import difflib
import json
import shlex
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.bootstrap import build_runtime
from bot.dev.local_console import Console
from bot.dev.local_forms import confirmed, fill_forms
from bot.dev.local_github import ENVIRONMENTS, LocalGithub
from bot.dev.local_screen import Screen
from bot.dev.local_slack import CHANNEL, KNOWN, USER, LocalSlack
from bot.dev.slack_requests import (
    button_click_body,
    slash_command_body,
)
from bot.settings import Settings
from bot.slack.catalog import BY_NAME, COMMANDS, SLASH_COMMANDS
from core.clock import format_utc
from core.durations import format_duration, parse_duration
from core.errors import GoError
from core.models import GateRequest
from core.snapshots import CONE_FILE, HEALTH_FILE

TRIGGER = "local.trigger"
SOURCE_WORDS = {"health": ("red", "yellow", "green"), "band": ("A", "B", "C", "D")}
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


class DemoClock:
    """The demo's clock: real time, plus what `wait` moved it on by."""

    def __init__(self) -> None:
        self._ahead = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._ahead

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._ahead += delta


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
        if word == "wait":
            self._wait(rest.strip() or "1s")
        elif word == "help":
            self._console.say(HELP)
        elif word in SOURCE_WORDS:
            self._set_source(word, rest)
        elif line.isdigit():
            self._press(int(line))
        elif word in ("say", "pin"):
            (self._post if word == "say" else self._pin)(rest.strip())
        elif word == "gate":
            self._gate(rest.strip())
        elif word == "deploy":
            self._deploy(rest.strip())
        elif not line.startswith("/"):
            close = difflib.get_close_matches(word, WORDS, 1)
            self._console.fail(
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

    def _wait(self, how_long: str) -> None:
        """`wait 30m`: the demo's clock moves on at once, a tick at a time, and every tick's
        work is done (reminders, planned ends, windows, the digest) as it would be by then.
        Ctrl-C stops it where it is."""
        try:
            waited = parse_duration(how_long)
        except ValueError as exc:
            self._console.fail(str(exc))
            return
        passed = [timedelta(0)]
        stop = threading.Event()

        def steps() -> None:
            while passed[0] < waited and not stop.is_set():
                step = min(self._runtime.settings.tick, waited - passed[0])
                self._clock.advance(step)
                passed[0] += step
                self._runtime.ticker.tick()
                self._slack.flush()

        mover = threading.Thread(target=steps, name="gobot-local-wait", daemon=True)
        mover.start()
        try:
            mover.join()
        except KeyboardInterrupt:
            stop.set()
            mover.join()
            self._slack.flush()
            self._console.say(
                f"(interrupted after {format_duration(passed[0])}: it is {self._now()})"
            )
            return
        self._slack.flush()
        self._console.say(f"({format_duration(waited)} later: it is {self._now()})")

    def _now(self) -> str:
        return format_utc(self._clock.now())[:19] + "Z"

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

    def _post(self, text: str) -> None:
        """`say text`: a message from you in #local, for `pin N`."""
        if not text:
            self._console.fail("Usage: say <text>")
            return
        ts = self._slack.post(text)
        self._screen.show("#local", {"text": f"@{USER}: {text}"}, self._screen.number(ts))

    def _pin(self, which: str) -> None:
        """`pin N`: react to message N with the pin emoji, as Slack sends the event."""
        ts = self._screen.message_ts(int(which)) if which.isdigit() else None
        if ts is None:
            self._console.fail(
                f"Usage: pin N, N a message's number (1 to {self._screen.messages()})"
            )
            return
        if any(
            entry.key == f"{CHANNEL}:{ts}"
            for session in self._runtime.services.sessions.active()
            for entry in session.timeline
        ):
            self._console.say(f"(message {which} is already on the session's timeline)")
            return
        item = {"type": "message", "channel": CHANNEL, "ts": ts}
        event = {
            "type": "reaction_added",
            "user": USER,
            "reaction": self._settings.pin_emoji,
            "item": item,
        }
        self._slack.send_event(event)
        self._slack.settle()

    def _gate(self, step: str) -> None:
        """Ask the gate as `gobot gate --step STEP` in a CI job would; its line in Slack shows
        as any message does."""
        asked = GateRequest(channel=CHANNEL, step=step or None, requester="ci")
        try:
            decision = self._runtime.services.gate.decide(asked, source="cli", actor="ci")
        except GoError as exc:
            self._console.fail(exc.message)
            return
        self._console.say(f"(the gate answers a CI job: {decision.state}: {decision.reason})")
        self._slack.settle()

    def _deploy(self, environment: str) -> None:
        """`deploy production`: GitHub asks gobot about a deploy (a signed webhook into the
        HTTP app); what the channel shows, and the answer GitHub receives, show when they
        come (at once, or once a session lets it go)."""
        if not environment or " " in environment:
            self._console.fail(f"Usage: deploy ENV (the demo gates {' and '.join(ENVIRONMENTS)})")
            return
        said, asked = self._github.deploy(environment)
        self._console.say(said)
        if asked is None:
            self._console.failures += 1
            return
        self._slack.settle(asked.work)

    def _set_source(self, word: str, rest: str) -> None:
        """`health red "db lag"` / `band C "why"`: what the next snapshot sees."""
        try:
            value, *why = shlex.split(rest) or [""]
        except ValueError as exc:  # an unclosed quote
            self._console.fail(f'{word}: {exc}; e.g. {word} {SOURCE_WORDS[word][0]} "why"')
            return
        choices = SOURCE_WORDS[word]
        match = next((c for c in choices if c.lower() == value.lower()), None)
        own = self._settings.health_source if word == "health" else self._settings.cone_source
        if match is None:
            self._console.fail(f'Usage: {word} {"|".join(choices)} "why"')
            return
        if own is not None:
            self._console.fail(
                f"{word} comes from GOBOT_{word.upper()}_SOURCE here, not from the demo"
            )
            return
        reason = " ".join(why) or "set by hand"
        if word == "health":
            name, content = HEALTH_FILE, {"status": match, "reasons": [reason]}
        else:
            name, content = CONE_FILE, {"band": match, "reason": reason}
        (self._settings.data_dir / name).write_text(json.dumps(content), encoding="utf-8")
        self._console.say(f"({word} is now {match}: {reason})")
