"""core/gate_models.py: what a pipeline may ask the gate (a channel, never a person; a step by
number or id; nothing blank, nothing unknown), how a question is named and described, who is
recorded as asking, and how a waiting GitHub deployment names itself."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.gate_models import GateRequest
from tests.core.stores.test_contract import deployment


@pytest.mark.parametrize(
    ("given", "kept"), [("C0123ABCD", "C0123ABCD"), ("G01", "G01"), (" C0123 ", "C0123")]
)
def test_a_request_names_a_channel(given: str, kept: str) -> None:
    assert GateRequest(channel=given).channel == kept


@pytest.mark.parametrize("where", ["U0123ABCD", "#general", "c0123", "C", ""])
def test_a_request_may_not_name_a_person_or_anything_but_a_channel_id(where: str) -> None:
    with pytest.raises(ValidationError):
        GateRequest(channel=where)


def test_a_step_is_a_number_or_an_id_and_nothing_is_blank_or_unknown() -> None:
    assert GateRequest.model_validate({"step": 3}).step == "3"
    assert GateRequest.model_validate({"step": "rollout"}).step == "rollout"
    for bad in ({"step": True}, {"step": "   "}, {"environment": ""}, {"ref": " "}, {"x": 1}):
        with pytest.raises(ValidationError):
            GateRequest.model_validate(bad)


def test_the_same_question_has_the_same_key_in_its_scope_only() -> None:
    asked = GateRequest(environment="production", ref="main", requester="ci")
    again = GateRequest(environment="production", ref="main", requester="ci")
    assert asked.key("workspace") == again.key("workspace")
    assert asked.key("workspace") != asked.key("channel:C1")
    assert asked.key("workspace") != GateRequest(environment="staging").key("workspace")


@given(st.text(min_size=1, max_size=100).filter(lambda text: text.strip()))
def test_a_pipeline_naming_itself_is_recorded_with_its_source_never_as_a_person(
    requester: str,
) -> None:
    asked = GateRequest(requester=requester)
    assert asked.asker("github", "U-caller") == f"github:{asked.requester}"
    assert GateRequest().asker("rest", "U-caller") == "U-caller"


def test_a_question_is_described_as_far_as_it_is_known() -> None:
    full = GateRequest(environment="production", ref="main", step="rollout", requester="ci")
    assert full.describe() == "deploy of main to production (step rollout) asked by ci"
    assert full.describe(asker=False) == "deploy of main to production (step rollout)"
    assert GateRequest().describe() == "change"
    assert GateRequest(environment="staging").describe() == "deploy to staging"


def test_a_deployment_names_its_repository_and_short_sha() -> None:
    waiting = deployment("d1")
    assert waiting.describe() == "acme/shop@abc1234" and waiting.state == "pending"
