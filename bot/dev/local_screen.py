"""What `gobot local` shows: Slack's messages as text, with their buttons and the messages of
the channel numbered, printed between prompts (interactively, the prompt and what was typed so
far are drawn again below whatever arrives meanwhile). A button's number belongs to the
rendering that showed it: once its message is edited, the number is outdated, as Slack shows
only a message's latest version."""

from __future__ import annotations

import readline
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from bot.slack.blocks import block_texts
from bot.slack.mrkdwn import plain


@dataclass(frozen=True)
class Button:
    """A numbered button, of one rendering of its message (`message`: its channel and ts and
    the rendering's version, None where Slack never replaces it)."""

    label: str
    action_id: str
    value: str
    confirm: dict[str, Any] | None = None
    message: tuple[str, str, int] | None = None


class Screen:
    def __init__(self, out: TextIO, *, interactive: bool) -> None:
        self._out = out
        self._interactive = interactive
        self._lock = threading.Lock()
        self._buttons: list[Button] = []
        self._messages: list[str] = []  # the ts of each numbered message in #local
        self._versions: dict[tuple[str, str], int] = {}  # how often each message was rendered
        self._reading = False  # the prompt is on the screen, waiting for a line

    def prompt_shown(self, shown: bool) -> None:
        """The prompt is on the screen waiting for a line (or no longer)."""
        with self._lock:
            self._reading = shown

    def say(self, text: str) -> None:
        with self._lock:
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        if self._interactive:
            prompt = "> " + readline.get_line_buffer() if self._reading else ""
            self._out.write("\r\x1b[K" + text + prompt)
        else:
            self._out.write(text)
        self._out.flush()

    def button(self, number: int) -> tuple[Button | None, bool]:
        """Button `number`, and whether it is outdated (its message was edited since)."""
        with self._lock:
            if not 0 < number <= len(self._buttons):
                return None, False
            button = self._buttons[number - 1]
            if button.message is None:
                return button, False
            channel, ts, version = button.message
            return button, self._versions.get((channel, ts), version) != version

    def message_number(self, ts: str) -> int:
        """The number of the message at `ts` (0: none)."""
        with self._lock:
            return self._messages.index(ts) + 1 if ts in self._messages else 0

    def message_ts(self, number: int) -> str | None:
        with self._lock:
            return self._messages[number - 1] if 0 < number <= len(self._messages) else None

    def messages(self) -> int:
        with self._lock:
            return len(self._messages)

    def number(self, ts: str) -> int:
        """A number of its own for the message at `ts`, for `pin N`."""
        with self._lock:
            self._messages.append(ts)
            return len(self._messages)

    def show(
        self,
        where: str,
        params: dict[str, Any],
        message: int | None = None,
        key: tuple[str, str] | None = None,
    ) -> None:
        """A message shown; `key` (its channel and ts): a message in the channel, whose
        buttons belong to this rendering of it alone."""
        with self._lock:
            of = None
            if key is not None:
                self._versions[key] = self._versions.get(key, -1) + 1
                of = (*key, self._versions[key])
            self._write(self._render(where, params, message, of))

    def _render(
        self,
        where: str,
        params: dict[str, Any],
        message: int | None,
        of: tuple[str, str, int] | None,
    ) -> str:
        """A message's text (with its number, if it is one in the channel), its buttons
        numbered (of the rendering `of`): a block's own button (a playbook step's) at the end
        of its line, a row of buttons each on a line below; one that asks first says so."""
        blocks = params.get("blocks") or []
        out = [f"[{where}]" + (f" [message {message}]" if message else "")]

        def number(element: dict[str, Any]) -> str:
            label = plain(str(element["text"]["text"]))
            confirm = element.get("confirm")
            self._buttons.append(
                Button(label, element["action_id"], element.get("value", ""), confirm, of)
            )
            return f"({len(self._buttons)}) {label}" + (" (asks first)" if confirm else "")

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
