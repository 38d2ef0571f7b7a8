"""`gobot_progress`: the global playbook progress of gobot before runs were per session (one
row per completed step), read once at upgrade and then archived in `gobot_progress_archive`.
`mark_done` serves `gobot migrate`, which copies a store's legacy progress into another."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from core.models import PlaybookProgress, StepCompletion
from core.stores.postgres.database import PgDatabase


class PgProgressStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def load(self) -> PlaybookProgress:
        with self._db.transaction() as db:
            rows = db.execute("SELECT step_id, data FROM gobot_progress")
            return PlaybookProgress(
                completed={
                    row["step_id"]: StepCompletion.model_validate(row["data"]) for row in rows
                }
            )

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        with self._db.transaction() as db:
            inserted = db.execute(
                "INSERT INTO gobot_progress (step_id, data) VALUES (%s, %s) "
                "ON CONFLICT (step_id) DO NOTHING RETURNING step_id",
                (step_id, Jsonb(completion.model_dump(mode="json"))),
            ).fetchone()
            if inserted is not None:
                return None
            row = db.execute(
                "SELECT data FROM gobot_progress WHERE step_id = %s", (step_id,)
            ).fetchone()
            return None if row is None else StepCompletion.model_validate(row["data"])

    def archive(self) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO gobot_progress_archive (data) SELECT jsonb_object_agg(step_id, data) "
                "FROM gobot_progress HAVING count(*) > 0"
            )
            db.execute("DELETE FROM gobot_progress")
