"""Raw landing: append-only, idempotent, nothing lost, clear errors."""

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
