"""The composition root, and the only one: settings → stores → services → Slack runtime.

`build_services` is what every process has (the CLI stops there: without a transport, owed
messages wait in the outbox for a process that has one; its reading commands build them to read
only); `build_runtime` adds the Slack side and registers the tick's jobs, in order, for `serve`,
`socket`, `gobot local`, the benchmarks and the tests (with a GitHub App, answers to GitHub go
out beside Slack's messages, and waiting deployments are judged again each tick and after each
session or step change); `unit_of_work` builds the stores alone
(`gobot migrate` copies one store into the other). Nothing else in gobot builds any of these,
and nothing it builds imports this module. A data dir that cannot be used (a file, a read-only
place) is said in one line naming GOBOT_DATA_DIR and the fix (`usable_data_dir`).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError
from core.approvals import ApprovalService
from core.claims import ClaimPruner
from core.clock import Clock, SystemClock
from core.delivery import DeliveryService
from core.deployments import DeploymentService, Gated, Redeciding
from core.digest import DigestPlan, DigestService
from core.errors import InvalidInput
from core.gate import GateService
from core.models import PlaybookStep
from core.outbox import Destination
from core.pace import SlackPace
from core.playbook import PlaybookService, load_steps
from core.ports import Deliverer, NullDeliverer, Transport, UnitOfWork
from core.reminders import ReminderPolicy, ReminderService
from core.report import ReportService
from core.services import Services
from core.sessions import SessionService
from core.snapshots import (
    CONE_FILE,
    HEALTH_FILE,
    FileSource,
    SnapshotTaker,
    Source,
    source_from_spec,
)
from core.stores.json import JsonUnitOfWork
from core.windows import WindowPolicy, WindowService
from core.workspace import WorkspaceService

if TYPE_CHECKING:  # the Slack side is imported by `build_runtime`: the CLI's reads start quick
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.observability import Metrics
    from bot.scheduler import Pause, Ticker
    from bot.slack.work import OrderedWork


class _NotTheTokenNote(logging.Filter):
    """Bolt notes that SLACK_BOT_TOKEN goes unused when a client is given (gobot gives its
    metered one, built from that same token): not worth a line at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


RATE_LIMIT = 5
RATE_WINDOW_SECONDS = 30.0
WORK_THREADS = 16


def unit_of_work(
    settings: Settings, store: str | None = None, *, read_only: bool = False
) -> UnitOfWork:
    """The stores of `store` (default: GOBOT_STORE) as the settings place them: the data dir's
    JSON files (`read_only`: read without creating or changing a file), or the database of
    GOBOT_DATABASE_URL."""
    if (store or settings.store) == "postgres":
        if settings.database_url is None:
            raise SettingsError("GOBOT_DATABASE_URL is required with GOBOT_STORE=postgres")
        from core.stores.postgres import PgUnitOfWork

        return PgUnitOfWork.open(settings.database_url.get_secret_value())
    return JsonUnitOfWork(settings.data_dir, read_only=read_only)


_USE_ANOTHER = "set GOBOT_DATA_DIR to a directory gobot may write (a missing one is created)"


def not_a_directory(path: Path) -> str | None:
    """Why `path` cannot be a directory (it, or a folder above it, is a file), or None."""
    for place in (path, *path.parents):
        if place.exists():
            if place.is_dir():
                return None
            return "it is a file, not a directory" if place == path else f"{place} is a file"
    return None


def usable_data_dir(path: Path, *, writing: bool = False) -> Path:
    """The data directory `path`, there (created if need be) and, `writing` (a process that
    serves), writable; or a SettingsError naming GOBOT_DATA_DIR, what is wrong and what to
    do. Without `writing`, a copy that cannot be written is left to the store to refuse."""
    problem, fix = not_a_directory(path), _USE_ANOTHER
    if problem is None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = exc.strerror or str(exc)
    if problem is None and writing and not os.access(path, os.W_OK | os.X_OK):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            problem = "it is on a read-only file system"
        else:
            problem = f"this user (uid {os.getuid()}) may not write it"
            fix = f"give it write access, or {_USE_ANOTHER}"
    if problem is None:
        return path
    raise SettingsError(f"GOBOT_DATA_DIR {path} cannot be used: {problem}; {fix}")


def _source(spec: str | None, default: Path, variable: str, settings: Settings) -> Source:
    """The source a setting names, or the file in the data dir when it names none."""
    if not spec:
        return FileSource(default)
    try:
        return source_from_spec(spec, settings.source_timeout)
    except ValueError as exc:
        raise SettingsError(f"invalid {variable}: {exc}") from None


