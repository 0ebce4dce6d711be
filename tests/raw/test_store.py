"""Raw landing: append-only, idempotent, nothing lost, clear errors."""

import hashlib

import duckdb
import pytest
from ar_radar.extract.landing import write_batch
from ar_radar.raw.store import RawLoadError, load_landing


def _rows(db, table="raw.xero_invoices"):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select record_id, payload::varchar, run_id from {table} order by all").fetchall()


def _batch(root, run_id, records):
    return write_batch(
        root,
        run_id,
        "xero",
        "invoices",
        "tenant-1",
        ((r.get("InvoiceID"), r.get("UpdatedDateUTC"), r) for r in records),
    )


def test_reloading_the_same_files_adds_nothing(tmp_path):
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "a", "Total": 1}, {"InvoiceID": "b", "Total": 2}])
    db = tmp_path / "db.duckdb"
    first = load_landing(db, tmp_path / "landing")
    again = load_landing(db, tmp_path / "landing")  # files already loaded are skipped
    _batch(tmp_path / "landing", "r1-rerun", [{"InvoiceID": "a", "Total": 1}, {"InvoiceID": "b", "Total": 2}])
    rerun = load_landing(db, tmp_path / "landing")  # a re-extracted identical page adds nothing
    assert [r.inserted for r in first] == [2] and again == [] and [r.inserted for r in rerun] == [0]
    assert len(_rows(db)) == 2


def test_changed_records_are_appended_never_overwritten_and_current_view_has_latest(tmp_path):
    db = tmp_path / "db.duckdb"
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "a", "Status": "AUTHORISED"}])
    load_landing(db, tmp_path / "landing")
    _batch(tmp_path / "landing", "r2", [{"InvoiceID": "a", "Status": "VOIDED"}, {"InvoiceID": "a", "Status": "VOIDED"}])
    load_landing(db, tmp_path / "landing")
    history = _rows(db)
    assert [h[2] for h in history] == ["r1", "r2"]  # both versions kept, duplicate in r2 loaded once
    with duckdb.connect(str(db), read_only=True) as con:
        current = con.execute("select payload->>'Status' from raw.xero_invoices_current").fetchall()
    assert current == [("VOIDED",)]


def test_records_without_id_are_kept_and_counted(tmp_path):
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "a"}, {"Total": 5}])
    [result] = load_landing(tmp_path / "db.duckdb", tmp_path / "landing")
    assert result.inserted == 2 and result.missing_id == 1


def test_a_broken_file_is_a_clear_error_and_writes_nothing(tmp_path):
    db = tmp_path / "db.duckdb"
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "a"}])
    load_landing(db, tmp_path / "landing")
    broken = _batch(tmp_path / "landing", "r2", [{"InvoiceID": "b"}])
    broken.path.write_text(broken.path.read_text() + "{not json\n")
    with pytest.raises(RawLoadError, match=r"r2/xero/invoices/tenant-1/part-00001.jsonl.*fix or remove it"):
        load_landing(db, tmp_path / "landing")
    assert [r[0] for r in _rows(db)] == ["a"]
    assert broken.path.exists()  # the landing file is kept


def test_missing_required_fields_are_counted_per_file(tmp_path):
    _batch(
        tmp_path / "landing",
        "r1",
        [
            {"InvoiceID": "a", "Contact": {"ContactID": "c"}, "CurrencyCode": "GBP"},
            {"InvoiceID": "b", "Contact": {}, "CurrencyCode": ""},
        ],
    )
    db = tmp_path / "db.duckdb"
    load_landing(db, tmp_path / "landing")
    load_landing(db, tmp_path / "landing")  # already loaded: not counted again
    with duckdb.connect(str(db), read_only=True) as con:
        counts = dict(con.execute("select field, missing from raw.missing_fields").fetchall())
        log = con.execute("select count(*) from raw.load_log").fetchone()[0]
    assert counts["$.InvoiceID"] == 0 and counts["$.Contact.ContactID"] == 1 and counts["$.CurrencyCode"] == 1
    assert counts["$.Total"] == 2 and log == 1


def _md5_key(tenant_id: str, record_id: str | None) -> int:
    """record_key computed apart from DuckDB: the md5 digest's first 8 bytes, little-endian. A DuckDB upgrade that
    changed what md5_number_upper returns would split the versions loaded before it from those after."""
    text = f"{tenant_id}\0{record_id if record_id is not None else chr(0)}"
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "little")


def _keys(db, table="raw.xero_invoices"):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select tenant_id, record_id, record_key from {table} order by all").fetchall()


def test_every_version_carries_the_stable_key_of_its_record(tmp_path):
    db = tmp_path / "db.duckdb"
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "a", "Total": 1}, {"InvoiceID": "b"}, {"Total": 5}])
    load_landing(db, tmp_path / "landing")
    _batch(tmp_path / "landing", "r2", [{"InvoiceID": "a", "Total": 2}])  # a second version of a
    load_landing(db, tmp_path / "landing")
    keys = _keys(db)
    assert [(t, r) for t, r, _ in keys] == [("tenant-1", "a"), ("tenant-1", "a"), ("tenant-1", "b"), ("tenant-1", None)]
    assert [k for _, _, k in keys] == [_md5_key(t, r) for t, r, _ in keys]
    assert len({k for _, _, k in keys}) == 3  # one key per record, the record without an id's too


def test_a_raw_table_from_before_record_key_gains_its_keys_and_keeps_every_row(tmp_path):
    db = tmp_path / "db.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw")
        con.execute("""
            create table raw.xero_invoices (
                source VARCHAR NOT NULL, entity VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL, record_id VARCHAR,
                updated_at VARCHAR, record_hash VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
                extracted_at TIMESTAMPTZ NOT NULL, payload JSON NOT NULL, loaded_at TIMESTAMPTZ NOT NULL)""")
        con.execute("""
            insert into raw.xero_invoices values
                ('xero', 'invoices', 'tenant-1', 'old', null, 'h1', 'r0', now(), '{"InvoiceID": "old"}', now()),
                ('xero', 'invoices', 'tenant-2', 'old', null, 'h2', 'r0', now(), '{"InvoiceID": "old"}', now())""")
        before = con.execute("select * from raw.xero_invoices order by all").fetchall()
    _batch(tmp_path / "landing", "r1", [{"InvoiceID": "new"}])
    [result] = load_landing(db, tmp_path / "landing")
    assert result.inserted == 1
    with duckdb.connect(str(db)) as con:
        kept = con.execute("select * exclude (record_key) from raw.xero_invoices where run_id = 'r0' order by all")
        assert kept.fetchall() == before
        with pytest.raises(duckdb.ConstraintException, match="record_key"):
            con.execute("insert into raw.xero_invoices select * replace (null as record_key) from raw.xero_invoices")
    assert [k for _, _, k in _keys(db)] == [_md5_key(t, r) for t, r, _ in _keys(db)]
    assert len({k for _, _, k in _keys(db)}) == 3
