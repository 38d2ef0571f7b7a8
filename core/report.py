"""A session's report: the whole record (snapshots at start and end, owner changes, timeline,
notes), its playbook run with who did what when, the GitHub deployments decided in it, its
audit records, and whether the audit
trail they are part of verifies (checked from the last record verified before, not from the
start). A session is found by id, and its records and deployments by the session, not by
reading history, the log or the deployments whole."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidInput, NoActiveSession, UnknownSession
from core.gate_models import Deployment
from core.models import Checklist, GoSession, PlaybookStep
from core.playbook import run_checklist
from core.ports import UnitOfWork
from core.sessions import with_posts

MAX_SEARCHED = 100_000  # the furthest a page of history may start
MAX_PAGE = 100


class SessionReport(BaseModel):
    session: GoSession
    playbook: Checklist
    audit_verified: bool
    audit_problem: str | None = None
    audit_records: list[dict[str, Any]]
    deployments: list[Deployment] = []


class ReportService:
    def __init__(
        self,
        uow: UnitOfWork,
        steps: Sequence[PlaybookStep],
        scope_for: Callable[[str | None], str],
    ) -> None:
        self._uow = uow
        self._steps = steps
        self._scope_for = scope_for

    def find(self, session_id: str) -> GoSession:
        """A session by id, active or ended."""
        session = self._uow.sessions.find(session_id)
        if session is not None:
            return with_posts(self._uow, [session])[0]
        raise UnknownSession(f"There is no GO session with id {session_id!r}.")

    def page(self, offset: int, limit: int) -> tuple[list[GoSession], bool]:
        """Ended sessions, newest first: `limit` of them after the first `offset`, and whether
        more follow."""
        if not (0 <= offset <= MAX_SEARCHED and 1 <= limit <= MAX_PAGE):
            raise InvalidInput(f"offset must be 0 to {MAX_SEARCHED}, limit 1 to {MAX_PAGE}.")
        found = self._uow.sessions.history(limit + 1, offset=offset)
        return with_posts(self._uow, found[:limit]), len(found) > limit

    def report(self, channel: str | None = None, session_id: str | None = None) -> SessionReport:
        """The report of `session_id`, or of the scope's active session, or else of its latest
        ended one."""
        if session_id is not None:
            session = self.find(session_id)
        else:
            found = self._uow.sessions.get(self._scope_for(channel))
            if found is None:
                raise NoActiveSession("No GO session yet: there is nothing to report.")
            session = with_posts(self._uow, [found])[0]
        verification = self._uow.audit.verify_recent()
        records = self._uow.audit.session_records(session)  # a broken trail included
        return SessionReport(
            session=session,
            playbook=run_checklist(self._steps, session),
            audit_verified=verification.ok,
            audit_problem=verification.problem,
            audit_records=records,
            deployments=self._uow.deployments.by_session(session.id) if session.id else [],
        )
