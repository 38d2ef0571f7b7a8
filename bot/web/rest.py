"""The original REST API under `/core/go/`, served from the same core with the same rules and
audit events. Enabled only when GOBOT_API_KEY is set (absent routes answer 404); every request
needs `X-API-Key` (compared in constant time). The actor is GOBOT_API_KEY_NAME."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, Field

from bot.calendar import CALENDAR_PAST, windows_ics
from bot.settings import Settings
from core.errors import (
    FreezeInForce,
    GoError,
    InvalidInput,
    NoActiveSession,
    SessionAlreadyActive,
    StepBlocked,
    StoreCorrupted,
    StoreUnavailable,
    UnknownSession,
    UnknownStep,
    UnknownWindow,
)
from core.gate_models import Deployment, GateDecision, GateRequest
from core.models import Checklist, ChecklistItem, GoSession, GoWindow, NextStep, SessionChange
from core.notes import MAX_NOTES_CHARS
from core.report import MAX_PAGE, MAX_SEARCHED, SessionReport
from core.services import Services
from core.windows import MAX_AHEAD

STATUS = {
    SessionAlreadyActive: 409,
    FreezeInForce: 409,
    NoActiveSession: 409,
    StepBlocked: 409,
    UnknownStep: 404,
    UnknownSession: 404,
    UnknownWindow: 404,
    InvalidInput: 422,
    StoreUnavailable: 503,
    StoreCorrupted: 503,
}


class NotesBody(BaseModel):
    notes: str = Field(default="", max_length=MAX_NOTES_CHARS)


def _step_text(value: object) -> object:
    """`{"step": 3}` means step 3, as `{"step": "3"}` does."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class CompleteBody(BaseModel):
    step: Annotated[str, BeforeValidator(_step_text)] = Field(
        min_length=1, max_length=64, description="step number (1-9) or id"
    )
    notes: str = Field(default="", max_length=MAX_NOTES_CHARS)


class SessionAnswer(GoSession):
    """The session, and a warning when the channel was not told of the change."""

    warning: str | None = None


def _answer(change: SessionChange, channel: str | None) -> SessionAnswer:
    warning = None
    if channel is None:
        warning = "GOBOT_CHANNEL is not set: no channel was told of this change"
    elif change.delivery.problem is not None:
        warning = f"the channel could not be told: {change.delivery.problem} (check GOBOT_CHANNEL)"
    return SessionAnswer(**change.session.model_dump(), warning=warning)


class SessionPage(BaseModel):
    """Ended sessions, newest first; `next_offset` pages on (null on the last page)."""

    sessions: list[GoSession]
    offset: int
    limit: int
    next_offset: int | None


class ErrorBody(BaseModel):
    detail: str
    code: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong X-API-Key"},
    409: {"model": ErrorBody, "description": "conflicts with the current state"},
    422: {"description": "invalid body"},
}


def mount_rest(api: FastAPI, services: Services, settings: Settings) -> None:
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode("utf-8")
    actor = settings.api_key_name

    def authorized(x_api_key: Annotated[str | None, Header()] = None) -> None:
        given = (x_api_key or "").encode("utf-8")
        if not secrets.compare_digest(given, expected):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    router = APIRouter(
        prefix="/core/go", tags=["go"], dependencies=[Depends(authorized)], responses=ERRORS
    )

    @router.get("/session", response_model=GoSession)
    def session() -> GoSession:
        return services.sessions.get(settings.channel)

    @router.post("/start_session", response_model=SessionAnswer)
    def start_session(body: NotesBody | None = None) -> SessionAnswer:
        notes = body.notes if body else ""
        return _answer(services.sessions.start(actor, settings.channel, notes), settings.channel)

    @router.post("/end_session", response_model=SessionAnswer)
    def end_session(body: NotesBody | None = None) -> SessionAnswer:
        change = services.sessions.end(actor, settings.channel, body.notes if body else "")
        return _answer(change, settings.channel)

    @router.get("/checklist", response_model=Checklist)
    def checklist() -> Checklist:
        return services.playbook.checklist(settings.channel)

    @router.get("/next_step", response_model=NextStep)
    def next_step() -> NextStep:
        return services.playbook.next_step(settings.channel)

    @router.post(
        "/complete",
        response_model=ChecklistItem,
        responses={404: {"model": ErrorBody, "description": "no such step"}},
    )
    def complete(body: CompleteBody) -> ChecklistItem:
        return services.playbook.complete(body.step, actor, body.notes, settings.channel).item

    @router.get("/sessions", response_model=SessionPage)
    def sessions(
        offset: Annotated[int, Query(ge=0, le=MAX_SEARCHED)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    ) -> SessionPage:
        found, more = services.reports.page(offset, limit)
        return SessionPage(
            sessions=found,
            offset=offset,
            limit=limit,
            next_offset=offset + limit if more else None,
        )

    @router.get(
        "/sessions/{session_id}",
        response_model=SessionReport,
        responses={404: {"model": ErrorBody, "description": "no such session"}},
    )
    def session_report(session_id: str) -> SessionReport:
        return services.reports.report(session_id=session_id)

    @router.get("/windows", response_model=list[GoWindow])
    def windows() -> list[GoWindow]:
        """The planned GO windows that have not ended, soonest first."""
        return services.windows.upcoming()

    @router.get(
        "/windows.ics",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar"}},
    )
    def windows_calendar() -> Response:
        """Every GO window of the last 30 days and ahead, as a calendar to subscribe to."""
        now = services.clock.now()
        shown = services.windows.between(now - CALENDAR_PAST, now + MAX_AHEAD + CALENDAR_PAST)
        return Response(windows_ics(shown, now), media_type="text/calendar; charset=utf-8")

    @router.post(
        "/gate",
        response_model=GateDecision,
        responses={404: {"model": ErrorBody, "description": "no such step"}},
    )
    def gate(body: GateRequest | None = None) -> GateDecision:
        """May a change go ahead now? `allowed`, `denied` or `pending`, with the reason; every
        decision is audited, and each request is shown once per state in Slack. With no
        `channel`, the one GOBOT_CHANNEL names."""
        asked = body or GateRequest()
        if asked.channel is None and settings.channel is not None:
            asked = asked.model_copy(update={"channel": settings.channel})
        return services.gate.decide(asked, source="rest", actor=actor)

    @router.get("/deployments", response_model=list[Deployment])
    def deployments(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    ) -> list[Deployment]:
        """The GitHub deployments waiting for gobot's answer and the most recently answered
        ones, at most `limit`, newest first (none while no GitHub App is set up)."""
        gated = services.deployments
        return gated.recent(limit) if gated is not None else []

    api.include_router(router)

    @api.exception_handler(GoError)
    def go_error(request: Request, exc: GoError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=status)
