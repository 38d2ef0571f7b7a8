"""`go_deployments.json`: the GitHub deployments gobot was asked about, by id, in the data
directory's units of work (a read-check-write inside one is atomic across processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import StoreCorrupted
from core.models import Deployment
from core.stores.json.datadir import DataDir, data_dir

DEPLOYMENTS_FILE = "go_deployments.json"


class JsonDeploymentStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / DEPLOYMENTS_FILE

    def _read(self) -> dict[str, Any]:
        raw = self._dd.read_json(self._path)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{DEPLOYMENTS_FILE} does not hold deployments")
        return raw

    def _write(self, raw: dict[str, Any], deployment: Deployment) -> None:
        self._dd.write_json(self._path, {**raw, deployment.id: deployment.model_dump(mode="json")})

    def all(self) -> list[Deployment]:
        with self._dd.transaction():
            raw = self._read()
        try:
            found = [Deployment.model_validate(d) for d in raw.values()]
        except ValidationError as exc:
            raise StoreCorrupted(
                f"{DEPLOYMENTS_FILE} holds a deployment that is not valid"
            ) from exc
        return sorted(found, key=lambda d: (d.asked_at_utc, d.id))

    def get(self, deployment_id: str) -> Deployment | None:
        with self._dd.transaction():
            raw = self._read().get(deployment_id)
        return Deployment.model_validate(raw) if raw is not None else None

    def add(self, deployment: Deployment) -> bool:
        with self._dd.transaction():
            raw = self._read()
            if deployment.id in raw:
                return False
            self._write(raw, deployment)
            return True

    def put(self, deployment: Deployment) -> None:
        with self._dd.transaction():
            self._write(self._read(), deployment)

    def settle(self, deployment: Deployment) -> bool:
        with self._dd.transaction():
            raw = self._read()
            current = raw.get(deployment.id)
            if current is None or current.get("state") != "pending":
                return False
            self._write(raw, deployment)
            return True

    def pending(self) -> list[Deployment]:
        return [d for d in self.all() if d.state == "pending"]
