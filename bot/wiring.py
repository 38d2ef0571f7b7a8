"""The composition root: builds the core services and their stores from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.settings import Settings, SettingsError
from core.clock import Clock, SystemClock
from core.delivery import DeliveryService
from core.playbook import PlaybookService, load_steps
from core.ports import AuditLog, Outbox, Transport, UnitOfWork
from core.reminders import ReminderPolicy, ReminderService
from core.sessions import SessionService
from core.snapshots import CONE_FILE, HEALTH_FILE, FileSource, SnapshotTaker, source_from_spec
from core.stores.json import JsonUnitOfWork
from core.stores.postgres import PgUnitOfWork


@dataclass(frozen=True)
class Services:
    sessions: SessionService
    playbook: PlaybookService
    audit: AuditLog
    snapshots: SnapshotTaker
    clock: Clock
    reminders: ReminderService
    outbox: Outbox
    delivery: DeliveryService | None


def _unit_of_work(settings: Settings) -> UnitOfWork:
    if settings.store == "postgres":
        if settings.database_url is None:
            raise SettingsError("GOBOT_DATABASE_URL is required with GOBOT_STORE=postgres")
        return PgUnitOfWork.open(settings.database_url.get_secret_value())
    return JsonUnitOfWork(settings.data_dir)


def build_services(
    settings: Settings, clock: Clock | None = None, transport: Transport | None = None
) -> Services:
    """Without a transport (the CLI) owed messages wait in the outbox for a process that has
    one."""
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
    uow = _unit_of_work(settings)
    policy = ReminderPolicy(
        remind_after=settings.remind_after,
        remind_every=settings.remind_every,
        escalate_after=settings.escalate_after,
        watch_every=settings.watch_every,
    )
    delivery = (
        DeliveryService(
            uow,
            transport,
            clock,
            lease=3 * settings.slack_timeout + timedelta(seconds=5),  # look up, update, post
        )
        if transport is not None
        else None
    )
    sessions = SessionService(
        uow,
        snapshots,
        clock,
        deliverer=delivery,
        policy=policy,
        scope_mode=settings.session_scope,
    )
    reminders = ReminderService(uow, snapshots, clock, policy=policy)
    playbook = PlaybookService(load_steps(data_dir), uow, snapshots, clock)
    return Services(
        sessions, playbook, uow.audit, snapshots, clock, reminders, uow.outbox, delivery
    )
