"""`gobot_deployments`: the GitHub deployments gobot was asked about, for every replica at once;
answering one is a compare-and-set on its state, so that two replicas answer it once."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from core.gate_models import Deployment
from core.stores.postgres.database import PgDatabase


class PgDeploymentStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def _rows(self, sql: str, *params: object) -> list[Deployment]:
        with self._db.transaction() as db:
            rows = db.execute(sql, params).fetchall()
        return [Deployment.model_validate(row["data"]) for row in rows]

    def all(self) -> list[Deployment]:
        return self._rows("SELECT data FROM gobot_deployments ORDER BY asked_at, id")

    def get(self, deployment_id: str) -> Deployment | None:
        found = self._rows("SELECT data FROM gobot_deployments WHERE id = %s", deployment_id)
        return found[0] if found else None

    def pending(self) -> list[Deployment]:
        return self._rows(
            "SELECT data FROM gobot_deployments WHERE state = 'pending' ORDER BY asked_at, id"
        )

    def by_session(self, session_id: str) -> list[Deployment]:
        return self._rows(
            "SELECT data FROM gobot_deployments WHERE data->>'session_id' = %s "
            "ORDER BY asked_at, id",
            session_id,
        )

    def recent(self, limit: int) -> list[Deployment]:
        waiting = self._rows(
            "SELECT data FROM gobot_deployments WHERE state = 'pending' "
            "ORDER BY asked_at DESC, id DESC LIMIT %s",
            max(0, limit),
        )
        answered = self._rows(
            "SELECT data FROM gobot_deployments WHERE state <> 'pending' "
            "ORDER BY data->>'decided_at_utc' DESC LIMIT %s",
            max(0, limit - len(waiting)),
        )
        return sorted([*waiting, *answered], key=lambda d: (d.asked_at_utc, d.id), reverse=True)

    def add(self, deployment: Deployment) -> bool:
        with self._db.transaction() as db:
            row = db.execute(
                "INSERT INTO gobot_deployments (id, state, asked_at, data) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                (deployment.id, deployment.state, deployment.asked_at_utc, self._data(deployment)),
            ).fetchone()
            return row is not None

    def put(self, deployment: Deployment) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE gobot_deployments SET state = %s, data = %s WHERE id = %s",
                (deployment.state, self._data(deployment), deployment.id),
            )

    def settle(self, deployment: Deployment) -> bool:
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE gobot_deployments SET state = %s, data = %s "
                "WHERE id = %s AND state = 'pending' RETURNING id",
                (deployment.state, self._data(deployment), deployment.id),
            ).fetchone()
            return row is not None

    @staticmethod
    def _data(deployment: Deployment) -> Jsonb:
        return Jsonb(deployment.model_dump(mode="json"))
