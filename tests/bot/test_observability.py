from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from tests.bot.conftest import SlackHarness
from tests.conftest import FakeClock


def samples(slack: SlackHarness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = slack.http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_move_with_real_requests(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(operators=["U1"], remind_after="1m", remind_every="1m")
    slack.run("/go-start", "metrics", user="U1")
    slack.run("/go-session", user="U2")
    slack.run("/go-end", "done", user="U2")  # denied
    slack.run("/go", "bogus", user="U1")
    got = samples(slack)
    assert got[("gobot_commands_total", (("command", "start"), ("outcome", "ok")))] == 1
    assert got[("gobot_commands_total", (("command", "session"), ("outcome", "ok")))] == 1
    assert (
        got[("gobot_commands_total", (("command", "end"), ("outcome", "permission_denied")))] == 1
    )
    assert (
        got[("gobot_commands_total", (("command", "unknown"), ("outcome", "unknown_subcommand")))]
        == 1
    )
    assert got[("gobot_slack_ack_seconds_count", ())] == 4
    assert (
        got[("gobot_slack_api_calls_total", (("method", "chat.postMessage"), ("result", "ok")))]
        == 2  # the post and its playbook message
    )
    assert got[("gobot_active_sessions", ())] == 0  # read by the tick, not by the scrape
    clock.advance(timedelta(minutes=1))
    slack.tick()
    got = samples(slack)
    assert got[("gobot_reminders_sent_total", ())] == 1
    assert got[("gobot_active_sessions", ())] == 1 and got[("gobot_outbox_depth", ())] == 0
