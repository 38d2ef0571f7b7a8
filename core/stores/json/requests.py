"""`go_requests.json`: the signed requests acted on lately, so that a replay, to this process
or another on the same data directory, acts no more. Entries older than the window go at the
next write. A record whose commit point passed is recorded, even if the files are put in
place only by the next writer: the request may go on, and its own change says what became of
it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.clock import format_utc, parse_utc
from core.errors import StoreUnavailable
from core.stores.json.datadir import DataDir, data_dir
from core.timing import REPLAY_WINDOW

REQUESTS_FILE = "go_requests.json"


class JsonRequestLedger:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / REQUESTS_FILE

    def first(self, key: str, now: datetime) -> bool:
        try:
            with self._dd.transaction():
                raw = self._dd.read_json(self._path)
                seen = raw if isinstance(raw, dict) else {}
                if key in seen and now - parse_utc(str(seen[key])) < REPLAY_WINDOW:
                    return False
                kept = {k: at for k, at in seen.items() if now - parse_utc(str(at)) < REPLAY_WINDOW}
                self._dd.write_json(self._path, {**kept, key: format_utc(now)})
        except StoreUnavailable as exc:
            if not exc.kept:
                raise
        return True
