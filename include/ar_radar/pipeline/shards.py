"""Organisations split into shards, each with its own DuckDB file, landing, state and output folders.

One DuckDB file has one writer, so a practice with hundreds of Xero organisations cannot run them through one
file. Each shard is its own daily DAG (``dag_id``) with its own files, so shards run side by side on different
workers and never share a writer. With one shard (the default) the paths and the DAG are exactly those of a
single warehouse.

An organisation's shard is a stable hash of its tenant id (the same in every process and on every machine),
unless ``AR_RADAR_SHARD_OF`` places it (a large organisation kept alone, say). Changing the number of shards moves
organisations: their new shard extracts them in full; the old one keeps their rows but no longer drafts or sends
for them (``owns``), so no customer hears twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ar_radar.settings import Settings, positive_int

DAILY_DAG = "ar_radar_daily"


class ShardConfigError(ValueError):
    """AR_RADAR_SHARDS or AR_RADAR_SHARD_OF is not usable; the message says how to fix it."""


def shard_count() -> int:
    try:
        return positive_int("AR_RADAR_SHARDS", 1)
    except ValueError as exc:
        raise ShardConfigError(f"{exc} (1: no sharding)") from None


def placements(count: int) -> dict[str, int]:
    """``AR_RADAR_SHARD_OF``: JSON mapping a tenant id or organisation name to a shard number (0 to count-1)."""
    raw = os.environ.get("AR_RADAR_SHARD_OF", "").strip()
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in found.values()):
        raise ShardConfigError(
            f"AR_RADAR_SHARD_OF must be JSON mapping a tenant id or organisation name to a shard number, e.g. "
            f'{{"Big Client Ltd": 0}}; found {raw[:200]!r}.'
        )
    outside = {k: v for k, v in found.items() if not 0 <= v < count}
    if outside:
        raise ShardConfigError(f"AR_RADAR_SHARD_OF places {outside} outside shards 0-{count - 1} (AR_RADAR_SHARDS).")
    return found


def hashed_shard(tenant_id: str, count: int) -> int:
    """The same number for the same tenant id in every process (Python's hash() is salted per process)."""
    digest = hashlib.sha256(tenant_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    placed: tuple[tuple[str, int], ...] = ()

    @classmethod
    def all_from_env(cls) -> list[Shard]:
        count = shard_count()
        placed = tuple(sorted(placements(count).items()))
        return [cls(index, count, placed) for index in range(count)]

    @classmethod
    def from_env(cls, index: int) -> Shard:
        shards = cls.all_from_env()
        if not 0 <= index < len(shards):
            raise ShardConfigError(f"There is no shard {index}: AR_RADAR_SHARDS={len(shards)}.")
        return shards[index]

    @property
    def name(self) -> str:
        return f"shard-{self.index}"

    @property
    def dag_id(self) -> str:
        """One shard keeps the single warehouse's DAG id; more get one DAG each."""
        return DAILY_DAG if self.count == 1 else f"{DAILY_DAG}_shard_{self.index}"

    def shard_of(self, tenant_id: str, tenant_name: str | None = None) -> int:
        placed = dict(self.placed)
        if tenant_id in placed:
            return placed[tenant_id]
        if tenant_name and tenant_name in placed:
            return placed[tenant_name]
        return hashed_shard(tenant_id, self.count)

    def owns(self, tenant_id: str, tenant_name: str | None = None) -> bool:
        return self.shard_of(tenant_id, tenant_name) == self.index

    def folder(self, shared: Path) -> Path:
        """Where this shard's DuckDB file, landing, state, models and output live."""
        return shared if self.count == 1 else shared / "shards" / str(self.index)

    def settings(self, settings: Settings) -> Settings:
        """``settings`` pointed at this shard's files (unchanged for one shard); the shared folder stays."""
        if self.count == 1:
            return settings
        shared = settings.shared_dir
        folder = self.folder(shared)
        return replace(settings, data_dir=folder, db_path=folder / "ar_radar.duckdb", shared_root=shared, shard=self)


def published_folder(settings: Settings) -> Path:
    """Where each shard publishes its marts as Parquet, one folder per shard, for practice-level reports."""
    return settings.shared_dir / "published"
