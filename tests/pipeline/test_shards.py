"""Organisations split into shards: a stable assignment, placements from config, one set of files per shard."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from ar_radar.pipeline import daily
from ar_radar.pipeline.shards import Shard, ShardConfigError
from ar_radar.settings import Settings

TENANTS = [str(uuid.UUID(int=n * 7919 + 17)) for n in range(2000)]


def _shard_in_fresh_process(tenant: str, count: int, hash_seed: str) -> int:
    """The shard another process computes (with another salt for Python's own hash())."""
    code = f"from ar_radar.pipeline.shards import hashed_shard; print(hashed_shard({tenant!r}, {count}))"
    env = {"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout)


def test_a_tenant_lands_on_the_same_shard_in_every_process():
    tenant = TENANTS[5]
    seen = {_shard_in_fresh_process(tenant, 7, seed) for seed in ("1", "2", "3")}
    assert len(seen) == 1
    assert seen == {Shard(0, 7).shard_of(tenant)}


def test_shards_share_the_organisations_evenly():
    counts = [0, 0, 0, 0]
    for tenant in TENANTS:
        counts[Shard(0, 4).shard_of(tenant)] += 1
    assert sum(counts) == len(TENANTS)
    assert all(400 <= c <= 600 for c in counts), counts  # 500 expected each


def test_config_places_an_organisation_by_id_or_name(monkeypatch):
    tenant = TENANTS[0]
    hashed = Shard(0, 3).shard_of(tenant)
    elsewhere = (hashed + 1) % 3
    monkeypatch.setenv("AR_RADAR_SHARDS", "3")
    monkeypatch.setenv("AR_RADAR_SHARD_OF", json.dumps({tenant: elsewhere, "Big Client Ltd": 2}))
    shards = Shard.all_from_env()
    assert [s.shard_of(tenant) for s in shards] == [elsewhere] * 3
    assert shards[2].owns(TENANTS[1], "Big Client Ltd") and not shards[0].owns(TENANTS[1], "Big Client Ltd")
    organisations = [{"tenant_id": t, "tenant_name": f"Org {n}"} for n, t in enumerate(TENANTS[:30])]
    split = [[o for o in organisations if s.owns(o["tenant_id"], o["tenant_name"])] for s in shards]
    assert sorted(o["tenant_id"] for part in split for o in part) == sorted(TENANTS[:30])  # each exactly once


@pytest.mark.parametrize(
    ("shards", "placed", "message"),
    [
        ("0", "", "at least 1"),
        ("two", "", "at least 1"),
        ("2", '{"Acme": 2}', "outside shards 0-1"),
        ("2", '["Acme"]', "must be JSON mapping"),
        ("2", '{"Acme": true}', "must be JSON mapping"),
    ],
)
def test_bad_shard_config_says_how_to_fix_it(monkeypatch, shards, placed, message):
    monkeypatch.setenv("AR_RADAR_SHARDS", shards)
    monkeypatch.setenv("AR_RADAR_SHARD_OF", placed)
    with pytest.raises(ShardConfigError, match=message):
        Shard.all_from_env()


def test_one_shard_is_the_single_warehouse(monkeypatch, tmp_path):
    monkeypatch.delenv("AR_RADAR_SHARDS", raising=False)
    monkeypatch.setenv("AR_RADAR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AR_RADAR_DB", raising=False)
    [only] = Shard.all_from_env()
    settings = Settings.from_env()
    assert only.dag_id == "ar_radar_daily"
    assert only.settings(settings) is settings
    assert settings.db_path == tmp_path / "ar_radar.duckdb" and settings.state_dir == tmp_path / "state"
    assert settings.shared_state_dir == settings.state_dir and settings.owns(TENANTS[0])
    assert settings.hubspot_landing_dir == settings.landing_dir


def test_each_shard_has_its_own_files_and_shares_the_token_store(monkeypatch, tmp_path):
    monkeypatch.setenv("AR_RADAR_SHARDS", "2")
    monkeypatch.setenv("AR_RADAR_DATA_DIR", str(tmp_path))
    base = Settings.from_env()
    first, second = (s.settings(base) for s in Shard.all_from_env())
    assert first.db_path == tmp_path / "shards" / "0" / "ar_radar.duckdb"
    assert second.landing_dir == tmp_path / "shards" / "1" / "landing"
    assert len({first.db_path, second.db_path}) == 2 and len({first.state_dir, second.state_dir}) == 2
    assert len({first.output_dir, second.output_dir, first.model_dir, second.model_dir}) == 4
    # one Xero token store (refresh tokens rotate on every use, two stores would race) and one set of HubSpot
    # checkpoints and extracts (one CRM serves every organisation) for all shards
    assert first.shared_state_dir == second.shared_state_dir == tmp_path / "state"
    assert first.hubspot_landing_dir == second.hubspot_landing_dir == tmp_path / "landing" != first.landing_dir
    assert [first.owns(TENANTS[0]), second.owns(TENANTS[0])].count(True) == 1


def test_batches_stay_within_airflows_map_length():
    organisations = [{"tenant_id": t} for t in TENANTS[:10]]
    assert daily.organisation_batches(organisations, 1024) == [[o] for o in organisations]
    batches = daily.organisation_batches(organisations, 4)
    assert len(batches) <= 4 and [o for b in batches for o in b] == organisations
    assert daily.organisation_batches([], 4) == []


def test_settings_paths_are_absolute(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AR_RADAR_DATA_DIR", str(tmp_path / "rel" / ".."))
    assert Settings.from_env().shared_dir == tmp_path


def test_unsharded_settings_moved_elsewhere_keep_everything_there(tmp_path, monkeypatch):
    """The demo and the tests point settings at their own folder: the token store must follow, not stay behind in
    the default data folder (where runs against other servers would share it)."""
    monkeypatch.delenv("AR_RADAR_SHARDS", raising=False)
    moved = replace(Settings.from_env(), data_dir=tmp_path, db_path=tmp_path / "w.duckdb")
    assert moved.shared_state_dir == tmp_path / "state" and moved.hubspot_landing_dir == tmp_path / "landing"
    monkeypatch.setenv("AR_RADAR_SHARDS", "2")
    shard = Shard.from_env(1).settings(moved)
    assert shard.shared_state_dir == tmp_path / "state"
    assert shard.db_path == tmp_path / "shards" / "1" / "ar_radar.duckdb"