def approval_steps(settings: Settings, steps: tuple[PlaybookStep, ...]) -> frozenset[str]:
    """The steps of GOBOT_APPROVAL_STEPS, each a step of the playbook, or a SettingsError
    naming the valid ids."""
    ids = [step.id for step in steps]
    unknown = [name for name in settings.approval_steps if name not in ids]
    if unknown:
        raise SettingsError(
            f"GOBOT_APPROVAL_STEPS names {', '.join(map(repr, unknown))}, not a playbook step; "
            f"the steps are: {', '.join(ids)}"
        )
    return frozenset(settings.approval_steps)


def build_services(
    settings: Settings,
    clock: Clock | None = None,
    transport: Transport | None = None,
    steps: tuple[PlaybookStep, ...] | None = None,
    *,
    read_only: bool = False,
) -> Services:
    """`steps`: the playbook, if the caller has read it already. Without a transport (the
    CLI) owed messages wait in the outbox for a process that has one. `read_only` (the CLI's
    reading commands): the data dir must be there, and nothing in it is created or changed."""
    clock = clock or SystemClock()
    data_dir = settings.data_dir if read_only else usable_data_dir(settings.data_dir)
    cone = _source(settings.cone_source, data_dir / CONE_FILE, "GOBOT_CONE_SOURCE", settings)
    health = _source(
        settings.health_source, data_dir / HEALTH_FILE, "GOBOT_HEALTH_SOURCE", settings
    )
    snapshots = SnapshotTaker(cone, health, settings.source_timeout, clock)
    uow = unit_of_work(settings, read_only=read_only)
    policy = ReminderPolicy(
        remind_after=settings.remind_after,
        remind_every=settings.remind_every,
        escalate_after=settings.escalate_after,
        watch_every=settings.watch_every,
        before_end=settings.remind_before_end,
    )
    delivery = (
        DeliveryService(
            uow,
            transport,
            clock,
            lease=3 * settings.slack_timeout + timedelta(seconds=5),  # look up, update, post
            pace=SlackPace(clock, settings.slack_rate),
        )
        if transport is not None
        else None
    )
    deployments: DeploymentService | None = None

    def redecide() -> None:
        if deployments is not None:
            deployments.redecide()

    # With a GitHub App, a session's start or end, a step's completion and an approval judge
    # the waiting deployments again, right after their commit.
    changes: Deliverer | None = (
        Redeciding(delivery or NullDeliverer(), redecide) if settings.github() else delivery
    )
    steps = steps or load_steps(data_dir)
    approvals = ApprovalService(
        uow,
        snapshots,
        clock,
        steps=steps,
        approval_steps=approval_steps(settings, steps),
        approve_start=settings.approve_start,
        deliverer=changes,
    )
    sessions = SessionService(
        uow,
        snapshots,
        clock,
        deliverer=changes,
        policy=policy,
        scope_mode=settings.session_scope,
        approvals=approvals,
    )
    reminders = ReminderService(uow, snapshots, clock, policy=policy)
    playbook = PlaybookService(
        steps, uow, snapshots, clock, sessions.scope_for, deliverer=changes, approvals=approvals
    )
    windows = WindowService(uow, clock, sessions, policy=WindowPolicy(lead=settings.window_lead))
    digest_plan = (
        DigestPlan(settings.digest_channel, settings.digest_at) if settings.digest_channel else None
    )
    gate = GateService(
        uow,
        snapshots,
        clock,
        steps=playbook.steps,
        resolve=playbook.resolve,
        scope_for=sessions.scope_for,
        approvals=approvals,
        default_channel=settings.channel,
        deliverer=delivery,
    )
    if settings.github():
        deployments = DeploymentService(
            uow,
            gate,
            snapshots,
            clock,
            environments=_gated(settings, playbook),
            scope_for=sessions.scope_for,
            deliverer=delivery,
        )
    return Services(
        uow=uow,
        sessions=sessions,
        playbook=playbook,
        audit=uow.audit,
        snapshots=snapshots,
        clock=clock,
        reminders=reminders,
        outbox=uow.outbox,
        delivery=delivery,
        requests=uow.requests,
        workspace=WorkspaceService(uow, clock, sessions.scope_for, deliverer=delivery),
        reports=ReportService(uow, playbook.steps, sessions.scope_for),
        windows=windows,
        digest=DigestService(uow, clock, windows, playbook.steps, digest_plan),
        gate=gate,
        approvals=approvals,
        write_problem=uow.write_problem,
        deployments=deployments,
    )


