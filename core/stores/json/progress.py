"""`go_progress.json`: playbook completions, in the data directory's unit of work."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from core.errors import StoreCorrupted
from core.models import PlaybookProgress, StepCompletion
from core.stores.json.datadir import DataDir, data_dir

PROGRESS_FILE = "go_progress.json"


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
            earlier = progress.completed.get(step_id)
            if earlier is not None:
                return earlier
            progress.completed[step_id] = completion
            self._dd.write_json(self._path, progress.model_dump(mode="json"))
            return None

    def reset(self) -> None:
        with self._dd.transaction():
            self._dd.write_json(self._path, PlaybookProgress().model_dump(mode="json"))
