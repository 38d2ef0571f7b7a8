"""`gobot local`'s words besides slash commands and buttons, each said to the console.

`wait 30m` moves the demo's own clock (real time plus what `wait` added) on at once, a tick at
a time, doing each tick's work (reminders, planned ends, windows, the digest) as it comes due;
Ctrl-C stops it where it is. `say text` posts a message as the user, and `pin N` reacts to
message N with the pin emoji, which adds it to the session's timeline (once). `gate [step]`
asks the gate as a CI job would; `deploy ENV` has GitHub ask about a deploy
(bot.dev.local_github). `health red "why"` and `band C "why"` (split as a shell splits words)
change what the next snapshot sees.
"""

from __future__ import annotations

import json
import shlex
import threading
from datetime import UTC, datetime, timedelta

from bot.bootstrap import Runtime
from bot.dev.local_console import Console
from bot.dev.local_github import ENVIRONMENTS, LocalGithub
from bot.dev.local_screen import Screen
from bot.dev.local_slack import CHANNEL, USER, LocalSlack
from bot.settings import Settings
from core.clock import format_utc
from core.durations import format_duration, parse_duration
from core.errors import GoError
from core.gate_models import GateRequest
from core.snapshots import CONE_FILE, HEALTH_FILE

SOURCE_WORDS = {"health": ("red", "yellow", "green"), "band": ("A", "B", "C", "D")}


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


def wait(
    how_long: str, console: Console, slack: LocalSlack, runtime: Runtime, clock: DemoClock
) -> None:
    """`wait 30m`: the demo's clock moves on at once, a tick at a time, and every tick's
    work is done (reminders, planned ends, windows, the digest) as it would be by then.
    Ctrl-C stops it where it is."""
    try:
        waited = parse_duration(how_long)
    except ValueError as exc:
        console.fail(str(exc))
        return
    passed = [timedelta(0)]
    stop = threading.Event()

    def steps() -> None:
        while passed[0] < waited and not stop.is_set():
            step = min(runtime.settings.tick, waited - passed[0])
            clock.advance(step)
            passed[0] += step
            runtime.ticker.tick()
            slack.flush()

    mover = threading.Thread(target=steps, name="gobot-local-wait", daemon=True)
    mover.start()
    try:
        mover.join()
    except KeyboardInterrupt:
        stop.set()
        mover.join()
        slack.flush()
        console.say(f"(interrupted after {format_duration(passed[0])}: it is {_now(clock)})")
        return
    slack.flush()
    console.say(f"({format_duration(waited)} later: it is {_now(clock)})")


def _now(clock: DemoClock) -> str:
    return format_utc(clock.now())[:19] + "Z"


def post(text: str, console: Console, slack: LocalSlack, screen: Screen) -> None:
    """`say text`: a message from you in #local, for `pin N`."""
    if not text:
        console.fail("Usage: say <text>")
        return
    ts = slack.post(text)
    screen.show("#local", {"text": f"@{USER}: {text}"}, screen.number(ts))


def pin(which: str, console: Console, slack: LocalSlack, screen: Screen, runtime: Runtime) -> None:
    """`pin N`: react to message N with the pin emoji, as Slack sends the event."""
    ts = screen.message_ts(int(which)) if which.isdigit() else None
    if ts is None:
        console.fail(f"Usage: pin N, N a message's number (1 to {screen.messages()})")
        return
    if any(
        entry.key == f"{CHANNEL}:{ts}"
        for session in runtime.services.sessions.active()
        for entry in session.timeline
    ):
        console.say(f"(message {which} is already on the session's timeline)")
        return
    item = {"type": "message", "channel": CHANNEL, "ts": ts}
    event = {
        "type": "reaction_added",
        "user": USER,
        "reaction": runtime.settings.pin_emoji,
        "item": item,
    }
    slack.send_event(event)
    slack.settle()


def gate(step: str, console: Console, slack: LocalSlack, runtime: Runtime) -> None:
    """Ask the gate as `gobot gate --step STEP` in a CI job would; its line in Slack shows
    as any message does."""
    asked = GateRequest(channel=CHANNEL, step=step or None, requester="ci")
    try:
        decision = runtime.services.gate.decide(asked, source="cli", actor="ci")
    except GoError as exc:
        console.fail(exc.message)
        return
    console.say(f"(the gate answers a CI job: {decision.state}: {decision.reason})")
    slack.settle()


def deploy(environment: str, console: Console, slack: LocalSlack, github: LocalGithub) -> None:
    """`deploy production`: GitHub asks gobot about a deploy (a signed webhook into the
    HTTP app); what the channel shows, and the answer GitHub receives, show when they
    come (at once, or once a session lets it go)."""
    if not environment or " " in environment:
        console.fail(f"Usage: deploy ENV (the demo gates {' and '.join(ENVIRONMENTS)})")
        return
    said, asked = github.deploy(environment)
    console.say(said)
    if asked is None:
        console.failures += 1
        return
    slack.settle(asked.work)


def set_source(word: str, rest: str, console: Console, settings: Settings) -> None:
    """`health red "db lag"` / `band C "why"`: what the next snapshot sees."""
    try:
        value, *why = shlex.split(rest) or [""]
    except ValueError as exc:  # an unclosed quote
        console.fail(f'{word}: {exc}; e.g. {word} {SOURCE_WORDS[word][0]} "why"')
        return
    choices = SOURCE_WORDS[word]
    match = next((c for c in choices if c.lower() == value.lower()), None)
    own = settings.health_source if word == "health" else settings.cone_source
    if match is None:
        console.fail(f'Usage: {word} {"|".join(choices)} "why"')
        return
    if own is not None:
        console.fail(f"{word} comes from GOBOT_{word.upper()}_SOURCE here, not from the demo")
        return
    reason = " ".join(why) or "set by hand"
    if word == "health":
        name, content = HEALTH_FILE, {"status": match, "reasons": [reason]}
    else:
        name, content = CONE_FILE, {"band": match, "reason": reason}
    (settings.data_dir / name).write_text(json.dumps(content), encoding="utf-8")
    console.say(f"({word} is now {match}: {reason})")
