"""`gobot local`'s Slack: the loopback Slack stand-in (bot.dev.fake_slack) the local gobot talks
to, and the demo's side of it. What the user does reaches the real Bolt app as Slack sends it
(signed with the demo's own signing secret); what the bot sent to the channel, or to the user
alone, is shown when it arrives: every 0.2s, and once the work of a request is done. `@alice`
and `@bob` are people Slack knows besides the user: `@name` becomes the mention Slack sends.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import Runtime
from bot.dev.fake_slack import Call, FakeSlack
from bot.dev.local_console import Console
from bot.dev.local_screen import Screen
from bot.dev.slack_requests import event_callback_body
from bot.settings import Settings

USER, CHANNEL = "ULOCAL", "CLOCAL"
REPLY_TIMEOUT_SECONDS = 15.0
PEOPLE = {"alice": "UALICE", "bob": "UBOB"}  # whom `@name` mentions, as Slack would
KNOWN = ", ".join(f"@{name}" for name in PEOPLE)
MENTION = re.compile(r"(?<![<\w])@([A-Za-z][\w-]*)")


class LocalSlack:
    def __init__(
        self, console: Console, screen: Screen, elsewhere: Callable[[], list[str]]
    ) -> None:
        """`elsewhere`: lines from outside Slack to show in turn with what reached it (what
        GitHub received)."""
        self._console = console
        self._screen = screen
        self._elsewhere = elsewhere
        self._fake = FakeSlack().start()
        self._secret = secrets.token_hex(16)
        self._verifier = SignatureVerifier(self._secret)
        self._runtime: Runtime | None = None
        self._events = 0
        self._shown = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._printer = threading.Thread(target=self._print_loop, daemon=True)

    def configure(self, settings: Settings) -> Settings:
        """`settings` with the loopback Slack's URL and the demo's token and signing secret."""
        return settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-local"),
                "slack_signing_secret": SecretStr(self._secret),
                "slack_api_url": self._fake.api_url,
            }
        )

    def attach(self, runtime: Runtime) -> None:
        """The local gobot, which the requests are sent to."""
        self._runtime = runtime

    def _attached(self) -> Runtime:
        assert self._runtime is not None, "attach first"
        return self._runtime

    def start_printing(self) -> None:
        """From now on, what reaches Slack is shown every 0.2s, whatever else goes on."""
        self._printer.start()

    def stop_printing(self) -> None:
        """No more of that (`close` shows what is left)."""
        self._stop.set()

    def close(self) -> None:
        """Show what is left to show, then stop the loopback Slack."""
        self.flush()
        self._fake.stop()

    # what the user does --------------------------------------------------------------------
    def response_url(self, token: str) -> str:
        return self._fake.response_url(token)

    def forms_opened(self) -> int:
        """How many forms the bot has opened so far."""
        return len(self._fake.calls_to("views.open"))

    def forms_since(self, before: int) -> list[dict[str, Any]]:
        """The forms opened after the first `before` (as `forms_opened` counts them)."""
        return [call.params["view"] for call in self._fake.calls_to("views.open")[before:]]

    def mentions(self, text: str, *, escaped: bool) -> str:
        """`@alice` as Slack sends a mention of someone it knows: `<@UALICE|alice>` in a
        command that escapes them, `<@UALICE>` in a message; anyone else stays text, said so."""

        def mention(found: re.Match[str]) -> str:
            name = found.group(1).lower()
            if name not in PEOPLE:
                self._console.say(
                    f"({found.group(0)} is nobody the demo knows: it knows {KNOWN}; left as text)"
                )
                return found.group(0)
            return f"<@{PEOPLE[name]}|{name}>" if escaped else f"<@{PEOPLE[name]}>"

        return MENTION.sub(mention, text)

    def post(self, text: str) -> str:
        """A message from the user in the channel, its mentions as Slack sends them; its ts."""
        return self._fake.post_directly(CHANNEL, self.mentions(text, escaped=False), user=USER)

    def send_event(self, event: dict[str, Any]) -> None:
        """An Events API callback carrying `event`, as Slack sends it (each with its own id)."""
        self._events += 1
        self.dispatch(event_callback_body(event, f"EvLOCAL{self._events}"), "application/json")

    def dispatch(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> str:
        """Sign and hand a request to the app as Slack would; the body of its answer."""
        stamp = str(int(time.time()))
        headers: dict[str, str | Sequence[str]] = {
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": str(self._verifier.generate_signature(timestamp=stamp, body=body)),
            "content-type": content_type,
        }
        response = self._attached().app.dispatch(BoltRequest(body=body, headers=headers))
        if response.status != 200:
            self._console.say(f"! the bot answered HTTP {response.status}")
        return str(response.body or "")

    # what the bot does ---------------------------------------------------------------------
    def settle(self, *first: str) -> None:
        """Wait for the work of what was just sent (the work keyed `first`, then the channel's
        and a form's), then show it."""
        work = self._attached().work
        for key in (*first, f"modal:{USER}", CHANNEL):
            if not work.wait_idle(key, REPLY_TIMEOUT_SECONDS):
                self._console.fail("no answer yet; it may still come")
        self.flush()

    def await_reply(self, token: str, forms: int) -> None:
        """The answer to a command, or the form it opened (`forms`: how many were before)."""
        got = self._fake.wait_for(
            lambda f: (
                any(c.method == token for c in f.responses) or len(f.calls_to("views.open")) > forms
            ),
            REPLY_TIMEOUT_SECONDS,
        )
        self.flush()
        if not got:
            self._console.fail("no answer yet; it may still come")
        self.show_replies(token)

    def show_replies(self, token: str) -> None:
        """What the user alone was told in answer to request `token`."""
        for call in [c for c in self._fake.responses if c.method == token]:
            self._show_private(call.params)

    def _show_private(self, params: dict[str, Any]) -> None:
        if any(mark in str(params) for mark in (":warning:", ":x:")):
            self._console.failures += 1
        self._screen.show("you only", params)

    def _print_loop(self) -> None:
        while not self._stop.wait(0.2):
            self.flush()

    def flush(self) -> None:
        """Print what reached the channel since last time (all of it before what is said
        after: one flush at a time), and then what came from elsewhere."""
        with self._flushing:
            with self._lock:
                calls = self._fake.calls[self._shown :]
                self._shown += len(calls)
            for call in calls:
                self._show_call(call)
            for line in self._elsewhere():
                self._console.say(line)

    def _show_call(self, call: Call) -> None:
        if call.method == "chat.postMessage":
            where = "#local, in thread" if call.params.get("thread_ts") else "#local"
            if call.params.get("reply_broadcast"):
                where += " (also sent to the channel)"
            ts = next((m.ts for m in self._fake.messages.values() if m.params is call.params), "")
            key = (str(call.params.get("channel")), ts)
            self._screen.show(where, call.params, self._screen.number(ts), key)
        elif call.method == "chat.postEphemeral":
            self._show_private(call.params)
        elif call.method == "chat.update":
            key = (str(call.params.get("channel")), str(call.params.get("ts")))
            if key in self._fake.messages:
                self._screen.show("#local, message updated", call.params, key=key)
            else:
                self._console.say(
                    "[#local] (the session's post was made in an earlier run: not updated)"
                )
