"""`go_windows.json`: the planned GO windows by id, in the data directory's units of work. Its
`marks` (once-only marks made before claims had a file of their own) are kept as they are and
read by core/stores/json/claims.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import StoreCorrupted
from core.models import GoWindow
from core.stores.json.datadir import DataDir, data_dir

WINDOWS_FILE = "go_windows.json"


class JsonWindowStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / WINDOWS_FILE

    def _read(self) -> dict[str, Any]:
        raw = self._dd.read_json(self._path)
        if raw is None:
            return {"windows": {}, "marks": {}}
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{WINDOWS_FILE} does not hold GO windows")
        return raw

    def all(self) -> list[GoWindow]:
        with self._dd.transaction():
            raw = self._read()
        try:
            windows = [GoWindow.model_validate(w) for w in (raw.get("windows") or {}).values()]
        except ValidationError as exc:
            raise StoreCorrupted(f"{WINDOWS_FILE} holds a window that is not valid") from exc
        return sorted(windows, key=lambda window: window.starts_at_utc)

    def between(self, start: datetime, end: datetime) -> list[GoWindow]:
        return [w for w in self.all() if start <= w.starts_at_utc < end]

    def get(self, window_id: str) -> GoWindow | None:
        return next((w for w in self.all() if w.id == window_id), None)

    def put(self, window: GoWindow) -> None:
        with self._dd.transaction():
            raw = self._read()
            windows = {**(raw.get("windows") or {}), window.id: window.model_dump(mode="json")}
            self._dd.write_json(self._path, {**raw, "windows": windows})
