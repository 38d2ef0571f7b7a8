"""Delivery of the outbox: lease, send in order per session, retry with backoff (a 429's
Retry-After pauses every message of this process to the same destination, not only the refused
one: Slack's pause never holds an answer to GitHub, nor GitHub's a Slack message), give up only
on what can never be delivered (audited as GO_POST_FAILED, and the operator told). What Slack
refuses until a person acts (invite the bot, reinstall the app) waits, retried slowly; the
operator is told once, and `waiting()` says what for (for /healthz).

Every Slack message, whichever path sends it (right after a command, a tick's pass, a woken
channel), first takes its tokens from the process's one `SlackPace` (app-wide and per
channel); one that finds none stays in the outbox for a later pass, so no sender ever waits for
Slack's budget. GitHub's answers are not paced by Slack's budget."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock
from core.models import AuditEvent, Delivery, MessageRef
from core.outbox import SESSION_BOUND, Destination, Failed, OutboxItem, Sent, backoff, destination
from core.pace import SlackPace
from core.ports import Transport, UnitOfWork

log = logging.getLogger("gobot.delivery")
# The messages later ones refer to: the post (its thread), the playbook message (edited) and a
# waiting deployment's message (edited once it is answered).
REMEMBERED = {"snapshot": "post", "playbook": "playbook", "deploy": "post"}


@dataclass
class DeliveryPass:
    attempted: int = 0
    deferred: int = 0


class DeliveryService:
    def __init__(
        self,
        uow: UnitOfWork,
        transport: Transport,
        clock: Clock,
        *,
        lease: timedelta = timedelta(seconds=25),
        pace: SlackPace | None = None,
    ) -> None:
        """`lease`: how long an attempt may take before another sender may retry the item (a
        crashed sender's items wait that long); keep it above the Slack call timeout. `pace`:
        Slack's budget (by default Slack's published limits)."""
        self._lease = lease
        self._uow = uow
        self._outbox = uow.outbox
        self._store = uow.sessions
        self._transport = transport
        self._audit = uow.audit
        self._clock = clock
        self._pace = pace or SlackPace(clock)
        self._paused_until: dict[Destination, datetime] = {}  # said wait (429): to all it gets
        self._waiting: dict[str, str] = {}  # item id -> what Slack said, seen by this process

    def waiting(self) -> Counter[str]:
        """Messages this process saw Slack refuse until a person acts, by Slack's error."""
        return Counter(self._waiting.values())

    def wake(self, channel: str) -> int:
        """What a channel's messages waited for happened (the bot joined it): each session's
        messages there are delivered now, in order; returns how many were waiting."""
        now = self._clock.now()
        with self._uow:
            woken = self._outbox.wake(channel, now)
            self._uow.commit()
        for session_id in {i.session_id for i in self._outbox.ready(now) if i.channel == channel}:
            self.deliver(session_id)
        return woken

    def deliver(self, session_id: str) -> Delivery:
        """Send a session's pending items now, in order; report on the first one tried. Called
        once a change has committed, so it never raises: what it cannot do now (the store
        refuses the lease, Slack is away) waits in the outbox, and the caller says so."""
        first: Delivery | None = None
        try:
            while True:
                now = self._clock.now()
                item = self._outbox.ready_of(session_id, now)
                if item is None or self._paused(item, now) or not self._may_send(item):
                    return first or Delivery(pending=True)
                outcome = self._attempt(item, tell_operator=False)  # the caller replies itself
                first = first or outcome
                if outcome.problem is not None or outcome.pending:
                    return first
        except Exception as exc:
            log.warning(
                "messages of session %s wait in the outbox: %s", session_id, type(exc).__name__
            )
            return Delivery(pending=True)

    def deliver_ready(self) -> DeliveryPass:
        """One pass over every session's next item, as far as Slack's budget allows; the rest
        is deferred to the next pass. What goes to a paused destination waits for the next
        tick."""
        result = DeliveryPass()
        now = self._clock.now()
        for item in self._outbox.ready(now):
            if self._paused(item, self._clock.now()):
                continue  # waits for the next tick, not for this pass
            if not self._may_send(item):
                result.deferred += 1
                continue
            try:
                self._attempt(item)
            except Exception:
                log.exception("delivery of %s failed; the others go on", item.id)
            result.attempted += 1
        return result

    def wait(self) -> timedelta:
        """How long until Slack's app-wide budget allows a message again."""
        return self._pace.wait()

    def _may_send(self, item: OutboxItem) -> bool:
        """A Slack message takes its tokens now, or waits; GitHub's answers always may go."""
        return destination(item.kind) != "slack" or self._pace.take(item.channel or "")

    def _paused(self, item: OutboxItem, now: datetime) -> bool:
        until = self._paused_until.get(destination(item.kind))
        return until is not None and now < until

    def _pause(self, item: OutboxItem, until: datetime) -> None:
        """The item's destination rate-limited gobot: everything sent there waits until
        `until`, not only the one it refused (the app shares one budget)."""
        to = destination(item.kind)
        paused = self._paused_until.get(to)
        if paused is None or until > paused:
            log.warning("%s asked gobot to slow down: nothing is sent there before %s", to, until)
            self._paused_until[to] = until

    def _attempt(self, item: OutboxItem, *, tell_operator: bool = True) -> Delivery:
        now = self._clock.now()
        with self._uow:
            leased = self._outbox.lease(item, now, now + self._lease)
            if leased is None:
                return Delivery(pending=True)  # another sender has it
            moot = leased.kind in SESSION_BOUND and not self._still_active(leased)
            if moot:
                self._outbox.done(leased)  # the session ended: its reminders are moot
            self._uow.commit()
        if moot:
            return Delivery()
        result = self._transport.send(leased, self._outbox.posted(leased.session_id))
        if isinstance(result, Sent):
            if not result.posted and destination(leased.kind) == "slack":
                self._pace.give_back(leased.channel or "")
            self._sent(leased, result.message)
            return Delivery(message=result.message)
        return self._failed(leased, result, tell_operator=tell_operator)

    def _still_active(self, item: OutboxItem) -> bool:
        current = self._store.get(item.scope)
        return current is not None and current.active and current.id == item.session_id

    def _sent(self, item: OutboxItem, message: MessageRef | None) -> None:
        self._waiting.pop(item.id, None)
        with self._uow:
            role = REMEMBERED.get(item.kind)
            if role is not None and message is not None:
                posted = self._outbox.posted(item.session_id)
                if getattr(posted, role) != message:
                    update = {role: message}
                    self._outbox.set_posted(item.session_id, posted.model_copy(update=update))
            if item.kind == "snapshot" and message is not None:
                current = self._store.get(item.scope)
                if current is not None and current.id == item.session_id:
                    self._store.replace(current.model_copy(update={"message": message}))
            self._outbox.done(item)
            self._uow.commit()

    def _failed(self, item: OutboxItem, failure: Failed, *, tell_operator: bool) -> Delivery:
        self._waiting.pop(item.id, None)
        if failure.permanent:
            with self._uow:
                self._audit.append(
                    AuditEvent(
                        event="GO_POST_FAILED",
                        actor=item.actor or "gobot",
                        channel=item.channel,
                        session_id=item.session_id,
                        data={"kind": item.kind, "error": failure.error, "attempts": item.attempts},
                    ),
                    self._clock.now(),
                )
                self._outbox.done(item)
                self._uow.commit()
            if tell_operator:
                self._transport.tell_operator(item, failure.error)
            return Delivery(problem=failure.error)
        wait = (
            timedelta(seconds=failure.retry_after)
            if failure.retry_after is not None
            else backoff(item.attempts)
        )
        next_attempt = self._clock.now() + wait
        if failure.retry_after is not None:
            self._pause(item, next_attempt)
        tell = failure.waiting and not item.operator_told
        with self._uow:
            self._outbox.retry(item, next_attempt, failure, told=failure.waiting)
            self._uow.commit()
        if failure.waiting:
            self._waiting[item.id] = failure.error
            if tell and tell_operator:
                self._transport.tell_operator(item, failure.error)
        log.info(
            "%s for session %s: %s; retry at %s",
            item.kind,
            item.session_id,
            failure.error,
            next_attempt,
        )
        return (
            Delivery(problem=failure.error, pending=True)
            if failure.waiting
            else Delivery(pending=True)
        )
