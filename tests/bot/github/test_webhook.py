"""`POST /github/webhook` at the edge: what is refused before anything is read or parsed, and
what is acknowledged without deciding anything."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from bot.dev.fake_github import FakeGithub
from bot.settings import SettingsError
from bot.web.guard import MAX_GITHUB_BODY
from tests.bot.conftest import SlackHarness
from tests.bot.github.conftest import (
    Keys,
    github_settings,
    protection_rule,
    send_webhook,
    signed,
)
from tests.conftest import audit_records, json_only, wait_until
from tests.faults import FULL_DISK, FaultyOs, fail_with


@json_only  # the edge: no store is read before it answers
def test_a_wrong_signature_is_refused_and_its_body_never_logged(
    gated: SlackHarness, github: FakeGithub, caplog: pytest.LogCaptureFixture
) -> None:
    payload = protection_rule(github, creator="secret-looking-login")
    body = json.dumps(payload).encode()
    for headers in (
        signed(body, secret="not-the-secret"),
        {**signed(body), "X-Hub-Signature-256": ""},
    ):
        response, _ = send_webhook(gated.http, payload, headers)
        assert response.status_code == 401
    assert "secret-looking-login" not in caplog.text
    assert gated.services.deployments is not None and gated.services.deployments.waiting() == []


@json_only  # the edge: no store is read before it answers
def test_an_oversized_body_is_refused_before_it_is_read(
    gated: SlackHarness, github: FakeGithub
) -> None:
    payload = {**protection_rule(github), "padding": "x" * MAX_GITHUB_BODY}
    response, _ = send_webhook(gated.http, payload)
    assert response.status_code == 413


@json_only
def test_ping_is_answered_and_other_events_ignored(gated: SlackHarness) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    response = gated.http.post("/github/webhook", content=body, headers=signed(body, event="ping"))
    assert response.status_code == 200
    push = signed(body, event="push")
    assert gated.http.post("/github/webhook", content=body, headers=push).status_code == 200


@json_only
def test_a_signed_body_that_is_not_the_event_is_a_400(gated: SlackHarness) -> None:
    for body in (b'{"action": "requested"}', b"[" * 200_000, b"not json"):
        response = gated.http.post("/github/webhook", content=body, headers=signed(body))
        assert response.status_code == 400, body[:20]


def test_without_a_github_app_the_webhook_is_not_there(
    slack: SlackHarness, github: FakeGithub
) -> None:
    response, _ = send_webhook(slack.http, protection_rule(github))
    assert response.status_code == 404


def test_an_environment_gobot_does_not_gate_is_rejected_naming_the_setting(
    gated: SlackHarness, github: FakeGithub
) -> None:
    response, _ = send_webhook(gated.http, protection_rule(github, environment="qa"))
    assert response.status_code == 202
    wait_until(github.accepted, what="the answer")
    [answer] = github.accepted()
    assert answer.state == "rejected" and "GOBOT_GITHUB_ENVIRONMENTS" in answer.body["comment"]
    [decided] = [r for r in audit_records(gated.services) if r["event"] == "GO_GATE_DECIDED"]
    assert decided["data"]["environment"] == "qa" and decided["data"]["state"] == "denied"


def test_a_github_app_set_up_in_part_names_what_is_missing(
    make_harness: Callable[..., SlackHarness], github: FakeGithub, keys: Keys
) -> None:
    partial: dict[str, Any] = github_settings(github, keys[0])
    del partial["github_private_key"]
    with pytest.raises(SettingsError, match="set GOBOT_GITHUB_PRIVATE_KEY too"):
        make_harness(**partial)


@json_only
@pytest.mark.parametrize("point", [1, 2, 3])
def test_a_delivery_the_store_could_not_keep_is_acted_on_when_redelivered(
    gated: SlackHarness, github: FakeGithub, faulty_os: Callable[[Any], None], point: int
) -> None:
    """The delivery's mark and the deployment are kept together or not at all: a disk full at
    any write of that change answers 503, and GitHub's redelivery (the same GUID) is decided."""
    gated.run("/go-start", "release")
    faulty_os(FaultyOs(point, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
    refused, headers = send_webhook(gated.http, protection_rule(github))
    faulty_os(os)
    assert refused.status_code == 503 and "redeliver" in refused.text
    assert gated.services.deployments is not None and gated.services.deployments.waiting() == []

    again, _ = send_webhook(gated.http, protection_rule(github), headers)
    assert again.status_code == 202, again.text
    wait_until(github.accepted, what="the answer")
    assert [a.state for a in github.accepted()] == ["approved"]
