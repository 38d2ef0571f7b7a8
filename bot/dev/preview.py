"""`gobot preview`: the Block Kit of a message, for sample data, as gobot would send it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from bot.slack import views
from core.clock import parse_utc
from core.models import ConeState, GoSession, HealthStatus, Snapshot, StepCompletion
from core.outbox import ReminderPayload
from core.playbook import DEFAULT_STEPS, run_checklist

BUILDER = "https://app.slack.com/block-kit-builder/#"
KINDS = ("start", "end", "reminder", "playbook", "checklist", "home")


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
        end_notes=None if active else "Rolled out cleanly",
        end_snapshot=None if active else end,
        duration_seconds=None if active else 3900.0,
        playbook={
            step.id: StepCompletion(
                completed_at_utc=parse_utc("2026-01-01T09:10:00Z"), completed_by="U0123"
            )
            for step in DEFAULT_STEPS[:3]
        },
    )


def preview_blocks(kind: str) -> list[dict[str, Any]]:
    if kind == "start":
        return views.snapshot_message(_sample(active=True), DEFAULT_STEPS)
    if kind == "end":
        ended = _sample(active=False)
        return views.snapshot_message(ended, DEFAULT_STEPS) + views.summary_message(
            ended, DEFAULT_STEPS
        )
    if kind == "reminder":
        return views.reminder_message(
            ReminderPayload(
                session=_sample(active=True),
                number=3,
                elapsed_seconds=10800,
                escalate=False,
                band="C",
                status="red",
            ),
            DEFAULT_STEPS,
        )
    if kind == "playbook":
        return views.playbook_message(_sample(active=True), DEFAULT_STEPS)
    if kind == "checklist":
        return views.checklist_message(run_checklist(DEFAULT_STEPS, _sample(active=True)))
    if kind == "home":
        active = _sample(active=True)
        view = views.home_view([active], active, DEFAULT_STEPS, [_sample(active=False)])
        return list(view["blocks"])
    raise ValueError(f"no preview for {kind!r}; choose one of {', '.join(KINDS)}")


def builder_link(blocks: list[dict[str, Any]]) -> str:
    return BUILDER + quote(json.dumps({"blocks": blocks}, separators=(",", ":")), safe="")
