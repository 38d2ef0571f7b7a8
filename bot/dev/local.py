"""`gobot local`: the whole bot in a terminal, with no Slack at all.

Typed slash commands go through the real Bolt pipeline (signed as Slack signs them, real
listeners, real core, real scheduler) against the loopback Slack stand-in; what the channel and
the user would see is printed as text, and buttons become numbered actions. Nothing leaves the
machine.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import SecretStr
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import Call, FakeSlack, button_click_body, slash_command_body
from bot.settings import Settings
from bot.slack.commands import COMMANDS
from bot.slack.views import block_texts
from core.durations import parse_duration

USER, CHANNEL = "ULOCAL", "CLOCAL"
REPLY_TIMEOUT_SECONDS = 15.0
HELP = (
    f"Type a slash command ({', '.join(f'/go-{c.usage}' for c in COMMANDS if c.reach == 'slash')}"
    ", /go help), a number to press a button, `wait 5s` to let time pass, or `exit`."
)


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str


def _plain(text: str) -> str:
    """mrkdwn as a terminal shows it: entities back to characters, mentions as names."""
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    return html.unescape(text)


class LocalBot:
    def __init__(self, settings: Settings, out: TextIO) -> None:
        self._out = out
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

    # input ---------------------------------------------------------------------------------
    def run(self, lines: Iterable[str], echo: bool, prompt: Callable[[], None]) -> None:
        self._say(HELP)
        prompt()
        for raw in lines:
            line = raw.strip()
            if echo and line:
                self._say(f"> {line}")
            if line in ("exit", "quit"):
                return
            if line:
                self.handle(line)
            prompt()

    def handle(self, line: str) -> None:
        if line.startswith("wait"):
            try:
                time.sleep(
                    parse_duration(line.removeprefix("wait").strip() or "1s").total_seconds()
                )
            except ValueError as exc:
                self._say(f"! {exc}")
            self.flush()
            return
        if line.isdigit():
            self._press(int(line))
            return
        if not line.startswith("/"):
            self._say(f"! Not a command. {HELP}")
            return
        command, _, text = line.partition(" ")
        token = uuid.uuid4().hex
        self._dispatch(
            slash_command_body(command, text, USER, CHANNEL, self._fake.response_url(token))
        )
        self._await_reply(token)

    def _press(self, number: int) -> None:
        with self._lock:
            button = self._buttons[number - 1] if 0 < number <= len(self._buttons) else None
        if button is None:
            self._say("! No such button.")
            return
        token = uuid.uuid4().hex
        self._dispatch(
            button_click_body(
                button.action_id, button.value, USER, CHANNEL, self._fake.response_url(token)
            )
        )
        self._await_reply(token, quiet_ok=True)

    def _dispatch(self, body: str) -> None:
        stamp = str(int(time.time()))
        headers: dict[str, str | Sequence[str]] = {
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": str(self._verifier.generate_signature(timestamp=stamp, body=body)),
            "content-type": "application/x-www-form-urlencoded",
        }
        response = self._runtime.app.dispatch(BoltRequest(body=body, headers=headers))
        if response.status != 200:
            self._say(f"! the bot answered HTTP {response.status}")

    def _await_reply(self, token: str, quiet_ok: bool = False) -> None:
        got = self._fake.wait_for(
            lambda f: any(c.method == token for c in f.responses), REPLY_TIMEOUT_SECONDS
        )
        self.flush()
        if not got and not quiet_ok:
            self._say("! no answer yet; it may still come")
        for call in [c for c in self._fake.responses if c.method == token]:
            self._show("you only", call.params)

    # output --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        with self._lock:
            self._out.write(text + "\n")
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
            self._show(where, call.params)
        elif call.method == "chat.update":
            self._show("#local, message updated", call.params)

    def _show(self, where: str, params: dict[str, Any]) -> None:
        texts = [_plain(t) for t in block_texts(params.get("blocks") or [])]
        buttons = [
            element
            for block in params.get("blocks") or []
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]
        lines = [t for t in texts if t not in {_plain(block_texts(b)[0]) for b in buttons}]
        if not lines and isinstance(params.get("text"), str):
            lines = [_plain(params["text"])]
        out = [f"[{where}]"] + [f"  {line}" for t in lines for line in t.splitlines()]
        with self._lock:
            for element in buttons:
                label = _plain(block_texts(element)[0])
                self._buttons.append(Button(label, element["action_id"], element.get("value", "")))
                out.append(f"  ({len(self._buttons)}) {label}")
            self._out.write("\n".join(out) + "\n")
            self._out.flush()
