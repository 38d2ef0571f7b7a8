"""Ports the services depend on. core/stores implements the stores and the unit of work that
binds them; bot/ implements the transport; core/approvals the second operator's approvals that
the session and playbook services ask for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from core.audit import Verification
from core.gate_models import Deployment
from core.models import (
    AuditEvent,
    Delivery,
    GoSession,
    GoWindow,
    MessageRef,
    PlaybookProgress,
    Posted,
    StepCompletion,
)
from core.outbox import Failed, OutboxItem, SendResult


class SessionStore(Protocol):
    def get(self, scope: str) -> GoSession | None:
        """The latest session of a scope, active or ended; None if the scope never had one."""
        ...

    def latest(self) -> GoSession | None:
        """The most recently started or ended session of any scope."""
        ...

    def active(self) -> list[GoSession]: ...

    def due(self, now: datetime) -> list[GoSession]:
        """Active sessions with a reminder or a health check due at `now` or before."""
        ...

    def create(self, session: GoSession) -> None:
        """Store a new active session; raise SessionAlreadyActive if its scope has one."""
        ...

    def finish(self, ended: GoSession) -> None:
        """Replace the active session of the same id with its ended form and add it to history.

        Raise NoActiveSession if that session is no longer the active one of its scope.
        """
        ...

    def replace(self, session: GoSession) -> bool:
        """Write a new version of the scope's current session (same id); False if the scope has
        moved on to another session. Callers check and write inside one unit of work."""
        ...

    def find(self, session_id: str) -> GoSession | None:
        """A session by id, active or ended; None if there is none."""
        ...

    def history(
        self,
        limit: int,
        scope: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> list[GoSession]:
        """Ended sessions, newest first (in the order they ended): those of `scope` (every
        scope if None) that ended at `since` or later and before `until`, `limit` of them
        after skipping the first `offset`. The cost follows the range, the page and the offset,
        not the length of history."""
        ...


class WindowStore(Protocol):
    """Planned GO windows."""

    def all(self) -> list[GoWindow]:
        """Every window, in the order of their start."""
        ...

    def get(self, window_id: str) -> GoWindow | None: ...

    def put(self, window: GoWindow) -> None:
        """Store a new window, or a window as it is now."""
        ...

    def between(self, start: datetime, end: datetime) -> list[GoWindow]:
        """Every window (any status) that starts within [start, end), in the order of their
        start. Read on its own, it waits for no writer."""
        ...


class ClaimStore(Protocol):
    """Keyed once-only claims (core/claims.py): what is owed once however many processes and
    replicas tick, claimed inside the unit of work that owes it."""

    def claim(self, key: str, now: datetime) -> bool:
        """Claim `key` at `now`; False if it was claimed already (by any process)."""
        ...

    def claimed(self, key: str) -> bool:
        """Whether `key` was claimed (a look before work that a claim would make moot)."""
        ...

    def all(self) -> dict[str, datetime]:
        """Every claim and when it was made (for `gobot migrate`)."""
        ...

    def prune(self, before: datetime, prefix: str = "") -> int:
        """Forget the claims of keys starting with `prefix` made before `before`; how many."""
        ...


class DeploymentStore(Protocol):
    """The GitHub deployments gobot was asked about, by id; each answered once."""

    def get(self, deployment_id: str) -> Deployment | None: ...

    def add(self, deployment: Deployment) -> bool:
        """Store a deployment gobot has not seen; False if one of its id is stored already (a
        redelivery, or the same run and environment asked again): nothing is written."""
        ...

    def put(self, deployment: Deployment) -> None:
        """Store a deployment as it is now (one of its id must be stored)."""
        ...

    def settle(self, deployment: Deployment) -> bool:
        """Store the answered form of a deployment if it is still pending; False if it was
        answered already (by this process or another): the caller drops its unit of work."""
        ...

    def pending(self) -> list[Deployment]:
        """Every deployment still waiting for an answer, oldest first."""
        ...

    def all(self) -> list[Deployment]:
        """Every deployment, oldest first (for `gobot migrate`)."""
        ...

    def by_session(self, session_id: str) -> list[Deployment]:
        """The deployments decided in (or waiting in) session `session_id`, oldest first."""
        ...

    def recent(self, limit: int) -> list[Deployment]:
        """The waiting deployments and the most recently answered ones, at most `limit` in
        all (the waiting ones first), newest first."""
        ...


class Deliverer(Protocol):
    """Sends what the outbox holds. Called right after a change, to deliver its messages now;
    anything it cannot deliver now stays in the outbox for the tick to retry."""

    def deliver(self, session_id: str) -> Delivery:
        """Try a session's pending messages now; report on the first."""
        ...


class NullDeliverer:
    """For processes with nothing to send to: messages wait in the outbox."""

    def deliver(self, session_id: str) -> Delivery:
        return Delivery(pending=True)


class Approvals(Protocol):
    """What needs a second operator (a step's id, or `START_APPROVAL`), and the asking."""

    def needs(self, key: str) -> bool: ...

    def ask(
        self, session: GoSession, key: str, *, by: str, notes: str = ""
    ) -> tuple[GoSession, bool]:
        """Inside a unit of work: ask for `key`'s approval on `by`'s behalf; the session as
        stored after, and whether it was asked now (False: it was pending already)."""
        ...


