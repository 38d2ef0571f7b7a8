"""The core services one process runs, bundled: what every edge (Slack listeners, REST, CLI,
scheduler) is handed by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.approvals import ApprovalService
from core.clock import Clock
from core.delivery import DeliveryService
from core.deployments import DeploymentService
from core.digest import DigestService
from core.gate import GateService
from core.playbook import PlaybookService
from core.ports import AuditLog, Outbox, RequestLedger, UnitOfWork
from core.reminders import ReminderService
from core.report import ReportService
from core.sessions import SessionService
from core.snapshots import SnapshotTaker
from core.windows import WindowService
from core.workspace import WorkspaceService


@dataclass(frozen=True, kw_only=True)
class Services:
    uow: UnitOfWork  # for what an edge writes itself (the request ledger)
    sessions: SessionService
    playbook: PlaybookService
    audit: AuditLog
    snapshots: SnapshotTaker
    clock: Clock
    reminders: ReminderService
    outbox: Outbox
    delivery: DeliveryService | None
    requests: RequestLedger
    workspace: WorkspaceService
    reports: ReportService
    windows: WindowService
    digest: DigestService
    gate: GateService
    approvals: ApprovalService
    write_problem: Callable[[], str | None]  # why the store cannot keep a change now, or None
    deployments: DeploymentService | None = None  # with a GitHub App set up (GOBOT_GITHUB_…)
