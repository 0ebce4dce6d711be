"""A shard's marts as Parquet, and the practice's overview read across shards from those files alone."""

from __future__ import annotations

import duckdb
import pytest
from ar_radar.warehouse.publish import PUBLISHED, publish_marts
from ar_radar.weekly_report.practice import NothingPublished, practice_overview

from tests.conftest import AS_OF


def _tenants(db) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(
            con.execute("select tenant_id::varchar, organisation_name from staging.stg_xero__organisations").fetchall()
        )


def test_every_published_table_holds_the_warehouse_rows(scored_warehouse, tmp_path):
    published = publish_marts(scored_warehouse.db_path, AS_OF, tmp_path / "shard-0")
    with duckdb.connect(str(scored_warehouse.db_path), read_only=True) as con:
        [(aging, scores)] = con.execute(
            "select (select count(*) from marts.fct_ar_aging), "
            "(select count(*) from scoring.invoice_risk_scores where as_of_date = ?)",
            [AS_OF],
        ).fetchall()
    assert set(published.rows) == set(PUBLISHED)
    assert published.rows["ar_aging"] == aging > 0 and published.rows["invoice_risk_scores"] == scores > 0
    assert published.rows["organisations"] == 2
    assert sorted(p.name for p in (tmp_path / "shard-0").iterdir()) == sorted(f"{n}.parquet" for n in PUBLISHED)


def test_the_overview_puts_every_shards_organisations_side_by_side(scored_warehouse, tmp_path):
    tenants = sorted(_tenants(scored_warehouse.db_path))
    folder = tmp_path / "published"
    # two shards, one organisation each (as if each owned one): the overview must find both, once
    for shard, tenant in enumerate(tenants):
        publish_marts(scored_warehouse.db_path, AS_OF, folder / f"shard-{shard}", lambda t, _, keep=tenant: t == keep)
    overview = practice_overview(folder)
    assert sorted(r["tenant_id"] for r in overview.rows) == tenants
    with duckdb.connect(str(scored_warehouse.db_path), read_only=True) as con:
        expected = dict(
            con.execute("select tenant_id::varchar, sum(amount_due_base) from marts.fct_ar_aging group by 1").fetchall()
        )
        high = dict(
            con.execute(
                "select tenant_id, sum(amount_due_base) from scoring.invoice_risk_scores "
                "where as_of_date = ? and risk_band = 'high' group by 1",
                [AS_OF],
            ).fetchall()
        )
    for row in overview.rows:
        assert row["shard"] == f"shard-{tenants.index(row['tenant_id'])}"
        assert row["open_ar_base"] == expected[row["tenant_id"]]
        assert row["high_risk_ar_base"] == high.get(row["tenant_id"], 0)
        assert row["as_of_date"] == AS_OF and row["base_currency"] in ("GBP", "EUR")
    assert overview.csv().splitlines()[0].startswith("shard,organisation_name,tenant_id")


def test_a_republish_replaces_the_files_whole(scored_warehouse, tmp_path):
    folder = tmp_path / "shard-0"
    first = publish_marts(scored_warehouse.db_path, AS_OF, folder)
    again = publish_marts(scored_warehouse.db_path, AS_OF, folder)
    assert first.rows == again.rows
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no half-written file left


def test_no_published_shard_is_a_clear_error(tmp_path):
    with pytest.raises(NothingPublished, match="run the daily DAG of each shard"):
        practice_overview(tmp_path)