class ProgressStore(Protocol):
    """The global playbook progress of gobot before runs were per session: read once at
    upgrade, then archived."""

    def load(self) -> PlaybookProgress: ...

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        """Record a step done; the completion recorded before if it was done already."""
        ...

    def archive(self) -> None:
        """Set the progress aside (kept, no longer read)."""
        ...


class AuditLog(Protocol):
    def append(self, event: AuditEvent, at: datetime) -> dict[str, Any]:
        """Append one event to the hash chain and return the stored record."""
        ...

    def verify(self) -> Verification:
        """Check the whole chain, record by record, and its head."""
        ...

    def verify_recent(self) -> Verification:
        """Check what was appended since the last record this check verified (the whole chain
        the first time), that the record it verified is still in place, and the head; then
        remember the new last record. A mark that no longer holds means a full check."""
        ...

    def session_records(self, session: GoSession) -> list[dict[str, Any]]:
        """The records about `session`, oldest first, read whether or not the chain verifies.
        The cost follows the session's own records, not the length of the log."""
        ...

    def tail(self, limit: int) -> list[dict[str, Any]]:
        """The newest records, oldest first."""
        ...

    def lines(self) -> list[str]:
        """Every record as stored (its exact text), oldest first."""
        ...

    def restore(self, lines: Iterable[str]) -> int:
        """Append records copied from another chain, byte for byte, so they verify as they
        did; each must follow the last one (StoreCorrupted if not). How many were added."""
        ...


class Outbox(Protocol):
    def items(self) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        ...

    def add(self, items: list[OutboxItem]) -> None:
        """Record items (inside the unit of work of the change that owes them)."""
        ...

    def ready(self, now: datetime, limit: int = 1000) -> list[OutboxItem]:
        """The first pending item of each session, if it is due and not leased."""
        ...

    def ready_of(self, session_id: str, now: datetime) -> OutboxItem | None:
        """The first pending item of one session, if it is due and not leased (what a change
        owed, delivered right after it: found without reading every session's)."""
        ...

    def lease(self, item: OutboxItem, now: datetime, until: datetime) -> OutboxItem | None:
        """Take an item for sending; None if another sender holds it or it is gone. Taking
        over an expired lease marks the item `maybe_sent`: its sender died mid-attempt."""
        ...

    def done(self, item: OutboxItem) -> None: ...

    def retry(
        self, item: OutboxItem, next_attempt: datetime, failure: Failed, told: bool = False
    ) -> None: ...

    def wake(self, channel: str, now: datetime) -> int:
        """Make every pending item of a channel due now; return how many."""
        ...

    def drop(self, session_id: str, kinds: tuple[str, ...], now: datetime) -> int:
        """Remove a session's pending items of these kinds, except those being sent (leased
        past `now`, which stay ahead of what follows); return how many."""
        ...

    def depth(self) -> int: ...

    def set_posted(self, session_id: str, posted: Posted) -> None:
        """Where a session's messages landed: later messages reply in the post's thread, and
        the playbook message is edited in place."""
        ...

    def posted(self, session_id: str) -> Posted: ...

    def posts(self, session_ids: Sequence[str]) -> dict[str, MessageRef]:
        """Where each of these sessions' post landed, for those whose post did (one read for a
        page of history)."""
        ...


class Transport(Protocol):
    """Renders and sends one outbox item (the Slack side)."""

    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        """Send `item`; `posted` says where the session's earlier messages landed."""
        ...

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        """Best effort: tell whoever caused the item that it could not be delivered."""
        ...


class RequestLedger(Protocol):
    """Signed requests already acted on, kept for Slack's replay window (and a margin)."""

    def first(self, key: str, now: datetime) -> bool:
        """Record `key`; False if it was recorded within the window (a replay)."""
        ...


class UnitOfWork(Protocol):
    """The stores, and the one way to change them together: `with uow: ...; uow.commit()`.
    Every write inside the block (audit record, state, owed messages, history) is kept all
    together when `commit()` is called in it, and not at all otherwise (no commit, or an
    exception), serialized against every other writer of every process; read-check-write
    inside it is atomic. A block nested in another joins it (the outermost block's commit
    decides). A failure to keep the change raises StoreUnavailable with nothing kept. A store
    method called outside any block may only read: a write there raises RuntimeError and writes
    nothing (a store's own bookkeeping, such as the audit's verified mark, is the one exception,
    a unit of its own)."""

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def progress(self) -> ProgressStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def requests(self) -> RequestLedger: ...

    @property
    def windows(self) -> WindowStore: ...

    @property
    def deployments(self) -> DeploymentStore: ...

    @property
    def claims(self) -> ClaimStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Keep what the block wrote when its outermost block ends."""
        ...

    def write_problem(self) -> str | None:
        """Why a change could not be kept right now (read-only, full, failing), or None; found
        by writing, not guessed."""
        ...
