"""How `gobot local` asks what Slack shows before it sends anything: a button's `confirm`
dialog, answered y or n, and a form (a modal a command or a button opened), asked field by field
and submitted as Slack submits it; the errors the bot answers are said, and only those fields
asked again. A choice must be one of the field's, a date and time is typed in ISO 8601, a
channel is the demo's unless typed; an empty answer leaves a field as it is, and the end of the
input (or Ctrl-C) closes the form unsubmitted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.dev.local_console import Console
from bot.dev.local_slack import CHANNEL, USER, LocalSlack
from bot.dev.slack_requests import view_submission_body
from bot.slack.blocks import block_texts
from bot.slack.mrkdwn import plain
from core.clock import format_utc, parse_utc


def confirmed(confirm: dict[str, Any], console: Console) -> bool:
    """A button's `confirm` dialog, as Slack shows it before sending the action."""
    yes, no = (plain(str(confirm[k]["text"])) for k in ("confirm", "deny"))
    console.say(
        f"[asks: {plain(str(confirm['title']['text']))}] {plain(str(confirm['text']['text']))}"
    )
    while True:
        console.say(f"  y: {yes} / n: {no}:")
        line = console.next_line()
        answer = (line or "n").strip().lower()
        console.echo(f"  > {answer}")
        if answer in ("y", "n"):
            if answer == "n":
                console.say("(nothing was sent)")
            return answer == "y"
        console.fail("answer y or n")


def fill_forms(before: int, console: Console, slack: LocalSlack) -> None:
    """Each form opened after the first `before` (as `LocalSlack.forms_opened` counts them),
    filled in."""
    for view in slack.forms_since(before):
        _fill(view, console, slack)


def _fill(view: dict[str, Any], console: Console, slack: LocalSlack) -> None:
    """A form as Slack shows it, asked field by field, then submitted; what Slack would
    show beside a field is said, and those fields asked again. An end of input (or
    Ctrl-C) closes it unsubmitted."""
    inputs = [block for block in view.get("blocks", []) if block.get("type") == "input"]
    said = [
        plain(t) for b in view.get("blocks", []) if b.get("type") != "input" for t in block_texts(b)
    ]
    title = plain(str(view["title"]["text"]))
    console.say(" ".join([f"[form: {title}]", *said, "(an empty answer leaves a field as it is)"]))
    values: dict[str, str] = {}
    asking = inputs
    while asking:
        for block in asking:
            try:
                answer = _ask(block, console)
            except KeyboardInterrupt:  # Ctrl-C closes the form, as Escape does in Slack
                answer = None
            if answer is None:
                console.say("(form closed: nothing was submitted)")
                return
            values[str(block["block_id"])] = answer
        body = view_submission_body(
            str(view["callback_id"]), USER, str(view.get("private_metadata", "")), values
        )
        answer_body = slack.dispatch(body)
        errors: dict[str, str] = (json.loads(answer_body) if answer_body else {}).get(
            "errors"
        ) or {}
        for block_id, error in errors.items():
            console.fail(f"{block_id}: {error}")
        asking = [block for block in inputs if block["block_id"] in errors]
    slack.settle()


def _ask(block: dict[str, Any], console: Console) -> str | None:
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
        console.say(f"  {label}{hint}{'' if block.get('optional') else ' (required)'}:")
        line = console.next_line()
        if line is None:
            return None
        answer = line.strip()
        console.echo(f"  > {answer}")
        if kind == "datetimepicker" and answer:
            try:
                return str(int(parse_utc(answer).timestamp()))
            except ValueError:
                console.fail("type a date and time such as 2026-12-01T14:00Z")
                continue
        if not choices:
            return answer or default
        if not answer or answer in choices:
            return answer or default
        console.fail(f"choose one of {', '.join(choices)}")
