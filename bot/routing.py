"""The transport `serve` and `socket` deliver the outbox with: each item goes to the transport
of its destination (core.outbox.destination): answers to GitHub to GitHub, everything else to
Slack."""

from __future__ import annotations

from collections.abc import Mapping

from core.models import Posted
from core.outbox import Destination, Failed, OutboxItem, SendResult, destination
from core.ports import Transport


class RoutingTransport:
    def __init__(self, routes: Mapping[Destination, Transport]) -> None:
        """`routes`: a transport per destination; items for one with none wait, retried
        slowly (GitHub answers owed while the GitHub App's settings are unset)."""
        self._routes = routes

    def _route(self, item: OutboxItem) -> Transport | None:
        return self._routes.get(destination(item.kind))

    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        route = self._route(item)
        if route is None:
            return Failed(error=f"{destination(item.kind)} is not set up here", waiting=True)
        return route.send(item, posted)

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        route = self._route(item)
        if route is not None:
            route.tell_operator(item, problem)
