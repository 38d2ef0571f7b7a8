"""`go_progress.json`: the global playbook progress of gobot before runs were per session, read
once at upgrade and then archived as `go_progress.archived.json`. `mark_done` serves `gobot
migrate`, which copies a store's legacy progress into another."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from core.errors import StoreCorrupted
from core.models import PlaybookProgress, StepCompletion
from core.stores.json.datadir import DataDir, data_dir

PROGRESS_FILE = "go_progress.json"
ARCHIVED_FILE = "go_progress.archived.json"


class JsonProgressStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / PROGRESS_FILE

    def load(self) -> PlaybookProgress:
        with self._dd.transaction():
            raw = self._dd.read_json(self._path)
        if raw is None:
            return PlaybookProgress()
        try:
            return PlaybookProgress.model_validate(raw)
        except ValidationError as exc:
            raise StoreCorrupted(f"{PROGRESS_FILE} does not hold valid playbook progress") from exc

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        with self._dd.transaction():
            progress = self.load()
            if step_id in progress.completed:
                return progress.completed[step_id]
            done = {**progress.completed, step_id: completion}
            self._dd.write_json(
                self._path, PlaybookProgress(completed=done).model_dump(mode="json")
            )
            return None

    def archive(self) -> None:
        with self._dd.transaction():
            raw = self._dd.read_json(self._path)
            if raw is not None:
                self._dd.write_json(self._dd.root / ARCHIVED_FILE, raw)
                self._dd.delete(self._path)
