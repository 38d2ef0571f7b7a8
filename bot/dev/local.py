"""`gobot local`: the whole bot in a terminal, with no Slack at all.

Typed slash commands go through the real Bolt pipeline (signed as Slack signs them, real
listeners, real core, real scheduler) against the loopback Slack stand-in; what the channel and
the user would see is printed as text, and buttons become numbered actions (every button shown
gets a number of its own for the rest of the run; an edited message's buttons get new ones).
A form Slack would open (`/go-start`, `/go-end` or `/go-schedule` with no text, End session,
Move) is asked field by field and submitted as Slack submits it; its errors are shown and only
those fields asked again. The commands it knows, and its help, come from the capabilities'
declarations (`bot.slack.catalog`).
Messages in the channel are numbered too: `say text` posts one as you, and `pin N` reacts to
message N with the pin emoji, which adds it to the session's timeline.
Nothing leaves the machine. The demo keeps its own state (`local/` inside the data dir, apart
from what `gobot serve` uses) and starts healthy; `health red "why"` and `band C "why"` change
what the next snapshot sees.
"""

from __future__ import annotations

import json
import readline
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import SecretStr
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import (
    Call,
    FakeSlack,
    button_click_body,
    event_callback_body,
    slash_command_body,
    view_submission_body,
)
from bot.settings import Settings
from bot.slack.blocks import block_texts
from bot.slack.catalog import COMMANDS, SLASH_COMMANDS
from bot.slack.mrkdwn import plain
from core.clock import format_utc, parse_utc
from core.durations import format_duration, parse_duration
from core.snapshots import CONE_FILE, HEALTH_FILE

