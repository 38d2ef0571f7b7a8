"""The GitHub deployments gobot was asked about, in the data directory's units of work (a
read-check-write inside one is atomic across processes), in two files so that the hot path
never reads what was answered:

- `go_deployments.json`: the deployments that wait, by id (what every tick reads);
- `go_deployments_answered.json`: the answered ones, by id, for a session's report, the recent
  list and a redelivery's check; those answered more than `ANSWERED_KEPT` ago are dropped from
  it whenever another is answered (the audit keeps every decision).

An answered deployment found in the first file (as earlier versions kept them) is moved to the
second at the next answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.clock import parse_utc
from core.errors import StoreCorrupted
from core.gate_models import Deployment
from core.stores.json.datadir import DataDir, data_dir

DEPLOYMENTS_FILE = "go_deployments.json"
ANSWERED_FILE = "go_deployments_answered.json"
ANSWERED_KEPT = timedelta(days=90)


class JsonDeploymentStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / DEPLOYMENTS_FILE
        self._answered = self._dd.root / ANSWERED_FILE

    def _read(self, path: Path) -> dict[str, Any]:
        raw = self._dd.read_json(path)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{path.name} does not hold deployments")
        return raw

    def _parsed(self, raw: dict[str, Any], path: Path) -> list[Deployment]:
        try:
            found = [Deployment.model_validate(d) for d in raw.values()]
        except ValidationError as exc:
            raise StoreCorrupted(f"{path.name} holds a deployment that is not valid") from exc
        return sorted(found, key=lambda d: (d.asked_at_utc, d.id))

    def _waiting(self) -> list[Deployment]:
        with self._dd.transaction():
            raw = self._read(self._path)
        return self._parsed(raw, self._path)

    def _answered_ones(self) -> list[Deployment]:
        with self._dd.transaction():
            raw = self._read(self._answered)
        return self._parsed(raw, self._answered)

    def all(self) -> list[Deployment]:
        found = [*self._waiting(), *self._answered_ones()]
        return sorted(found, key=lambda d: (d.asked_at_utc, d.id))

    def get(self, deployment_id: str) -> Deployment | None:
        with self._dd.transaction():
            raw = self._read(self._path).get(deployment_id)
            if raw is None:
                raw = self._read(self._answered).get(deployment_id)
        return Deployment.model_validate(raw) if raw is not None else None

    def add(self, deployment: Deployment) -> bool:
        with self._dd.transaction():
            waiting = self._read(self._path)
            if deployment.id in waiting or deployment.id in self._read(self._answered):
                return False
            if deployment.state == "pending":
                self._write_waiting(waiting, deployment)
            else:
                self._write_answered(deployment, waiting)
            return True

    def put(self, deployment: Deployment) -> None:
        with self._dd.transaction():
            waiting = self._read(self._path)
            if deployment.state == "pending":
                self._write_waiting(waiting, deployment)
            else:
                self._write_answered(deployment, waiting)

    def settle(self, deployment: Deployment) -> bool:
        with self._dd.transaction():
            waiting = self._read(self._path)
            current = waiting.get(deployment.id)
            if current is None or current.get("state") != "pending":
                return False
            self._write_answered(deployment, waiting)
            return True

    def pending(self) -> list[Deployment]:
        return [d for d in self._waiting() if d.state == "pending"]

    def by_session(self, session_id: str) -> list[Deployment]:
        return [d for d in self.all() if d.session_id == session_id]

    def recent(self, limit: int) -> list[Deployment]:
        waiting = self.pending()[::-1][: max(0, limit)]
        answered = sorted(self._answered_ones(), key=_answered_at, reverse=True)
        shown = [*waiting, *answered[: max(0, limit - len(waiting))]]
        return sorted(shown, key=lambda d: (d.asked_at_utc, d.id), reverse=True)

    def _write_waiting(self, waiting: dict[str, Any], deployment: Deployment) -> None:
        kept = {**waiting, deployment.id: deployment.model_dump(mode="json")}
        self._dd.write_json(self._path, kept)

    def _write_answered(self, deployment: Deployment, waiting: dict[str, Any]) -> None:
        """`deployment` answered: out of the waiting file (with any answered one an earlier
        version left there), into the answered file, which drops the ones answered more than
        ANSWERED_KEPT before it."""
        answered = self._read(self._answered)
        moved = {k: v for k, v in waiting.items() if v.get("state") != "pending"}
        since = (deployment.decided_at_utc or deployment.asked_at_utc) - ANSWERED_KEPT
        kept = {
            key: value
            for key, value in {**answered, **moved}.items()
            if parse_utc(str(value.get("decided_at_utc") or value["asked_at_utc"])) >= since
        }
        kept[deployment.id] = deployment.model_dump(mode="json")
        still = {k: v for k, v in waiting.items() if k not in moved and k != deployment.id}
        if still != waiting:
            self._dd.write_json(self._path, still)
        self._dd.write_json(self._answered, kept)


def _answered_at(deployment: Deployment) -> datetime:
    return deployment.decided_at_utc or deployment.asked_at_utc
