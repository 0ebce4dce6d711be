"""The Airflow pools shards share: Xero's per-app limit and the memory DuckDB-heavy tasks take."""

from __future__ import annotations

import pytest
from ar_radar.pipeline import pools


def test_sizes_parse_as_duckdb_writes_them():
    assert pools.size_in_bytes("3GB") == 3_000_000_000
    assert pools.size_in_bytes("512MiB") == 512 * 1024 * 1024
    assert pools.size_in_bytes("1.5 GiB") == 3 * 1024**3 // 2
    with pytest.raises(ValueError, match="3GB or 512MiB"):
        pools.size_in_bytes("lots")


def test_default_sizes(monkeypatch):
    for name in ("AR_RADAR_XERO_POOL_SLOTS", "AR_RADAR_WAREHOUSE_POOL_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AR_RADAR_DUCKDB_MEMORY_LIMIT", "3GiB")
    monkeypatch.setattr(pools, "machine_memory_bytes", lambda: 24 * 1024**3)
    specs = {p.name: p.slots for p in pools.pool_specs()}
    # 10,000 calls a minute per app over 60 a minute per organisation: 166 organisations at full speed
    assert specs["ar_radar_xero_api"] == 166
    # 24 GiB over (3 GiB DuckDB + 1 GiB the rest) per task
    assert specs["ar_radar_warehouse"] == 6


def test_configured_sizes_win_and_are_checked(monkeypatch):
    monkeypatch.setenv("AR_RADAR_XERO_POOL_SLOTS", "20")
    monkeypatch.setenv("AR_RADAR_WAREHOUSE_POOL_SLOTS", "3")
    assert [p.slots for p in pools.pool_specs()] == [20, 3]
    monkeypatch.setenv("AR_RADAR_WAREHOUSE_POOL_SLOTS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        pools.pool_specs()
