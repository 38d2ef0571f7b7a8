"""Who may drive the bot: operators change state, admins also reset the playbook.

IDs are Slack user IDs (`U…`/`W…`) or user-group IDs (`S…`); group membership is looked up
through an injected resolver. Refusals are audited (`GO_COMMAND_DENIED`) boundedly: the first
of each user in a `DENIAL_WINDOW`, the next one after it saying how many were not recorded, so
a flood of refused commands cannot flood the audit trail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Literal

from core.clock import Clock
from core.errors import GoError, PermissionDenied
from core.models import AuditEvent
from core.ports import UnitOfWork

log = logging.getLogger("gobot.access")

Role = Literal["operator", "admin"]
MembersOf = Callable[[str], Collection[str]]


class RateLimited(GoError):
    code = "rate_limited"


DENIAL_WINDOW = timedelta(minutes=1)
MAX_TRACKED_USERS = 10_000


class AccessPolicy:
    def __init__(
        self,
        operators: Collection[str],
        admins: Collection[str],
        members_of: MembersOf,
        uow: UnitOfWork,
        clock: Clock,
    ) -> None:
        self._operators = tuple(operators)
        self._admins = tuple(admins)
        self._members_of = members_of
        self._uow = uow
        self._clock = clock
        self._denied: OrderedDict[str, tuple[datetime, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _unrecorded_before(self, user: str, now: datetime) -> int | None:
        """How many of the user's refusals went unrecorded before this one, or None if this one
        falls in the user's current window and is only counted."""
        with self._lock:
            since, count = self._denied.pop(user, (now - DENIAL_WINDOW, 0))
            if now - since < DENIAL_WINDOW:
                self._denied[user] = (since, count + 1)
                return None
            self._denied[user] = (now, 0)
            while len(self._denied) > MAX_TRACKED_USERS:
                self._denied.popitem(last=False)
            return count

    def _in_group(self, user: str, ids: tuple[str, ...]) -> bool:
        return any(entry.startswith("S") and user in self._members_of(entry) for entry in ids)

    def allows(self, user: str, role: Role) -> bool:
        """What needs no look-up is decided first: a user listed by ID, or everyone when no
        operators are listed, is never refused because a group's look-up failed."""
        operator = role == "operator"
        if (operator and (not self._operators or user in self._operators)) or user in self._admins:
            return True
        if operator and self._in_group(user, self._operators):
            return True
        return self._in_group(user, self._admins)

    def permits(self, user: str, role: Role) -> bool:
        """A quiet check (no audit record): whether the user has the role; False when it
        cannot be checked (a failed membership look-up), as `check` refuses then."""
        try:
            return self.allows(user, role)
        except Exception:
            log.warning("could not check whether %s is a gobot %s", user, role)
            return False

    def check(self, user: str, role: Role, command: str, channel: str | None) -> None:
        """Raise PermissionDenied (and audit the attempt) unless the user has the role."""
        try:
            allowed = self.allows(user, role)
            problem = None
        except Exception as exc:  # membership lookup failed: fail closed, say why
            allowed, problem = False, f"{type(exc).__name__}: {exc}"
        if allowed:
            return
        now = self._clock.now()
        unrecorded = self._unrecorded_before(user, now)
        if unrecorded is not None:
            with self._uow:
                self._uow.audit.append(
                    AuditEvent(
                        event="GO_COMMAND_DENIED",
                        actor=user,
                        channel=channel,
                        data={
                            "command": command,
                            "role": role,
                            **({"problem": problem} if problem else {}),
                            **({"unrecorded_before": unrecorded} if unrecorded else {}),
                        },
                    ),
                    now,
                )
                self._uow.commit()
        if problem:
            raise PermissionDenied("Your access could not be checked right now; try again soon.")
        if role == "admin":
            raise PermissionDenied(f"Only gobot admins may {command}.")
        raise PermissionDenied(f"Only gobot operators may {command}. Ask an admin to add you.")


class RateLimiter:
    """At most `limit` changes per user in any sliding `window` seconds (per process). Only
    changes that happened count (`record`); the table keeps at most `max_users` users, the
    least recently active dropped first."""

    def __init__(
        self,
        limit: int,
        window: float,
        monotonic: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        self._limit = limit
        self._window = window
        self._monotonic = monotonic
        self._max_users = max_users
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, user: str, now: float) -> deque[float]:
        recent = self._seen.pop(user, None) or deque()
        while recent and now - recent[0] >= self._window:
            recent.popleft()
        self._seen[user] = recent
        while len(self._seen) > self._max_users:
            self._seen.popitem(last=False)
        return recent

    def check(self, user: str) -> None:
        """Raise RateLimited if the user has made `limit` changes within the window."""
        now = self._monotonic()
        with self._lock:
            recent = self._recent(user, now)
            if len(recent) >= self._limit:
                wait = max(1, round(self._window - (now - recent[0])))
                raise RateLimited(
                    f"Easy there: that is a lot of changes at once. Try again in {wait}s."
                )

    def record(self, user: str) -> None:
        now = self._monotonic()
        with self._lock:
            self._recent(user, now).append(now)
