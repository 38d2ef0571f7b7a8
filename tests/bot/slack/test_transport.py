"""The transport's one registry of message kinds: each Slack kind's typed payload and its
renderer (a `github` item is no Slack message: bot.routing sends it to GitHub)."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.slack.renderers import RENDERERS, render
from core.models import ConeState, HealthStatus, Snapshot
from core.outbox import PAYLOADS, Failed, Kind, SessionPayload, destination, notice_item
from core.playbook import DEFAULT_STEPS
from tests.conftest import T0
from tests.core.test_outbox import PAYLOAD_OF

SLACK_KINDS = sorted(kind for kind in get_args(Kind) if destination(kind) == "slack")
SNAPSHOT = Snapshot(
    cone=ConeState(band="A", reason="ok"), status=HealthStatus(status="green"), taken_at_utc=T0
)


def test_every_kind_has_one_renderer_for_its_own_payload() -> None:
    assert set(RENDERERS) == set(SLACK_KINDS)
    for kind, renderer in RENDERERS.items():
        assert renderer.payload is PAYLOADS[kind]


@pytest.mark.parametrize("kind", SLACK_KINDS)
@pytest.mark.parametrize("threaded", [True, False])
def test_each_kind_renders_text_and_blocks(kind: Kind, threaded: bool) -> None:
    payload = PAYLOAD_OF[kind]
    if isinstance(payload, SessionPayload):  # a post shows the snapshot the session took
        session = payload.session.model_copy(update={"snapshot": SNAPSHOT})
        payload = payload.model_copy(update={"session": session})
    owed = notice_item(
        kind, payload, key="k1", scope="workspace", channel="C1", now=T0, item_id="i1"
    )
    rendered = render(owed, DEFAULT_STEPS, threaded=threaded)
    assert not isinstance(rendered, Failed)
    text, blocks, extra = rendered
    assert text and blocks
    assert extra == ({"reply_broadcast": True} if kind == "reminder" and threaded else {})


def test_a_payload_of_another_kind_is_a_permanent_failure() -> None:
    owed = notice_item(
        "digest",
        PAYLOAD_OF["window"],
        key="k1",
        scope="workspace",
        channel="C1",
        now=T0,
        item_id="i1",
    )
    assert render(owed, DEFAULT_STEPS, threaded=False) == Failed(
        error="no message for a digest item", permanent=True
    )


def test_an_answer_to_github_is_no_slack_message() -> None:
    owed = notice_item(
        "github",
        PAYLOAD_OF["github"],
        key="k1",
        scope="workspace",
        channel=None,
        now=T0,
        item_id="i1",
    )
    assert render(owed, DEFAULT_STEPS, threaded=False) == Failed(
        error="no message for a github item", permanent=True
    )
