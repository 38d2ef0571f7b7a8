"""The keyed once-only claims in the data directory: `go_claims/<xx>.json` holds
`{key: when claimed}` for the keys whose SHA-1 starts with `xx` (256 small files, so a claim
rewrites one of them whatever the number of claims kept). The marks made before claims had a
file of their own (`marks` in `go_windows.json`: digests, gate decisions, deployments shown)
are still read as claims, never written or pruned (there are few, and no more are added)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import format_utc, parse_utc
from core.errors import StoreCorrupted
from core.stores.json.datadir import DataDir, data_dir
from core.stores.json.windows import WINDOWS_FILE

CLAIMS_DIR = "go_claims"


class JsonClaimStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._dir = self._dd.root / CLAIMS_DIR
        self._legacy = self._dd.root / WINDOWS_FILE

    def _shard(self, key: str) -> Path:
        return self._dir / f"{hashlib.sha1(key.encode()).hexdigest()[:2]}.json"

    def _read(self, path: Path) -> dict[str, Any]:
        raw = self._dd.read_json(path)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{self._dd.rel(path)} does not hold claims")
        return raw

    def _legacy_marks(self) -> dict[str, Any]:
        raw = self._dd.read_json(self._legacy)
        marks = raw.get("marks") if isinstance(raw, dict) else None
        return marks if isinstance(marks, dict) else {}

    def claimed(self, key: str) -> bool:
        with self._dd.transaction():
            return key in self._read(self._shard(key)) or key in self._legacy_marks()

    def claim(self, key: str, now: datetime) -> bool:
        with self._dd.transaction():
            path = self._shard(key)
            claims = self._read(path)
            if key in claims or key in self._legacy_marks():
                return False
            self._dd.write_json(path, {**claims, key: format_utc(now)})
            return True

    def all(self) -> dict[str, datetime]:
        with self._dd.transaction():
            found = dict(self._legacy_marks())
            for name in self._dd.listdir(self._dir):
                found.update(self._read(self._dir / name))
        return {key: parse_utc(str(at)) for key, at in sorted(found.items())}

    def prune(self, before: datetime, prefix: str = "") -> int:
        cutoff = format_utc(before)  # one fixed-width format: the text orders as the time
        pruned = 0
        with self._dd.transaction():
            for name in self._dd.listdir(self._dir):
                path = self._dir / name
                claims = self._read(path)
                kept = {
                    key: at
                    for key, at in claims.items()
                    if not (key.startswith(prefix) and str(at) < cutoff)
                }
                if len(kept) == len(claims):
                    continue
                pruned += len(claims) - len(kept)
                if kept:
                    self._dd.write_json(path, kept)
                else:
                    self._dd.delete(path)
        return pruned
