"""The incremental gate: after days of changed rows (new failures, a failure fixed, a duplicate key), validating
only the changed rows gives exactly the results of validating every row; a quiet day reads no rows; a full
warehouse rebuild or a changed check makes the next run a full one. Real dbt builds, real GX, real DuckDB."""

from __future__ import annotations

from dataclasses import asdict

import duckdb
import pytest
from ar_radar.gate import incremental
from ar_radar.gate.validate import validate
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF, copy_of

pytestmark = pytest.mark.pipeline

NEW_VERSION = """
    insert into raw.{table}
    select source, entity, tenant_id, record_id, updated_at, record_hash || '-{tag}', 'run-{tag}',
           extracted_at + interval 1 day, json_merge_patch(payload, '{patch}'), now(), record_key
    from raw.{table}_current where {where} order by record_id limit {limit} offset {offset}
"""
SALES = "payload->>'Type' = 'ACCREC'"


def _change(con, table, patch, tag, limit=2, offset=0, where=SALES):
    con.execute(NEW_VERSION.format(table=table, patch=patch, tag=tag, limit=limit, offset=offset, where=where))


def _gate(settings, run_id, full=False, day=AS_OF):
    report = validate(settings.db_path, settings.gx_root, run_id, day, full=full)
    incremental.remember(settings.db_path, run_id, report.row_states, report.raw_counts)
    return report


def _results(report):
    # passed_last_at comes from the run history, not from the data
    return [{k: v for k, v in asdict(c).items() if k != "passed_last_at"} for c in report.checks]


def _states(report):
    return {s.table: s for s in report.row_states}


def _failing(report, table, column):
    return [c for c in report.checks if c.table == table and c.column == column and c.unexpected_count]


def test_changed_rows_only_and_the_results_of_a_full_validation(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path / "gate")
    with duckdb.connect(str(settings.db_path)) as con:
        _change(con, "xero_invoices", '{"AmountDue": -5}', "negative")  # two failures before the first run
    build_warehouse(settings, AS_OF)
    first = _gate(settings, "day-1")
    assert {s.since for s in first.row_states} == {None}  # no kept verdicts yet: every row
    [negative] = _failing(first, "stg_xero__invoices", "amount_due")
    assert negative.unexpected_count == 2

    with duckdb.connect(str(settings.db_path)) as con:
        _change(con, "xero_invoices", '{"AmountDue": 1}', "fixed", limit=1)  # one of the two fixed
        _change(con, "xero_invoices", '{"CurrencyCode": "XXX"}', "currency", offset=10)
        _change(con, "xero_invoices", '{"CurrencyCode": null}', "nocurrency", offset=20)
        _change(con, "xero_invoices", '{"DueDateString": "2020-01-01T00:00:00"}', "early-due", offset=30)
        _change(con, "xero_payments", '{"Amount": -3}', "refund", limit=3, where="true")
    build_warehouse(settings, AS_OF)
    with duckdb.connect(str(settings.db_path)) as con:
        # a duplicate key that no new raw version explains: the uniqueness check looks at the whole table
        con.execute(
            "insert into staging.stg_xero__invoices select * from staging.stg_xero__invoices "
            "where invoice_type = 'ACCREC' order by invoice_id desc limit 1"
        )
    second = _gate(settings, "day-2")
    states = _states(second)
    assert states["stg_xero__invoices"].since is not None and states["stg_xero__payments"].since is not None
    assert states["stg_xero__invoices"].rows_validated == 7  # the changed invoices, not the table
    assert states["stg_xero__payments"].rows_validated == 3
    assert states["stg_xero__invoices"].rows_in_table > 100 * 7

    full = validate(settings.db_path, settings.gx_root, "day-2-full", AS_OF, full=True)
    for a, b in zip(_results(second), _results(full), strict=True):
        assert a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    # A table bigger than one DataFrame is validated in chunks, merged as the changed rows are: the same results
    # and the same failing rows kept (the duplicate is the table's last row, its twin in another chunk).
    chunked = validate(settings.db_path, settings.gx_root, "day-2-chunks", AS_OF, full=True, chunk_rows=150)
    assert _results(chunked) == _results(full)
    assert {s.table: s.rows_validated for s in chunked.row_states} == {
        s.table: s.rows_in_table for s in full.row_states
    }
    for table, state in _states(full).items():
        kept, chunk_kept = (
            x.failures.sort_values(["check_key", "row_key"]).reset_index(drop=True)[["check_key", "row_key"]]
            for x in (state, _states(chunked)[table])
        )
        assert len(kept) >= 3 and kept.equals(chunk_kept), table
    # and the results say what changed: one negative left, the new failures, the duplicate
    [negative] = _failing(second, "stg_xero__invoices", "amount_due")
    assert negative.unexpected_count == 1
    [currency] = [c for c in _failing(second, "stg_xero__invoices", "currency_code") if "in_set" in c.check]
    assert currency.unexpected_count == 2 and not currency.success
    [refunds] = _failing(second, "stg_xero__payments", "amount")
    assert refunds.unexpected_count == 3
    [duplicate] = _failing(second, "stg_xero__invoices", "tenant_id,invoice_id")
    assert duplicate.unexpected_count == 2 and not duplicate.success
    [early] = _failing(second, "stg_xero__invoices", "due_date/invoice_date")
    assert early.unexpected_count >= 2 and early.severity == "warning"

    quiet = _gate(settings, "day-3")  # nothing loaded since
    assert {s.table: s.rows_validated for s in quiet.row_states} == {"stg_xero__invoices": 0, "stg_xero__payments": 0}
    assert _results(quiet) == _results(full)


def test_a_full_rebuild_or_a_changed_check_makes_the_next_run_full(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path / "gate")
    _gate(settings, "day-1")
    assert {s.since is not None for s in _gate(settings, "day-2").row_states} == {True}
    build_warehouse(settings, AS_OF, full_refresh=True)
    rebuilt = _states(_gate(settings, "day-3"))["stg_xero__invoices"]
    assert rebuilt.since is None and "rebuilt in full" in rebuilt.reason
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("update ops.data_health_row_state set suite_hash = 'older checks'")
    changed = _states(_gate(settings, "day-4"))["stg_xero__payments"]
    assert changed.since is None and "checks changed" in changed.reason
    asked = _states(_gate(settings, "day-5", full=True))["stg_xero__payments"]
    assert asked.since is None and asked.rows_validated == asked.rows_in_table


def test_only_checks_whose_verdict_is_per_row_are_kept_row_by_row():
    import great_expectations.expectations as gxe

    per_row = [
        gxe.ExpectColumnValuesToNotBeNull(column="x"),
        gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0),
        gxe.ExpectColumnValuesToNotBeInSet(column="x", value_set=["a"]),
    ]
    assert {incremental.kind(e) for e in per_row} == {"row"}
    assert incremental.kind(gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="a", column_B="b")) == "pair"
    # verdicts that compare rows: a table checked by one is validated in full every run
    assert incremental.kind(gxe.ExpectColumnValuesToBeUnique(column="x")) == "other"
    assert incremental.kind(gxe.ExpectColumnValuesToBeIncreasing(column="x")) == "other"
