"""High-water marks per source, organisation and stream, saved as small JSON files.

Each extract task writes only its own organisation's files (no shared writer), atomically, right
after a page has landed: a run that dies half way resumes from the last landed page.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from ar_radar.extract.landing import safe_name


class CheckpointStore:
    def __init__(self, root: Path) -> None:
        self.root = root / "checkpoints"

    def _path(self, source: str, tenant_id: str, entity: str) -> Path:
        return self.root / source / safe_name(tenant_id) / f"{entity}.json"

    def get(self, source: str, tenant_id: str, entity: str) -> datetime | None:
        try:
            data = json.loads(self._path(source, tenant_id, entity).read_text())
        except FileNotFoundError:
            return None
        return datetime.fromisoformat(data["high_water_mark"])

    def advance(self, source: str, tenant_id: str, entity: str, mark: datetime) -> None:
        """Move the mark forward (never back)."""
        current = self.get(source, tenant_id, entity)
        if current is not None and mark <= current:
            return
        path = self._path(source, tenant_id, entity)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"high_water_mark": mark.isoformat()}))
        os.replace(tmp, path)