def _gated(settings: Settings, playbook: PlaybookService) -> dict[str, Gated]:
    """GOBOT_GITHUB_ENVIRONMENTS as the gate reads it; a step the playbook does not have is a
    SettingsError naming the variable."""
    gated = {}
    for name, where in settings.github_environments.items():
        if where.step is not None:
            try:
                playbook.resolve(where.step)
            except InvalidInput:
                raise SettingsError(
                    f"invalid GOBOT_GITHUB_ENVIRONMENTS: {name} names step {where.step!r}, which "
                    "the playbook does not have (a step's number or id)"
                ) from None
        gated[name] = Gated(where.channel, where.step)
    return gated


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    client: WebClient
    services: Services
    app: App
    ticker: Ticker
    metrics: Metrics
    work: OrderedWork


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    pause: Pause | None = None,
    socket_mode: bool = False,
) -> Runtime:
    """Raise SettingsError/GoError for bad settings, BoltError if Slack rejects the token.

    `pause`: how the tick's jobs wait on `clock` (real time without one). Requests that arrive
    over HTTP are verified by the HTTP edge (`bot.web.server`), once; Socket Mode's are not
    signed."""
    from slack_bolt import App

    from bot.observability import Metrics
    from bot.routing import RoutingTransport
    from bot.scheduler import (
        DELIVERY_SHARE,
        ClaimReminders,
        Deliver,
        Gauges,
        Job,
        ServiceTick,
        Ticker,
        WatchHealth,
        sleep,
    )
    from bot.slack.app import register
    from bot.slack.interactions import Interactions
    from bot.slack.transport import GroupMembers, SlackTransport, make_client
    from bot.slack.work import OrderedWork
    from core.access import AccessPolicy, RateLimiter

    required = (
        ("slack_bot_token", "slack_app_token")
        if socket_mode
        else ("slack_bot_token", "slack_signing_secret")
    )
    settings.require(*required)
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    timeout = settings.slack_timeout.total_seconds()
    metrics = Metrics()
    client = make_client(token, settings.slack_api_url, metrics, timeout)
    posting = make_client(token, settings.slack_api_url, metrics, timeout, wait_on_rate_limit=False)
    data_dir = usable_data_dir(settings.data_dir, writing=True)
    steps = load_steps(data_dir)  # read once: the transport shows progress too
    clock = clock or SystemClock()
    routes: dict[Destination, Transport] = {"slack": SlackTransport(posting, steps)}
    if settings.github():
        routes["github"] = _github_transport(settings, clock)
    transport = RoutingTransport(routes)
    services = build_services(settings, clock=clock, transport=transport, steps=steps)
    services.playbook.adopt_legacy_progress()  # an upgraded data dir's one global progress
    bolt_log = logging.getLogger("gobot.bolt")
    if not any(isinstance(f, _NotTheTokenNote) for f in bolt_log.filters):
        bolt_log.addFilter(_NotTheTokenNote())
    app = App(
        client=client,
        request_verification_enabled=False,  # verified once, at the HTTP edge (bot.web.server)
        process_before_response=True,  # listeners only ack and hand over: no ack polling
        logger=bolt_log,
    )
    access = AccessPolicy(
        settings.operators, settings.admins, GroupMembers(client), services.uow, services.clock
    )
    interactions = Interactions(
        services,
        access,
        RateLimiter(RATE_LIMIT, RATE_WINDOW_SECONDS),
        metrics,
        denials=RateLimiter(RATE_LIMIT, RATE_WINDOW_SECONDS),
    )
    work = OrderedWork(ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="gobot-work"))
    register(app, interactions, services, work, settings.pin_emoji)
    assert services.delivery is not None  # built with a transport
    deliver = Deliver(
        services.delivery, services.clock, DELIVERY_SHARE * settings.tick, pause or sleep
    )
    gauges = Gauges(metrics, services.outbox.depth, lambda: len(services.sessions.active()))
    waiting = services.deployments  # judged again each tick: health changes, freezes begin
    deployments = [ServiceTick("deployments", waiting.redecide)] if waiting else []
    jobs: list[Job] = [
        gauges,
        ClaimReminders(services.reminders, metrics),
        ServiceTick("windows", services.windows.tick),
        ServiceTick("digest", services.digest.tick),
        ServiceTick("claims", ClaimPruner(services.uow, services.clock).tick),
        *deployments,
        deliver,
        WatchHealth(services.reminders, deliver),
    ]
    ticker = Ticker(jobs, services.clock, settings.tick, metrics)
    return Runtime(settings, client, services, app, ticker, metrics, work)


def _github_transport(settings: Settings, clock: Clock) -> Transport:
    """The transport of the answers to GitHub, as the GitHub App (GOBOT_GITHUB_…)."""
    from bot.github.api import GithubApi, load_private_key
    from bot.github.transport import GithubTransport

    assert settings.github_private_key is not None and settings.github_app_id is not None
    try:
        key = load_private_key(settings.github_private_key.get_secret_value())
        api = GithubApi(settings.github_api_url, settings.github_app_id, key, clock)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return GithubTransport(api)
