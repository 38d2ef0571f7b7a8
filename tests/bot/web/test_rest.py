"""The original REST API under /core/go/: shapes, rules, audit, auth, errors, OpenAPI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from bot.dev.fake_slack import Failure
from bot.web.server import create_http_app
from tests.bot.conftest import SlackHarness, block_text
from tests.conftest import write_json

API_KEY = "test-api-key-not-real"
ORIGINAL = ("active", "started_at_utc", "ended_at_utc", "cone_band", "status", "notes", "snapshot")


@pytest.fixture
def rest(make_harness: Callable[..., SlackHarness]) -> SlackHarness:
    return make_harness(api_key=API_KEY, api_key_name="ops-pipeline", channel="COPS")


def call(
    rest: SlackHarness, method: str, path: str, body: object = None, key: str | None = API_KEY
) -> tuple[int, dict[str, object]]:
    headers = {"X-API-Key": key} if key is not None else {}
    response = rest.http.request(method, f"/core/go/{path}", json=body, headers=headers)
    return response.status_code, response.json()


def test_inactive_session_has_the_original_all_null_shape(rest: SlackHarness) -> None:
    status, body = call(rest, "GET", "session")
    assert status == 200
    assert {key: body[key] for key in ORIGINAL} == {
        "active": False,
        "status": None,
        "cone_band": None,
        "started_at_utc": None,
        "ended_at_utc": None,
        "notes": None,
        "snapshot": None,
    }


def test_start_and_end_over_rest(rest: SlackHarness, data_dir: Path) -> None:
    status, body = call(rest, "POST", "start_session", {"notes": "from the pipeline"})
    assert status == 200
    assert body["active"] is True and body["cone_band"] == "A" and body["status"] == "green"
    assert body["notes"] == "from the pipeline" and body["started_at_utc"].endswith("Z")
    assert body["snapshot"]["cone"]["band"] == "A"  # type: ignore[index]
    assert set(ORIGINAL) <= set(body)
    post = rest.fake.wait_for_calls("chat.postMessage")[0]
    assert post.params["channel"] == "COPS" and "from the pipeline" in block_text(post.params)
    status, again = call(rest, "POST", "start_session", {"notes": "twice"})
    assert status == 409 and "already active" in str(again["detail"])
    assert call(rest, "GET", "session")[1]["active"] is True
    status, ended = call(rest, "POST", "end_session", {"notes": "done"})
    assert status == 200 and ended["active"] is False and ended["ended_at_utc"]
    assert call(rest, "POST", "end_session", {})[0] == 409
    records = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    assert [(r["event"], r["actor"]) for r in records] == [
        ("GO_SESSION_START", "ops-pipeline"),
        ("GO_SESSION_END", "ops-pipeline"),
    ]


def test_playbook_over_rest(rest: SlackHarness, green: Path) -> None:
    status, template = call(rest, "GET", "checklist")
    assert status == 200 and template["total"] == 9 and template["session_active"] is False
    status, refused = call(rest, "POST", "complete", {"step": "1"})
    assert status == 409 and "no active GO session" in str(refused["detail"])
    call(rest, "POST", "start_session", {"notes": "launch"})
    status, checklist = call(rest, "GET", "checklist")
    assert status == 200 and checklist["total"] == 9 and len(checklist["steps"]) == 9  # type: ignore[arg-type]
    assert checklist["session_active"] is True and checklist["completed"] == 0
    assert call(rest, "GET", "next_step")[1]["step"]["number"] == 1  # type: ignore[index]
    status, item = call(rest, "POST", "complete", {"step": "1", "notes": "ok"})
    assert status == 200 and item["done"] is True and item["completed_by"] == "ops-pipeline"
    write_json(green / "health_status.json", {"status": "red", "reasons": ["db down"]})
    status, refused = call(rest, "POST", "complete", {"step": "2"})
    assert status == 409 and "health is red (db down)" in str(refused["detail"])
    assert call(rest, "POST", "complete", {"step": "99"})[0] == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("start_session", {"notes": "x" * 2001}),
        ("start_session", {"notes": 5}),
        ("start_session", [1, 2]),
        ("complete", {}),
        ("complete", {"step": ""}),
        ("complete", {"step": "1", "notes": None}),
    ],
)
def test_bad_bodies_are_422_and_change_nothing(
    rest: SlackHarness, data_dir: Path, path: str, body: object
) -> None:
    assert call(rest, "POST", path, body)[0] == 422
    assert not (data_dir / "go_session.json").exists() and not (data_dir / "audit.log").exists()


def test_not_json_is_422(rest: SlackHarness) -> None:
    response = rest.http.post(
        "/core/go/start_session",
        content=b"{nope",
        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("key", [None, "", "wrong", API_KEY + "x"])
def test_missing_or_wrong_key_is_401_and_changes_nothing(
    rest: SlackHarness, data_dir: Path, key: str | None
) -> None:
    assert call(rest, "POST", "start_session", {"notes": "sneaky"}, key=key)[0] == 401
    assert call(rest, "GET", "session", key=key)[0] == 401
    assert not (data_dir / "go_session.json").exists()


def test_rest_is_404_when_no_api_key_is_set(slack: SlackHarness) -> None:
    assert slack.http.get("/core/go/session", headers={"X-API-Key": "anything"}).status_code == 404
    assert slack.http.post("/core/go/start_session", json={}).status_code == 404


def test_openapi_fuzzing_finds_no_5xx_and_no_schema_violation(
    make_harness: Callable[..., SlackHarness],
) -> None:
    """A bounded schemathesis run over every operation of /openapi.json."""
    harness = make_harness(api_key=API_KEY, channel="COPS")
    assert harness.runtime is not None
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_http_app(harness.runtime))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "GET /core/go/session",
        "POST /core/go/start_session",
        "POST /core/go/end_session",
        "GET /core/go/checklist",
        "GET /core/go/next_step",
        "POST /core/go/complete",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": API_KEY})

        check()


def test_a_corrupt_store_is_503_without_a_server_path(rest: SlackHarness, data_dir: Path) -> None:
    (data_dir / "go_session.json").write_text("{not json")
    status, body = call(rest, "GET", "session")
    assert status == 503 and body["code"] == "store_corrupted"
    assert str(data_dir) not in json.dumps(body) and "/" not in str(body["detail"])
    reply = rest.run("/go-session")
    assert str(data_dir) not in reply and "go_session.json is not valid JSON" in reply


def test_what_a_user_naturally_sends_is_accepted(rest: SlackHarness) -> None:
    response = rest.http.post("/core/go/start_session", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200 and response.json()["active"] is True
    status, item = call(rest, "POST", "complete", {"step": 1})
    assert status == 200 and item["number"] == 1
    status, _ = call(rest, "POST", "complete", {"step": True})
    assert status == 422
    response = rest.http.post("/core/go/end_session", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200 and response.json()["active"] is False


def test_a_start_no_channel_hears_of_says_so_in_the_answer(
    make_harness: Callable[..., SlackHarness],
) -> None:
    unposted = make_harness(api_key=API_KEY)
    answer = unposted.http.post("/core/go/start_session", headers={"X-API-Key": API_KEY}).json()
    assert answer["active"] and "GOBOT_CHANNEL is not set" in answer["warning"]
    unposted.http.post("/core/go/end_session", headers={"X-API-Key": API_KEY})
    wrong = make_harness(api_key=API_KEY, channel="CWRONG")
    wrong.fake.fail("chat.postMessage", Failure(error="channel_not_found"))
    answer = wrong.http.post("/core/go/start_session", headers={"X-API-Key": API_KEY}).json()
    assert "channel_not_found (check GOBOT_CHANNEL)" in answer["warning"]


def readme_endpoints() -> set[tuple[str, str]]:
    """(method, path) of every row of README's REST table, path parameters as `{}`."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## REST API", 1)[1].split("\n## ", 1)[0]
    return {
        (method, re.sub(r"\{[^}]*\}", "{}", path.split("?")[0]))
        for method, path in re.findall(r"^\| `(GET|POST) (/core/go/[^`]*)`", section, re.M)
    }


def test_readme_lists_every_rest_endpoint_and_each_answers(rest: SlackHarness) -> None:
    """README's REST table and the served API (its own OpenAPI document) name the same
    endpoints, and each answers as a documented call would."""
    spec = rest.http.get("/openapi.json").json()
    served = {
        (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/core/go/")
    }
    assert readme_endpoints() == served
    rest.run("/go-start", "for the report")
    session_id = str(rest.services.sessions.get().id)
    for method, path in sorted(served):
        body = {"step": "1", "notes": "from README"} if method == "POST" else None
        if path.endswith("/gate"):
            body = {"step": "1", "environment": "production"}
        response = rest.http.request(
            method, path.replace("{}", session_id), json=body, headers={"X-API-Key": API_KEY}
        )
        assert response.status_code in (200, 409), (method, path, response.text)
