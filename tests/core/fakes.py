"""Fakes at core's ports (not patches of what the tests claim to test)."""

from __future__ import annotations

from core.models import MessageRef, Posted
from core.outbox import Failed, OutboxItem, SendResult, Sent


class FakeTransport:
    """Records what would reach Slack; fails as scripted, per kind."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, MessageRef | None]] = []  # (kind, session, thread)
        self.items: list[OutboxItem] = []  # what was sent, as it was owed
        self.told: list[tuple[str, str]] = []
        self.failures: dict[str, list[Failed]] = {}
        self._ts = 0

    def fail(self, kind: str, *failures: Failed) -> None:
        self.failures.setdefault(kind, []).extend(failures)

    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        queue = self.failures.get(item.kind)
        if queue:
            return queue.pop(0)
        self.sent.append((item.kind, item.session_id, posted.post))
        self.items.append(item)
        if item.kind == "playbook" and posted.playbook is not None:
            return Sent(message=posted.playbook)  # edited in place
        self._ts += 1
        return Sent(message=MessageRef(channel=item.channel or "", ts=f"{self._ts}.0"))

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        self.told.append((item.kind, problem))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.sent]
