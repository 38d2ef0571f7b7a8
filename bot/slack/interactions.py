"""The one path every interaction takes, and the one map from errors to what a Slack user
reads (`user_message`).

Every trigger of every capability (`bot.slack.capability`) goes through `Interactions.run`:
authorize → rate-limit → replay check → read the typed input → one service call → render →
metric and log line. A form is opened by its capability's handler (it returns `OpenForm`), so
opening one is authorized like anything else; the message a shortcut or reaction is about is
read from Slack by its handler, after authorization.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from bot.observability import Metrics
from bot.slack.blocks import Blocks, text_message
from bot.slack.capability import FORGED, Command, Invocation, OpenForm, Outputs, Refusal
from bot.slack.mrkdwn import channel, date, plain, safe, who
from core.access import AccessPolicy, RateLimiter
from core.errors import (
    FreezeInForce,
    GoError,
    InvalidInput,
    OutcomeUnknown,
    PermissionDenied,
    SessionAlreadyActive,
    SessionElsewhere,
    StoreUnavailable,
)
from core.services import Services
from core.windows import NAMES, WindowOverlap

log = logging.getLogger("gobot.commands")
UMBRELLA = "/go"


@dataclass(frozen=True)
class Reply:
    """What an interaction answers, and how it went (for the log line and the metrics); a
    workflow step's outputs, or (for anything but `ok`) what went wrong in plain text."""

    name: str
    blocks: Blocks | None
    outcome: str
    outputs: Mapping[str, str | int | bool] | None = None
    error: str | None = None
    form: Mapping[str, Any] | None = None


def user_message(error: BaseException, undone: str = "Nothing was done") -> str:
    """The one map from errors to what a Slack user reads: a typed error says what happened
    (a store failure also whether anything changed); anything else gets a short id that is also
    logged, never a stack trace."""
    if isinstance(error, OutcomeUnknown):
        return (
            f":warning: {safe(error.message[:1].upper() + error.message[1:])}. Check with "
            "`/go-session` before trying again; the same command run again is not done twice."
        )
    if isinstance(error, StoreUnavailable):
        if error.kept:
            return f":warning: {safe(error.message[:1].upper() + error.message[1:])}."
        return (
            f":warning: {undone}: {safe(error.message)}. Nothing changed; try again once that "
            "is fixed."
        )
    if isinstance(error, SessionAlreadyActive):
        active = error.session
        where = f" in {channel(active.channel)}" if active.channel else ""
        return (
            f":warning: A GO session is already active: started by {who(active.started_by)}"
            f"{where} at {date(active.started_at_utc)}."
        )
    if isinstance(error, SessionElsewhere):
        return (
            f":warning: That button belongs to the GO session in {channel(error.session.channel)}"
            ": use it there. Nothing changed."
        )
    if isinstance(error, Refusal):
        return f":warning: {error.mrkdwn}"
    if isinstance(error, FreezeInForce):
        freeze = error.freeze
        return (
            f":snowflake: A change freeze is in force until {date(freeze.ends_at_utc)}: "
            f"{safe(freeze.notes, 500)} (freeze `{freeze.id}`). A gobot admin may start anyway, "
            "saying why: `/go-start --override &lt;reason&gt;`."
        )
    if isinstance(error, WindowOverlap):
        other = error.other
        return (
            f":warning: That overlaps the {NAMES[other.kind]} of {date(other.starts_at_utc)} to "
            f"{date(other.ends_at_utc)} in {channel(other.channel)} (scheduled by "
            f"{who(other.scheduled_by)}): move or cancel one of them."
        )
    if isinstance(error, GoError):
        return f":warning: {safe(error.message)}"
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=error)
    return (
        f":x: Something went wrong (error id `{error_id}`); it may not have been done. "
        "Check with `/go-session` before trying again."
    )


def parse(command: str, text: str) -> tuple[str, str]:
    """`/go-start x` and `/go start x` both give `("start", "x")`."""
    text = (text or "").strip()
    name = command.strip().lstrip("/")
    if name.startswith("go-"):
        return name.removeprefix("go-"), text
    first, _, rest = text.partition(" ")
    return (first.lower() or "help"), rest.strip()


class Interactions:
    """authorize → rate-limit → replay check → typed input → one service call → render →
    metric and log line, for every interaction."""

    def __init__(
        self,
        services: Services,
        access: AccessPolicy,
        limiter: RateLimiter,
        metrics: Metrics,
        denials: RateLimiter,
    ) -> None:
        """`limiter` counts the changes a user made; `denials` the commands refused to a user
        who may not make them, so that a flood of those is cut short too."""
        self._services = services
        self._access = access
        self._limiter = limiter
        self._metrics = metrics
        self._denials = denials

    def may(self, user: str, command: Command) -> bool:
        """Whether the user has the command's role (a quiet check, for what nobody asked of
        gobot directly: a stranger's reaction costs no Slack call and no audit record)."""
        return command.role is None or self._access.permits(user, command.role)

    def run(self, command: Command, call: Invocation, received: float) -> Reply:
        """`call` reaching `command`: refused (as the error map says) unless the user has its
        role and is within its limit; acted on once per signed request; its typed input read
        (a value gobot never made is refused with `FORGED`); then its handler: an answer, a
        workflow step's outputs, or a form to open (which counts as no change)."""
        try:
            if command.role is not None:
                self._denials.check(call.user)
                try:
                    self._access.check(call.user, command.role, command.verb, call.channel)
                except PermissionDenied:
                    self._denials.record(call.user)
                    raise
            if command.limited:
                self._limiter.check(call.user)
            if command.role is not None and not self._first_time(call):
                log.warning("a replayed %s request was not acted on", command.name)
                return self.tell(Reply(command.name, None, "replayed"), call, received)
            try:
                given = command.input.of(call)
            except (ValidationError, ValueError):
                raise InvalidInput(FORGED) from None
            result = command.handler(self._services, replace(call, access=self._access), given)
            if isinstance(result, OpenForm):
                reply = Reply(command.name, None, "opened", form=result.view)
            elif isinstance(result, Outputs):
                reply = Reply(command.name, None, "ok", outputs=result.values)
            else:
                reply = Reply(command.name, result, "ok")
            if command.limited and reply.form is None:
                self._limiter.record(call.user)  # only changes that happened count
        except Exception as exc:
            text = user_message(exc, command.undone)
            code = exc.code if isinstance(exc, GoError) else "error"
            error = plain(re.sub(r"^:[a-z_]+: ", "", text)).replace("`", "")
            reply = Reply(command.name, text_message(text), code, error=error)
        return self.tell(reply, call, received)

    def _first_time(self, call: Invocation) -> bool:
        if call.request is None:
            return True
        uow = self._services.uow
        with uow:
            first = uow.requests.first(call.request, self._services.clock.now())
            uow.commit()
        return first

    def tell(self, reply: Reply, call: Invocation, received: float) -> Reply:
        """The metric and the log line of an interaction's reply."""
        latency_ms = round((time.monotonic() - received) * 1000, 1)
        self._metrics.commands.labels(reply.name, reply.outcome).inc()
        log.info(
            "%s by %s: %s in %.1f ms",
            reply.name,
            call.user,
            reply.outcome,
            latency_ms,
            extra={
                "user": call.user,
                "command": reply.name,
                "outcome": reply.outcome,
                "latency_ms": latency_ms,
                "channel": call.channel,
            },
        )
        return reply
