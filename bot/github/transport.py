"""The transport of gobot's answers to GitHub: a `github` outbox item becomes one call of
`GithubApi.answer` (an earlier attempt that may have landed makes GitHub's refusal of a second
answer a success). Nobody in Slack is told from here: a failed answer is logged, and the
deployment's record and audit say what gobot decided."""

from __future__ import annotations

import logging

from bot.github.api import GithubApi
from core.models import Posted
from core.outbox import Failed, GithubPayload, OutboxItem, SendResult

log = logging.getLogger("gobot.github")


class GithubTransport:
    def __init__(self, api: GithubApi) -> None:
        self._api = api

    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        data = item.data
        if not isinstance(data, GithubPayload):
            return Failed(error=f"no GitHub answer in a {item.kind} item", permanent=True)
        return self._api.answer(
            installation_id=data.installation_id,
            callback_url=data.callback_url,
            environment_name=data.environment,
            state=data.state,
            comment=data.comment,
            maybe_sent=item.maybe_sent,
        )

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        log.warning("GitHub was not answered for %s: %s", item.session_id, problem)