USER, CHANNEL = "ULOCAL", "CLOCAL"
TRIGGER = "local.trigger"
REPLY_TIMEOUT_SECONDS = 15.0
HELP = (
    f"Type a slash command ({', '.join(f'/go-{c.usage}' for c in COMMANDS if c.slash == 'own')}"
    ", /go help), a number to press a button, `say text` to post to the channel, `pin N` to "
    "add message N to the session's timeline, `wait 5s` to let time pass, "
    '`health red|yellow|green "why"` or `band A|B|C|D "why"` to change what the next snapshot '
    "sees, or `exit`. Lines starting with # are comments."
)
LOCAL_DIR = "local"
HEALTHY = {"status": "green", "reasons": ['local demo: change it with `health red "why"`']}
BAND_B = {"band": "B", "reason": 'local demo: change it with `band C "why"`'}
SOURCE_WORDS = {"health": ("red", "yellow", "green"), "band": ("A", "B", "C", "D")}


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str


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
        self._out = out
        self._interactive = interactive
        self.failures = 0
        self._settings = settings
        self._fake = FakeSlack().start()
        self._secret = secrets.token_hex(16)
        local = settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-local"),
                "slack_signing_secret": SecretStr(self._secret),
                "slack_api_url": self._fake.api_url,
            }
        )
        self._runtime = build_runtime(local)
        self._verifier = SignatureVerifier(self._secret)
        self._buttons: list[Button] = []
        self._messages: list[str] = []  # the ts of each numbered message in #local
        self._read: Callable[[], str | None] = lambda: None
        self._events = 0
        self._known = set(SLASH_COMMANDS)
        self._shown = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._printer = threading.Thread(target=self._print_loop, daemon=True)

    # lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalBot:
        self._runtime.ticker.start()
        self._printer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._runtime.ticker.shutdown()
        self.flush()
        self._fake.stop()
        if any(session.active for session in self._runtime.services.sessions.active()):
            self._say("(a GO session is still open: it will be there next time; /go-end ends it)")

    # input ---------------------------------------------------------------------------------
    def run(self, read_line: Callable[[], str | None]) -> None:
        """Handle lines until `exit` or the end of the input (which also answers forms)."""
        self._read = read_line
        self._say(f"{HELP}\nState: {self._settings.data_dir} (the demo's own).")
        while (raw := read_line()) is not None:
            line = raw.strip()
            if not self._interactive and line:
                self._say(f"> {line}")
            if line in ("exit", "quit"):
                return
            if line and not line.startswith("#"):
                self.handle(line)

    def handle(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == "wait":
            try:
                waited = parse_duration(rest.strip() or "1s")
                time.sleep(waited.total_seconds())
                self._say(f"({format_duration(waited)} later)")
            except ValueError as exc:
                self._fail(str(exc))
            self.flush()
            return
        if word in SOURCE_WORDS:
            self._set_source(word, rest)
            return
        if line.isdigit():
            self._press(int(line))
            return
        if word in ("say", "pin"):
            (self._post if word == "say" else self._pin)(rest.strip())
            return
        if not line.startswith("/"):
            self._fail(f"Not a command. {HELP}")
            return
        command, _, text = line.partition(" ")
        if command not in self._known:
            self._fail(f"Unknown command {command}. The commands: {', '.join(SLASH_COMMANDS)}")
            return
        token = uuid.uuid4().hex
        forms = len(self._fake.calls_to("views.open"))
        self._dispatch(
            slash_command_body(
                command, text, USER, CHANNEL, self._fake.response_url(token), trigger_id=TRIGGER
            )
        )
        self._await_reply(token, forms)

    def _press(self, number: int) -> None:
        with self._lock:
            button = self._buttons[number - 1] if 0 < number <= len(self._buttons) else None
        if button is None:
            self._fail("No such button.")
            return
        token = uuid.uuid4().hex
        forms = len(self._fake.calls_to("views.open"))
        self._dispatch(
            button_click_body(
                button.action_id, button.value, USER, CHANNEL, self._fake.response_url(token)
            )
        )
        self._settle()
        self._show_replies(token)
        self._fill_forms(forms)

    def _settle(self) -> None:
        """Wait for the work of what was just sent (the channel's and a form's), then show it."""
        work = self._runtime.work
        for key in (f"modal:{USER}", CHANNEL):
            if not work.wait_idle(key, REPLY_TIMEOUT_SECONDS):
                self._fail("no answer yet; it may still come")
        self.flush()

    def _fill_forms(self, before: int) -> None:
        for opened in self._fake.calls_to("views.open")[before:]:
            self._fill(opened.params["view"])

    def _fill(self, view: dict[str, Any]) -> None:
        """A form as Slack shows it, asked field by field, then submitted; what Slack would
        show beside a field is said, and those fields asked again. An end of input cancels."""
        inputs = [block for block in view.get("blocks", []) if block.get("type") == "input"]
        said = [
            plain(t)
            for b in view.get("blocks", [])
            if b.get("type") != "input"
            for t in block_texts(b)
        ]
        title = plain(str(view["title"]["text"]))
        self._say(
            " ".join([f"[form: {title}]", *said, "(an empty answer leaves a field as it is)"])
        )
        values: dict[str, str] = {}
        asking = inputs
        while asking:
            for block in asking:
                answer = self._ask(block)
                if answer is None:
                    self._say("(form closed: nothing was submitted)")
                    return
                values[str(block["block_id"])] = answer
            body = view_submission_body(
                str(view["callback_id"]), USER, str(view.get("private_metadata", "")), values
            )
            answer_body = self._dispatch(body)
            errors: dict[str, str] = (json.loads(answer_body) if answer_body else {}).get(
                "errors"
            ) or {}
            for block_id, error in errors.items():
                self._fail(f"{block_id}: {error}")
            asking = [block for block in inputs if block["block_id"] in errors]
        self._settle()

    def _ask(self, block: dict[str, Any]) -> str | None:
        """One field's answer as Slack would submit it (a choice must be one of the field's,
        a date and time is typed in ISO 8601, a channel is this one unless typed); None at the
        end of input."""
        element = block["element"]
        kind = element.get("type")
        label = plain(str(block["label"]["text"]))
        choices = [str(option["value"]) for option in element.get("options", [])]
        default = str((element.get("initial_option") or {}).get("value", ""))
        if kind == "datetimepicker":
            initial = datetime.fromtimestamp(int(element["initial_date_time"]), UTC)
            default = str(element["initial_date_time"])
            label += f" (ISO 8601, e.g. {format_utc(initial)[:16]}Z; empty: that)"
        elif kind == "conversations_select":
            default = str(element.get("initial_conversation") or CHANNEL)
            label += f" (empty: {default})"
        while True:
            hint = f" ({' / '.join(choices)}; empty: {default or 'none'})" if choices else ""
            self._say(f"  {label}{hint}{'' if block.get('optional') else ' (required)'}:")
            line = self._read()
            if line is None:
                return None
            answer = line.strip()
            if not self._interactive:
                self._say(f"  > {answer}")
            if kind == "datetimepicker" and answer:
                try:
                    return str(int(parse_utc(answer).timestamp()))
                except ValueError:
                    self._fail("type a date and time such as 2026-12-01T14:00Z")
                    continue
            if not choices:
                return answer or default
            if not answer or answer in choices:
                return answer or default
            self._fail(f"choose one of {', '.join(choices)}")

    def _post(self, text: str) -> None:
        """`say text`: a message from you in #local, for `pin N`."""
        if not text:
            self._fail("Usage: say <text>")
            return
        ts = self._fake.post_directly(CHANNEL, text, user=USER)
        self._show("#local", {"text": f"@{USER}: {text}"}, self._number(ts))

    def _pin(self, which: str) -> None:
        """`pin N`: react to message N with the pin emoji, as Slack sends the event."""
        if not which.isdigit() or not 0 < int(which) <= len(self._messages):
            self._fail(f"Usage: pin N, N a message's number (1 to {len(self._messages)})")
            return
        self._events += 1
        item = {"type": "message", "channel": CHANNEL, "ts": self._messages[int(which) - 1]}
        event = {
            "type": "reaction_added",
            "user": USER,
            "reaction": self._settings.pin_emoji,
            "item": item,
        }
        self._dispatch(event_callback_body(event, f"EvLOCAL{self._events}"), "application/json")
        self._settle()

    def _dispatch(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> str:
        """Sign and hand a request to the app as Slack would; the body of its answer."""
        stamp = str(int(time.time()))
        headers: dict[str, str | Sequence[str]] = {
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": str(self._verifier.generate_signature(timestamp=stamp, body=body)),
            "content-type": content_type,
        }
        response = self._runtime.app.dispatch(BoltRequest(body=body, headers=headers))
        if response.status != 200:
            self._say(f"! the bot answered HTTP {response.status}")
        return str(response.body or "")

    def _await_reply(self, token: str, forms: int) -> None:
        """The answer to a command, or the form it opened (`forms`: how many were before)."""
        got = self._fake.wait_for(
            lambda f: (
                any(c.method == token for c in f.responses) or len(f.calls_to("views.open")) > forms
            ),
            REPLY_TIMEOUT_SECONDS,
        )
        self.flush()
        if not got:
            self._fail("no answer yet; it may still come")
        self._show_replies(token)
        self._fill_forms(forms)

    def _show_replies(self, token: str) -> None:
        """What the user alone was told in answer to request `token`."""
        for call in [c for c in self._fake.responses if c.method == token]:
            self._show_private(call.params)

    def _show_private(self, params: dict[str, Any]) -> None:
        if any(mark in str(params) for mark in (":warning:", ":x:")):
            self.failures += 1
        self._show("you only", params)

    def _set_source(self, word: str, rest: str) -> None:
        """`health red "db lag"` / `band C "why"`: what the next snapshot sees."""
        value, _, why = rest.strip().partition(" ")
        choices = SOURCE_WORDS[word]
        match = next((c for c in choices if c.lower() == value.lower()), None)
        own = self._settings.health_source if word == "health" else self._settings.cone_source
        if match is None:
            self._fail(f'Usage: {word} {"|".join(choices)} "why"')
            return
        if own is not None:
            self._fail(f"{word} comes from GOBOT_{word.upper()}_SOURCE here, not from the demo")
            return
        reason = why.strip().strip('"') or "set by hand"
        if word == "health":
            name, content = HEALTH_FILE, {"status": match, "reasons": [reason]}
        else:
            name, content = CONE_FILE, {"band": match, "reason": reason}
        (self._settings.data_dir / name).write_text(json.dumps(content), encoding="utf-8")
        self._say(f"({word} is now {match}: {reason})")

    def _fail(self, text: str) -> None:
        self.failures += 1
        self._say(f"! {text}")

    # output --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        with self._lock:
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        """Output between prompts; interactively, the prompt and what was typed so far are
        drawn again below it."""
        if self._interactive:
            self._out.write("\r\x1b[K" + text + "> " + readline.get_line_buffer())
        else:
            self._out.write(text)
        self._out.flush()

    def _print_loop(self) -> None:
        while not self._stop.wait(0.2):
            self.flush()

    def flush(self) -> None:
        """Print what reached the channel since last time."""
        with self._lock:
            calls = self._fake.calls[self._shown :]
            self._shown += len(calls)
        for call in calls:
            self._show_call(call)

    def _show_call(self, call: Call) -> None:
        if call.method == "chat.postMessage":
            where = "#local, in thread" if call.params.get("thread_ts") else "#local"
            if call.params.get("reply_broadcast"):
                where += " (also sent to the channel)"
            ts = next((m.ts for m in self._fake.messages.values() if m.params is call.params), "")
            self._show(where, call.params, self._number(ts))
        elif call.method == "chat.postEphemeral":
            self._show_private(call.params)
        elif call.method == "chat.update":
            key = (str(call.params.get("channel")), str(call.params.get("ts")))
            if key in self._fake.messages:
                self._show("#local, message updated", call.params)
            else:
                self._say("[#local] (the session's post was made in an earlier run: not updated)")

    def _number(self, ts: str) -> int:
        """A number of its own for the message at `ts`, for `pin N`."""
        with self._lock:
            self._messages.append(ts)
            return len(self._messages)

    def _show(self, where: str, params: dict[str, Any], message: int | None = None) -> None:
        with self._lock:
            self._write(self._render(where, params, message))

    def _render(self, where: str, params: dict[str, Any], message: int | None) -> str:
        """A message's text (with its number, if it is one in the channel), its buttons
        numbered: a block's own button (a playbook step's) at the end of its line, a row of
        buttons each on a line below."""
        blocks = params.get("blocks") or []
        out = [f"[{where}]" + (f" [message {message}]" if message else "")]

        def number(element: dict[str, Any]) -> str:
            label = plain(str(element["text"]["text"]))
            self._buttons.append(Button(label, element["action_id"], element.get("value", "")))
            return f"({len(self._buttons)}) {label}"

        for block in blocks:
            if block.get("type") == "actions":
                out += [f"  {number(element)}" for element in block.get("elements", [])]
                continue
            own = block.get("accessory")
            text = "\n".join(plain(t) for t in block_texts({**block, "accessory": None}))
            lines = [f"  {line}" for line in text.splitlines()]
            if isinstance(own, dict) and own.get("type") == "button" and lines:
                lines[-1] += f"  {number(own)}"
            out += lines
        if not blocks and isinstance(params.get("text"), str):
            out += [f"  {line}" for line in plain(params["text"]).splitlines()]
        return "\n".join(out) + "\n"
