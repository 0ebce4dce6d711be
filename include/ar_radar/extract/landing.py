"""The landing zone: extracted records as newline-delimited JSON files, one per run and stream.

Extract tasks write here in parallel; one load task moves the files into DuckDB, so there is
only ever one DuckDB writer. Files are kept after loading: they are the raw copy of record.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def record_hash(record: Any) -> str:
    """A stable hash of a record's content (key order does not matter)."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class LandingBatch:
    source: str
    entity: str
    tenant_id: str
    path: Path
    records: int
    missing_id: int


def safe_name(value: str) -> str:
    return _SAFE.sub("_", value)


def write_batch(
    root: Path,
    run_id: str,
    source: str,
    entity: str,
    tenant_id: str,
    records: Iterable[tuple[str | None, str | None, dict]],
    part: int = 1,
) -> LandingBatch:
    """Write ``(record_id, updated_at, record)`` triples to
    ``<root>/<run>/<source>/<entity>/<tenant>/part-<n>.jsonl``; atomic (temp file, then rename)."""
    folder = root / safe_name(run_id) / source / entity / safe_name(tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{part:05d}.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    extracted_at = datetime.now(UTC).isoformat()
    count = missing = 0
    with tmp.open("w", encoding="utf-8") as out:
        for record_id, updated_at, record in records:
            count += 1
            missing += record_id is None
            out.write(
                json.dumps(
                    {
                        "source": source,
                        "entity": entity,
                        "tenant_id": tenant_id,
                        "record_id": record_id,
                        "updated_at": updated_at,
                        "record_hash": record_hash(record),
                        "run_id": run_id,
                        "extracted_at": extracted_at,
                        "payload": record,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    os.replace(tmp, path)
    return LandingBatch(source, entity, tenant_id, path, count, missing)
