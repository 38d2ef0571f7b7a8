"""`gobot migrate`: copy one store into another, port to port (core/ports.py), so any store
copies into any other; `gobot migrate --to postgres` copies the JSON data dir into PostgreSQL.

One unit of work on the target: every session (history oldest first, then the sessions still
active, each as it is), the legacy playbook progress, the audit chain record for record (same
bytes, same hashes: it still verifies), the outbox (pending messages and where their sessions'
messages landed), the planned windows, the once-only claims (core/claims.py: what was owed
already is not owed again), and the GitHub deployments (pending or answered). Refused, with
nothing copied, if the source's chain does not verify or the target already holds gobot data."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import StoreCorrupted
from core.models import GoSession, Posted
from core.ports import UnitOfWork

WORKSPACE = "workspace"
EVERY_SESSION = 10**12


@dataclass
class Copied:
    sessions: int = 0
    steps: int = 0
    audit_records: int = 0
    outbox_items: int = 0
    windows: int = 0
    deployments: int = 0


def _sessions(source: UnitOfWork) -> list[GoSession]:
    """Ended sessions oldest first, then the active ones; each once, with a scope (sessions of
    gobot before scopes ran in the workspace's)."""
    ended = source.sessions.history(EVERY_SESSION)[::-1]
    latest = source.sessions.latest()
    if latest is not None and not latest.active and latest.id not in {s.id for s in ended}:
        ended.append(latest)  # an ended session kept only as the latest (before history)
    found = [*ended, *source.sessions.active()]
    return [s.model_copy(update={"scope": s.scope or WORKSPACE}) for s in found if s.id]


def _empty(target: UnitOfWork) -> bool:
    return (
        target.sessions.latest() is None
        and not target.audit.tail(1)
        and target.outbox.depth() == 0
        and not target.progress.load().completed
        and not target.windows.all()
        and not target.claims.all()
        and not target.deployments.all()
    )


def copy_store(source: UnitOfWork, target: UnitOfWork) -> Copied:
    verification = source.audit.verify()
    if not verification.ok:
        raise StoreCorrupted(f"the source's audit chain does not verify: {verification.problem}")
    copied = Copied()
    with target:
        if not _empty(target):
            raise StoreCorrupted("the target already holds gobot data: nothing was copied")
        live: set[str] = set()  # sessions whose messages may still be replied to or edited
        for session in _sessions(source):
            if session.active:
                target.sessions.create(session)
                live.add(session.id or "")
            else:
                target.sessions.create(session.model_copy(update={"active": True}))
                target.sessions.finish(session)
            copied.sessions += 1
        for step_id, completion in source.progress.load().completed.items():
            target.progress.mark_done(step_id, completion)
            copied.steps += 1
        copied.audit_records = target.audit.restore(source.audit.lines())
        pending = source.outbox.items()
        target.outbox.add(pending)
        for session_id in live | {item.session_id for item in pending}:
            posted = source.outbox.posted(session_id)
            if posted != Posted():
                target.outbox.set_posted(session_id, posted)
        copied.outbox_items = len(pending)
        for window in source.windows.all():
            target.windows.put(window)
            copied.windows += 1
        for key, at in source.claims.all().items():
            target.claims.claim(key, at)
        for deployment in source.deployments.all():
            target.deployments.add(deployment)
            copied.deployments += 1
        target.commit()
    return copied
