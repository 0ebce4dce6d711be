"""The one way to open the warehouse: every connection is bounded in threads and memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from ar_radar import database


def _setting(db: Path, name: str) -> str:
    with database.connect(db, read_only=False) as con:
        [(value,)] = con.execute(f"SELECT current_setting('{name}')").fetchall()
    return str(value)


def test_connections_take_the_configured_threads_and_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_RADAR_THREADS", "1")
    monkeypatch.setenv("AR_RADAR_DUCKDB_MEMORY_LIMIT", "512MB")
    db = tmp_path / "w.duckdb"
    assert _setting(db, "threads") == "1"
    # DuckDB reports the cap in MiB: 512 MB = 488.2 MiB
    assert _setting(db, "memory_limit") == "488.2 MiB"


def test_the_memory_cap_defaults_to_2_4gb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AR_RADAR_DUCKDB_MEMORY_LIMIT", raising=False)
    assert _setting(tmp_path / "w.duckdb", "memory_limit") == "2.2 GiB"  # 2.4 GB
