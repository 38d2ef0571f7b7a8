"""The composition root: builds the core services and their stores from settings."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings, SettingsError
from core.clock import Clock, SystemClock
from core.playbook import PlaybookService, load_steps
from core.ports import AuditLog, Notifier
from core.sessions import SessionService
from core.snapshots import CONE_FILE, HEALTH_FILE, FileSource, SnapshotTaker, source_from_spec
from core.stores.json_audit import JsonAuditLog
from core.stores.json_store import JsonProgressStore, JsonSessionStore


@dataclass(frozen=True)
class Services:
    sessions: SessionService
    playbook: PlaybookService
    audit: AuditLog
    snapshots: SnapshotTaker
    clock: Clock


def build_services(
    settings: Settings, clock: Clock | None = None, notifier: Notifier | None = None
) -> Services:
    clock = clock or SystemClock()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        cone = (
            source_from_spec(settings.cone_source, settings.source_timeout)
            if settings.cone_source
            else FileSource(data_dir / CONE_FILE)
        )
    except ValueError as exc:
        raise SettingsError(f"invalid GOBOT_CONE_SOURCE: {exc}") from None
    try:
        health = (
            source_from_spec(settings.health_source, settings.source_timeout)
            if settings.health_source
            else FileSource(data_dir / HEALTH_FILE)
        )
    except ValueError as exc:
        raise SettingsError(f"invalid GOBOT_HEALTH_SOURCE: {exc}") from None
    snapshots = SnapshotTaker(cone, health, settings.source_timeout, clock)
    audit = JsonAuditLog(data_dir)
    sessions = SessionService(
        JsonSessionStore(data_dir),
        audit,
        snapshots,
        clock,
        notifier=notifier,
        scope_mode=settings.session_scope,
    )
    playbook = PlaybookService(
        load_steps(data_dir), JsonProgressStore(data_dir), audit, snapshots, clock
    )
    return Services(sessions, playbook, audit, snapshots, clock)
