"""`gobot preview`: the Block Kit of a message, form or App Home, for sample data, as gobot
would send it (a message as `{"blocks": …}`, a form or App Home as its whole view)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from bot.slack.approvals import approval_message
from bot.slack.blocks import text_message
from bot.slack.deploys import deploy_message
from bot.slack.digest import digest_message
from bot.slack.freezes import freeze_modal
from bot.slack.gate import gate_message
from bot.slack.history import report_message
from bot.slack.home import home_view
from bot.slack.interactions import user_message
from bot.slack.playbook import checklist_message, playbook_message
from bot.slack.reminders import reminder_message
from bot.slack.session_views import end_modal, snapshot_message, start_modal, summary_message
from bot.slack.window_views import schedule_modal, window_message, windows_message
from bot.slack.workspace import timeline_message
from core.clock import parse_utc
from core.digest import summarize
from core.errors import FreezeInForce
from core.gate_models import Deployment, GateDecision, GateRequest
from core.models import (
    Approval,
    ConeState,
    FreezeOverride,
    GoSession,
    GoWindow,
    HealthStatus,
    Snapshot,
    StepCompletion,
    TimelineEntry,
)
from core.outbox import (
    ApprovalPayload,
    DeployPayload,
    GatePayload,
    ReminderPayload,
    WindowPayload,
)
from core.playbook import DEFAULT_STEPS, run_checklist
from core.report import SessionReport

BUILDER = "https://app.slack.com/block-kit-builder/#"
KINDS = (
    "start",
    "start-override",
    "start-refused",
    "end",
    "reminder",
    "overrun",
    "playbook",
    "checklist",
    "timeline",
    "approval",
    "approval-answered",
    "report",
    "start-form",
    "start-form-freeze",
    "end-form",
    "schedule-form",
    "freeze-form",
    "windows",
    "window-reminder",
    "digest",
    "gate",
    "deploy",
    "deploy-answered",
    "home",
)
WINDOW = GoWindow(
    id="w1",
    scope="workspace",
    channel="C0123",
    starts_at_utc="2026-01-02T14:00:00Z",
    duration_seconds=7200,
    notes="EU database upgrade",
    link="https://tickets.example/CHG-1300",
    scheduled_by="U0123",
)
FREEZE = GoWindow(
    id="f1",
    kind="freeze",
    scope="workspace",
    channel="C0123",
    starts_at_utc="2026-01-03T00:00:00Z",
    duration_seconds=14 * 86400,
    notes="Year-end freeze <!channel> stays text",
    scheduled_by="U0456",
)
TIMELINE = [
    TimelineEntry(
        kind="note", at_utc="2026-01-01T09:05:00Z", by="U0123", text="EU canary at 5% <b>"
    ),
    TimelineEntry(
        kind="message",
        at_utc="2026-01-01T09:20:00Z",
        by="U0123",
        author="U0789",
        text="p99 back under 400ms",
        permalink="https://example.slack.com/archives/C0123/p1767258000000100",
        key="C0123:1767258000.000100",
    ),
    TimelineEntry(
        kind="handover",
        at_utc="2026-01-01T09:40:00Z",
        by="U0123",
        to="U0456",
        text="off shift; rollout at 50%",
    ),
    TimelineEntry(
        kind="gate",
        at_utc="2026-01-01T09:50:00Z",
        by="github-actions",
        text="deploy of main to production (step rollout): pending. Step 7 (Roll out "
        "everywhere) is not reached yet: step 6 (Check canary metrics) is not done.",
    ),
]

APPROVAL = Approval(
    key="migrate",
    asked_by="U0123",
    asked_at_utc="2026-01-01T09:15:00Z",
    notes="schema v42, backfill <10 min",
)


def _sample(active: bool) -> GoSession:
    start = Snapshot(
        cone=ConeState(
            band="B",
            reason="Error budget at 62%",
            updated_at_utc="2026-01-01T08:55:00.000000Z",
            metrics={"error_rate": 0.012, "p99_ms": 410},
        ),
        status=HealthStatus(status="yellow", reasons=["queue lag above 30s"]),
        taken_at_utc="2026-01-01T09:00:00.000000Z",
    )
    end = Snapshot(
        cone=ConeState(band="A", reason="All KPIs green"),
        status=HealthStatus(status="green"),
        taken_at_utc="2026-01-01T10:05:00.000000Z",
    )
    return GoSession(
        active=active,
        started_at_utc="2026-01-01T09:00:00.000000Z",
        cone_band="B",
        status="yellow",
        notes="Deploy v2.4 to the EU region <!channel> stays text",
        snapshot=start,
        id="preview",
        scope="workspace",
        channel="C0123",
        started_by="U0123",
        ended_at_utc=None if active else "2026-01-01T10:05:00.000000Z",
        ended_by=None if active else "U0456",
        outcome=None if active else "completed",
        owner="U0456",
        link="https://tickets.example/CHG-1234",
        planned_end_utc="2026-01-01T10:00:00.000000Z",
        timeline=TIMELINE,
        end_notes=None if active else "Rolled out cleanly",
        end_snapshot=None if active else end,
        duration_seconds=None if active else 3900.0,
        playbook={
            step.id: StepCompletion(
                completed_at_utc=parse_utc("2026-01-01T09:10:00Z"), completed_by="U0123"
            )
            for step in DEFAULT_STEPS[:3]
        },
        approvals={"migrate": APPROVAL},
    )


def _reminder(seconds_to_planned_end: float) -> list[dict[str, Any]]:
    return reminder_message(
        ReminderPayload(
            session=_sample(active=True),
            number=3,
            elapsed_seconds=3600 - seconds_to_planned_end,
            escalate=False,
            to_planned_end_seconds=seconds_to_planned_end,
            band="C",
            status="red",
        ),
        DEFAULT_STEPS,
    )


def _report() -> list[dict[str, Any]]:
    ended = _sample(active=False)
    return report_message(
        SessionReport(
            session=ended,
            playbook=run_checklist(DEFAULT_STEPS, ended),
            audit_verified=True,
            audit_records=[{"event": "GO_SESSION_START"}, {"event": "GO_SESSION_END"}],
        )
    )


def _override() -> list[dict[str, Any]]:
    override = FreezeOverride(
        freeze_id=FREEZE.id,
        by="U0456",
        reason="Payments down: hotfix",
        at_utc=FREEZE.starts_at_utc,
    )
    active = _sample(active=True).model_copy(update={"freeze_override": override})
    return snapshot_message(active, DEFAULT_STEPS)


def _approval(answered: bool) -> list[dict[str, Any]]:
    approval = APPROVAL
    if answered:
        approval = APPROVAL.model_copy(
            update={
                "state": "approved",
                "decided_by": "U0456",
                "decided_at_utc": parse_utc("2026-01-01T09:18:00Z"),
            }
        )
    payload = ApprovalPayload(session=_sample(active=True), approval=approval)
    return approval_message(payload, DEFAULT_STEPS)


def _digest() -> list[dict[str, Any]]:
    return digest_message(
        summarize(
            "2026-W01",
            since=parse_utc("2025-12-29T08:00:00Z"),
            until=parse_utc("2026-01-05T08:00:00Z"),
            sessions=[_sample(active=False)],
            steps=DEFAULT_STEPS,
            windows=[WINDOW, FREEZE],
        )
    )


def _gate() -> list[dict[str, Any]]:
    asked = GateRequest(environment="production", ref="main", requester="github-actions")
    decision = GateDecision(
        allowed=False,
        state="denied",
        reason="No GO session is active here: start one with /go-start.",
        health="green",
        decided_at_utc=WINDOW.starts_at_utc,
    )
    return gate_message(GatePayload(request=asked, decision=decision))


def _deploy(answered: bool) -> list[dict[str, Any]]:
    """A GitHub deployment waiting for a GO session, or, answered, its message edited."""
    waiting = Deployment(
        id="d1",
        delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        repository="acme/shop",
        environment="production",
        channel="C0123",
        scope="workspace",
        sha="abc1234def5678abc1234def5678abc1234def56",
        ref="main",
        creator="octocat",
        installation_id=1,
        callback_url="https://api.github.com/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        reason="No GO session is active in its channel: it waits for one to start.",
        asked_at_utc=parse_utc("2026-01-01T08:50:00Z"),
        shown=True,
    )
    if answered:
        waiting = waiting.model_copy(
            update={
                "state": "approved",
                "session_id": "019b7d3c4e2a7f00",
                "reason": "GO session 019b7d3c4e2a7f00 is active (band A, health green).",
                "decided_at_utc": parse_utc("2026-01-01T09:00:00Z"),
            }
        )
    return deploy_message(DeployPayload(deployment=waiting))


def _messages(kind: str) -> list[dict[str, Any]]:
    active, ended = _sample(active=True), _sample(active=False)
    drawn: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "start": lambda: snapshot_message(active, DEFAULT_STEPS),
        "start-override": _override,
        "start-refused": lambda: text_message(user_message(FreezeInForce(FREEZE))),
        "end": lambda: (
            snapshot_message(ended, DEFAULT_STEPS) + summary_message(ended, DEFAULT_STEPS)
        ),
        "reminder": lambda: _reminder(600),
        "overrun": lambda: _reminder(-1500),
        "playbook": lambda: playbook_message(active, DEFAULT_STEPS),
        "checklist": lambda: checklist_message(run_checklist(DEFAULT_STEPS, active)),
        "timeline": lambda: [block for entry in TIMELINE for block in timeline_message(entry)],
        "approval": lambda: _approval(answered=False),
        "approval-answered": lambda: _approval(answered=True),
        "report": _report,
        "windows": lambda: windows_message(
            [WINDOW, FREEZE], WINDOW.starts_at_utc - timedelta(days=1)
        ),
        "window-reminder": lambda: window_message(WindowPayload(window=WINDOW, what="reminder")),
        "digest": _digest,
        "gate": _gate,
        "deploy": lambda: _deploy(answered=False),
        "deploy-answered": lambda: _deploy(answered=True),
    }
    if kind not in drawn:
        raise ValueError(f"no preview for {kind!r}; choose one of {', '.join(KINDS)}")
    return drawn[kind]()


def preview_payload(kind: str) -> dict[str, Any]:
    """What gobot would send for `kind`: a message's blocks, or a form's or App Home's view."""
    active = _sample(active=True)
    if kind == "start-form":
        return start_modal(active.channel)
    if kind == "start-form-freeze":
        return start_modal(active.channel, FREEZE)
    if kind == "end-form":
        return end_modal(active.channel, active, DEFAULT_STEPS)
    if kind == "schedule-form":
        return schedule_modal(active.channel, 1767258000)
    if kind == "freeze-form":
        return freeze_modal(active.channel, 1767258000)
    if kind == "home":
        return home_view(
            [active],
            active,
            DEFAULT_STEPS,
            [_sample(active=False)],
            now=WINDOW.starts_at_utc - timedelta(days=1),
            windows=[WINDOW, FREEZE],
        )
    return {"blocks": _messages(kind)}


def builder_link(payload: dict[str, Any]) -> str:
    return BUILDER + quote(json.dumps(payload, separators=(",", ":")), safe="")
