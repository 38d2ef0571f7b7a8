"""core/access.py: who has which role (by user and by user group; no operators listed means
everyone; a failed group look-up refuses), refusals audited boundedly, and the per-user rate
limit's sliding window on an injected clock."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Any

import pytest

from core.access import DENIAL_WINDOW, AccessPolicy, RateLimited, RateLimiter, Role
from core.errors import PermissionDenied
from core.services import Services
from tests.conftest import FakeClock, audit_records

GROUPS = {"S1": {"U2"}, "S9": {"U8"}}


class Groups:
    """Slack's user groups as the policy's resolver sees them; `down` makes every look-up fail."""

    def __init__(self) -> None:
        self.down = False
        self.asked: list[str] = []

    def __call__(self, group: str) -> Collection[str]:
        self.asked.append(group)
        if self.down:
            raise RuntimeError("usergroups.users.list failed: ratelimited")
        return GROUPS.get(group, set())


@pytest.fixture
def groups() -> Groups:
    return Groups()


def policy(
    services: Services,
    clock: FakeClock,
    groups: Groups,
    operators: tuple[str, ...] = ("U1", "S1"),
    admins: tuple[str, ...] = ("U9", "S9"),
) -> AccessPolicy:
    return AccessPolicy(operators, admins, groups, services.uow, clock)


@pytest.fixture
def access(services: Services, clock: FakeClock, groups: Groups) -> AccessPolicy:
    """Operators U1 and group S1 (U2); admins U9 and group S9 (U8)."""
    return policy(services, clock, groups)


def denials(services: Services) -> list[dict[str, Any]]:
    return [r for r in audit_records(services) if r["event"] == "GO_COMMAND_DENIED"]


@pytest.mark.parametrize(
    ("user", "role", "allowed"),
    [
        ("U1", "operator", True),  # listed
        ("U2", "operator", True),  # in the listed group S1
        ("U9", "operator", True),  # an admin is an operator too
        ("U8", "operator", True),  # in the admin group S9
        ("U3", "operator", False),
        ("U1", "admin", False),
        ("U2", "admin", False),
        ("U9", "admin", True),
        ("U8", "admin", True),
        ("U3", "admin", False),
    ],
)
def test_roles_by_user_and_by_user_group(
    access: AccessPolicy, user: str, role: Role, allowed: bool
) -> None:
    assert access.allows(user, role) is allowed
    assert access.permits(user, role) is allowed


def test_only_group_ids_are_looked_up(services: Services, clock: FakeClock, groups: Groups) -> None:
    access = policy(services, clock, groups, operators=("U1", "W5", "S1"), admins=("S9",))
    assert not access.allows("U3", "operator")
    assert sorted(groups.asked) == ["S1", "S9"]


def test_no_operators_listed_means_everyone_operates_but_not_administers(
    services: Services, clock: FakeClock, groups: Groups
) -> None:
    access = policy(services, clock, groups, operators=(), admins=("U9",))
    assert access.allows("U3", "operator") and not access.allows("U3", "admin")
    assert access.allows("U9", "admin")
    nobody = policy(services, clock, groups, operators=(), admins=())
    assert nobody.allows("U9", "operator") and not nobody.allows("U9", "admin")


def test_a_refusal_says_who_may_and_is_audited(
    services: Services, clock: FakeClock, groups: Groups
) -> None:
    access = policy(services, clock, groups)
    access.check("U1", "operator", "start a GO session", "C1")  # allowed: nothing recorded
    with pytest.raises(PermissionDenied) as raised:
        access.check("U3", "operator", "start a GO session", "C1")
    assert raised.value.message == (
        "Only gobot operators may start a GO session. Ask an admin to add you."
    )
    with pytest.raises(PermissionDenied) as raised:
        access.check("U1", "admin", "reset the playbook", None)
    assert raised.value.message == "Only gobot admins may reset the playbook."
    assert [(r["actor"], r["channel"], r["data"]) for r in denials(services)] == [
        ("U3", "C1", {"command": "start a GO session", "role": "operator"}),
        ("U1", None, {"command": "reset the playbook", "role": "admin"}),
    ]
    assert denials(services)[0]["at_utc"] == "2026-01-01T09:00:00.000000Z"


def test_a_failed_group_look_up_fails_closed_and_says_why(
    services: Services,
    clock: FakeClock,
    groups: Groups,
    caplog: pytest.LogCaptureFixture,
) -> None:
    access = policy(services, clock, groups)
    groups.down = True
    with caplog.at_level(logging.WARNING, logger="gobot.access"):
        assert access.permits("U2", "operator") is False  # quiet: no audit record
    assert [r.getMessage() for r in caplog.records] == [
        "could not check whether U2 is a gobot operator"
    ]
    assert denials(services) == []
    with pytest.raises(PermissionDenied) as raised:
        access.check("U2", "operator", "end a GO session", "C1")
    assert raised.value.message == "Your access could not be checked right now; try again soon."
    [record] = denials(services)
    assert record["data"] == {
        "command": "end a GO session",
        "role": "operator",
        "problem": "RuntimeError: usergroups.users.list failed: ratelimited",
    }
    groups.down = False
    access.check("U2", "operator", "end a GO session", "C1")  # back: allowed again


def test_the_quiet_check_a_handover_asks_refuses_a_non_operator(
    services: Services, clock: FakeClock, groups: Groups
) -> None:
    """The edge hands a session over only to someone `permits` says may operate."""
    access = policy(services, clock, groups)
    assert [access.permits(u, "operator") for u in ("U1", "U2", "U3")] == [True, True, False]
    assert denials(services) == []


def test_a_failed_admin_group_look_up_does_not_refuse_a_listed_operator(
    services: Services, clock: FakeClock, groups: Groups
) -> None:
    groups.down = True
    listed = policy(services, clock, groups, operators=("U1",), admins=("S9",))
    everyone = policy(services, clock, groups, operators=(), admins=("S9",))
    assert listed.permits("U1", "operator")
    assert everyone.permits("U3", "operator")


def test_refusals_are_audited_once_per_user_per_window_then_counted(
    services: Services, clock: FakeClock, groups: Groups
) -> None:
    access = policy(services, clock, groups)

    def refuse(user: str) -> None:
        with pytest.raises(PermissionDenied):
            access.check(user, "operator", "start a GO session", "C1")

    refuse("U3")
    for _ in range(3):
        clock.advance(timedelta(seconds=10))
        refuse("U3")
    refuse("U4")  # another user: a window of their own
    clock.advance(DENIAL_WINDOW - timedelta(seconds=30))  # U3's window ends now
    refuse("U3")
    refuse("U3")
    assert [
        (r["actor"], r["data"].get("unrecorded_before"), r["at_utc"]) for r in denials(services)
    ] == [
        ("U3", None, "2026-01-01T09:00:00.000000Z"),
        ("U4", None, "2026-01-01T09:00:30.000000Z"),
        ("U3", 3, "2026-01-01T09:01:00.000000Z"),
    ]


# the rate limit -----------------------------------------------------------------------------
def on(clock: FakeClock) -> RateLimiter:
    return RateLimiter(3, 30.0, monotonic=lambda: clock.now().timestamp())


def test_the_limit_counts_recorded_changes_in_a_sliding_window(clock: FakeClock) -> None:
    limiter = on(clock)
    for _ in range(5):
        limiter.check("U1")  # checking alone counts nothing
    for _ in range(3):
        limiter.record("U1")
        clock.advance(timedelta(seconds=5))
    with pytest.raises(RateLimited) as raised:  # 15 s after the first of three
        limiter.check("U1")
    assert raised.value.message == (
        "Easy there: that is a lot of changes at once. Try again in 15s."
    )
    assert raised.value.code == "rate_limited"
    limiter.check("U2")  # each user has their own
    clock.advance(timedelta(seconds=14, milliseconds=900))
    with pytest.raises(RateLimited, match=r"Try again in 1s\."):
        limiter.check("U1")
    clock.advance(timedelta(milliseconds=100))  # the first change is 30 s old: it slid out
    limiter.check("U1")
    limiter.record("U1")
    with pytest.raises(RateLimited, match=r"Try again in 5s\."):
        limiter.check("U1")


def test_the_table_forgets_the_least_recently_active_user_first(clock: FakeClock) -> None:
    limiter = RateLimiter(1, 30.0, monotonic=lambda: clock.now().timestamp(), max_users=2)
    for user in ("U1", "U2"):
        limiter.record(user)
    with pytest.raises(RateLimited):
        limiter.check("U2")
    limiter.check("U3")  # U3 joins the table; U1, least recently active, leaves it
    limiter.check("U1")  # forgotten: its change no longer counts
