"""`POST /github/webhook`: gobot as a GitHub App's webhook (a custom deployment protection rule).

In the same plain-ASGI style as `/slack/events`, in this order: 404 while no GitHub App is set
up; the body limit (413, before a byte is read); `X-Hub-Signature-256` over the raw body (401,
and the body of a refused request is never logged); `ping` answered 200; then a
`deployment_protection_rule` (`requested`) is kept in the store (a delivery seen already is
acknowledged and dropped: `X-GitHub-Delivery` in the request ledger, then the deployment's own
id, in one unit of work: a store that cannot keep it answers 503 and GitHub's redelivery is
acted on) and answered 202 at once, while it is judged on gobot's work pool: GitHub waits 10 s for
the webhook's answer, and the answer to the deployment itself goes back through the outbox.
Any other event is acknowledged and ignored.
"""

from __future__ import annotations

import json
import logging

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from bot.github.webhook import PROTECTION_RULE, ProtectionRuleRequested
from bot.slack.work import OrderedWork
from bot.web.guard import (
    answer,
    github_signature_problem,
    signed_body,
)
from core.deployments import DeploymentAsked
from core.errors import StoreUnavailable
from core.services import Services

log = logging.getLogger("gobot.github")


class GithubWebhook:
    def __init__(self, services: Services, work: OrderedWork, secret: bytes | None) -> None:
        self._services = services
        self._work = work
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deployments = self._services.deployments
        if deployments is None or self._secret is None:
            await answer(send, 404, "no GitHub App is set up here (GOBOT_GITHUB_…)")
            return
        if scope["method"] != "POST":
            await answer(send, 405, "Method Not Allowed", ((b"allow", b"POST"),))
            return
        secret = self._secret
        signed = await signed_body(
            scope,
            receive,
            send,
            check=lambda headers, raw: github_signature_problem(secret, headers, raw),
            sender="GitHub webhook",
        )
        if signed is None:
            return
        headers, raw = signed
        event = headers.get("x-github-event", "")
        delivery = headers.get("x-github-delivery", "")
        if event == "ping":
            await answer(send, 200, "pong")
            return
        if event != PROTECTION_RULE:
            log.info("ignored a GitHub %s event (delivery %s)", event or "unnamed", delivery)
            await answer(send, 200, "ignored: gobot acts on deployment_protection_rule only")
            return
        try:
            payload = ProtectionRuleRequested.model_validate(json.loads(raw))
        except (ValueError, RecursionError, ValidationError):  # nesting past the parser's depth
            log.info("refused a signed GitHub webhook: not a deployment_protection_rule payload")
            await answer(send, 400, "not a deployment_protection_rule payload")
            return
        if payload.action != "requested" or not delivery:
            await answer(send, 200, "ignored: gobot acts on requested rules with a delivery id")
            return
        status, detail = await run_in_threadpool(self._keep, payload.asked(delivery))
        await answer(send, status, detail)

    def _keep(self, asked: DeploymentAsked) -> tuple[int, str]:
        """Keep the deployment, with its delivery's mark, and hand its judging to the work
        pool (a store write, in a thread: the event loop never waits on the store). A store
        that cannot keep it answers 503: GitHub's redelivery (or a person's) is acted on."""
        deployments = self._services.deployments
        assert deployments is not None
        try:
            kept = deployments.requested(asked)
        except StoreUnavailable as exc:
            log.warning("GitHub delivery %s not kept: %s", asked.delivery, exc.message)
            return 503, "gobot cannot keep it right now: redeliver it later"
        if kept is None:
            log.info(
                "GitHub delivery %s (deployment %s) was received already: not acted on again",
                asked.delivery,
                asked.key(),
            )
            return 200, "received already"
        log.info(
            "GitHub asks about the deploy of %s to %s (deployment %s, delivery %s)",
            kept.describe(),
            kept.environment,
            kept.id,
            asked.delivery,
        )
        if kept.state == "pending":
            self._work.submit(f"deploy:{kept.id}", lambda: self._judge(kept.id))
        return 202, "received: gobot answers GitHub once it has decided"

    def _judge(self, deployment_id: str) -> None:
        deployments = self._services.deployments
        assert deployments is not None
        judged = deployments.judge(deployment_id)
        if judged is not None:
            log.info("deployment %s: %s (%s)", judged.id, judged.state, judged.reason)
