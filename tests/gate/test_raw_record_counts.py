"""Each raw stream's distinct records, counted on from the last run's count: the same as the raw layer's own
one-row-per-record view, and counted afresh when the versions counted before changed. Real DuckDB, real GX."""

from __future__ import annotations

import duckdb
import pytest
from ar_radar.gate import raw_record_counts
from ar_radar.gate.suites import ChecksConfigError
from ar_radar.gate.validate import validate
from ar_radar.raw.store import record_key_sql

from tests.conftest import AS_OF, copy_of

pytestmark = pytest.mark.pipeline

CONFIG = {
    "invoices": {"raw": "raw.xero_invoices", "staged": "staging.stg_xero__invoices"},
    "payments": {"raw": "raw.xero_payments", "staged": "staging.stg_xero__payments"},
}
# A version of an existing record, loaded now, with record_id replaced by `record_id`.
VERSION = """
    insert into raw.{stream}
    select source, entity, tenant_id, {record_id}, updated_at, record_hash || '-{tag}', 'run-{tag}',
           extracted_at + interval 1 day, payload, {loaded_at}, {record_key}
    from raw.{stream}_current order by record_id limit {limit}
"""


def _add(con, stream, tag, record_id="record_id", limit=1, loaded_at="now()", record_key=None):
    record_key = record_key or record_key_sql(record_id=record_id)  # the key of the record the version is of
    con.execute(VERSION.format(**locals()))


def _count(db, full=False):
    with duckdb.connect(str(db)) as con:
        frame, counts = raw_record_counts.count(con, CONFIG, full)
        raw_record_counts.remember(con, counts)
    return frame.set_index("stream")["raw_rows"].to_dict(), {c.stream: c.how for c in counts}


def _records(db):
    """The raw layer's own definition: its _current views hold one row per (tenant_id, record_id)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {s: con.execute(f"select count(*) from raw.xero_{s}_current").fetchall()[0][0] for s in CONFIG}


def test_a_run_adds_the_records_first_loaded_since_the_last_count(warehouse, tmp_path):
    db = copy_of(warehouse, tmp_path / "counts").db_path
    first, how = _count(db)
    assert first == _records(db) and set(how.values()) == {"counted in full: no earlier run kept a count"}

    with duckdb.connect(str(db)) as con:
        _add(con, "xero_invoices", "edited", limit=2)  # new versions of two known invoices: no new record
        _add(con, "xero_invoices", "new-a", record_id="'new-invoice'")  # a new invoice, in two versions
        _add(con, "xero_invoices", "new-b", record_id="'new-invoice'")
        _add(con, "xero_invoices", "no-id", record_id="null")  # a version without an id: one record per tenant
        _add(con, "xero_payments", "edited", limit=3)
    second, how = _count(db)
    assert second == _records(db)
    assert second == {"invoices": first["invoices"] + 2, "payments": first["payments"]}
    assert how["invoices"].startswith("2 new records loaded after")
    assert how["payments"].startswith("0 new records loaded after")
    assert _count(db, full=True)[0] == second

    with duckdb.connect(str(db)) as con:
        _add(con, "xero_invoices", "no-id-again", record_id="null")  # the tenant's null-id record is known now
    assert _count(db)[0] == second


def test_versions_counted_before_that_changed_make_a_count_afresh(warehouse, tmp_path):
    db = copy_of(warehouse, tmp_path / "counts").db_path
    _count(db)
    with duckdb.connect(str(db)) as con:
        con.execute("delete from raw.xero_payments where rowid = (select min(rowid) from raw.xero_payments)")
    counted, how = _count(db)
    assert counted == _records(db)
    assert "versions were loaded up to the last count" in how["payments"] and "new records" in how["invoices"]

    with duckdb.connect(str(db)) as con:  # a late version stamped before the last count: a new record among them
        _add(con, "xero_invoices", "backdated", record_id="'late-invoice'", loaded_at="timestamptz '2000-01-01'")
    counted, how = _count(db)
    assert counted == _records(db) and "loaded with an earlier time" in how["invoices"]


def test_a_new_record_sharing_an_older_records_key_is_counted_by_its_ids(warehouse, tmp_path):
    db = copy_of(warehouse, tmp_path / "counts").db_path
    first, _ = _count(db)
    with duckdb.connect(str(db)) as con:  # a new invoice given an existing invoice's record_key (a forged collision)
        _add(con, "xero_invoices", "shared-key", record_id="'new-invoice'", record_key="record_key")
    counted, how = _count(db)
    assert counted == _records(db) and counted["invoices"] == first["invoices"] + 1
    assert how["invoices"].startswith("1 new records loaded after")


def test_a_raw_table_without_record_keys_is_counted_afresh(warehouse, tmp_path):
    db = copy_of(warehouse, tmp_path / "counts").db_path
    first, _ = _count(db)
    records = _records(db)  # before the column goes: the _current views select it
    with duckdb.connect(str(db)) as con:  # a file written before record_key, never loaded or built since
        con.execute("alter table raw.xero_payments drop column record_key")
    counted, how = _count(db)
    assert counted == records == first
    assert how["payments"] == "counted in full: the raw table has no record_key yet"
    assert how["invoices"].startswith("0 new records loaded after")


def test_the_gate_finds_a_record_missing_from_staging_on_a_counted_on_run(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path / "gate")
    _count(settings.db_path)  # the last run's count
    with duckdb.connect(str(settings.db_path)) as con:
        _add(con, "xero_invoices", "new", record_id="'never-staged'")  # loaded, not built: staging lacks it
    report = validate(settings.db_path, settings.gx_root, "counted-on", AS_OF)
    [invoices] = [c for c in report.raw_counts if c.stream == "invoices"]
    assert invoices.how.startswith("1 new records loaded after")
    [failed] = [c for c in report.critical_failures if c.table == "staging_row_counts"]
    assert failed.example_ids == ["invoices"]


def test_a_stream_naming_no_table_is_refused_by_name(warehouse):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        with pytest.raises(ChecksConfigError, match="raw_record_counts.bills: there is no"):
            raw_record_counts.count(con, {"bills": {"raw": "raw.xero_bills", "staged": "staging.stg_xero__bills"}})
        with pytest.raises(ChecksConfigError, match="raw_record_counts.invoices: give"):
            raw_record_counts.count(con, {"invoices": {"raw": "raw.xero_invoices"}})
