"""`go_requests.json`: the signed requests acted on lately, so that a replay, to this process
or another on the same data directory, acts no more. Entries older than the window go at the
next write."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.clock import format_utc, parse_utc
from core.stores.json.datadir import DataDir, data_dir
from core.timing import REPLAY_WINDOW

REQUESTS_FILE = "go_requests.json"


class JsonRequestLedger:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / REQUESTS_FILE

    def first(self, key: str, now: datetime) -> bool:
        with self._dd.transaction():
            raw = self._dd.read_json(self._path)
            seen = raw if isinstance(raw, dict) else {}
            if key in seen and now - parse_utc(str(seen[key])) < REPLAY_WINDOW:
                return False
            kept = {k: at for k, at in seen.items() if now - parse_utc(str(at)) < REPLAY_WINDOW}
            self._dd.write_json(self._path, {**kept, key: format_utc(now)})
            return True
