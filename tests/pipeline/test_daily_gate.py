"""The gate as the daily run uses it, one fault per check: real dbt rebuild, GX, DuckDB and SMTP.

Each critical case damages a copy of the sandbox warehouse the way the check is meant to notice (new raw
record versions, as a later extract would land them, then `dbt build`; or, for faults only a pipeline bug
could cause, the built table itself), runs the gate step, and asserts: the gate fails naming the check,
exactly one alert reached the SMTP server saying what, where, examples and what to do, scoring refuses to
run, and the raw tables are as they were. Warning cases pass the gate and land in the queue's footer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

import duckdb
import pytest
from ar_radar.gate.report import GateNotPassed
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.pipeline import daily
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF, make_settings

pytestmark = pytest.mark.pipeline

OPEN = "payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'"
NO_CONTACT = """json_merge_patch(payload, '{"Contact": {"ContactID": null}}')"""
NO_NUMBER = """json_merge_patch(payload, '{"InvoiceNumber": null}')"""  # a JSON merge patch's null removes the key
AMOUNT_AS_TEXT = "json_merge_patch(payload, json_object('Amount', payload->>'Amount'))"


def new_versions(table: str, where: str, payload_sql: str, limit: int = 3) -> Callable:
    """A raw fault: new versions of `limit` records of `table` matching `where`, payload rewritten."""

    def apply(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"""
            insert into raw.{table}
            select source, entity, tenant_id, record_id, updated_at, record_hash || '-fault', 'fault-run',
                   extracted_at + interval 1 hour, {payload_sql}, now(), record_key
            from raw.{table}_current where {where} order by record_id limit {limit}""")

    apply.rebuild = True
    return apply


def built(sql: str) -> Callable:
    """A fault no source data can cause (a model bug): applied to the built table, no rebuild."""

    def apply(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(sql)

    apply.rebuild = False
    return apply


def on_two_aging_rows(change: str) -> Callable:
    return built(f"{change} where invoice_id in (select invoice_id from marts.fct_ar_aging order by 1 limit 2)")


@dataclass(frozen=True)
class Case:
    fault: Callable
    table: str
    column: str | None
    check: str
    advice: str  # a phrase of that table's "what to do"


CRITICAL = {
    "required_field_missing": Case(
        new_versions("xero_invoices", "payload->>'Type' = 'ACCREC'", NO_CONTACT, 600),
        "stg_xero__invoices", "contact_id", "expect_column_values_to_not_be_null", "Open the example invoices in Xero",
    ),
    "schema_field_missing": Case(
        new_versions("xero_invoices", "payload->>'Type' = 'ACCREC'", NO_NUMBER, 20),
        "source_schema", "status", "expect_column_values_to_be_in_set", "changed the shape of its data",
    ),
    "schema_type_changed": Case(
        new_versions("xero_payments", "true", AMOUNT_AS_TEXT),
        "source_schema", "status", "expect_column_values_to_be_in_set", "update the staging model",
    ),
    "invalid_status": Case(
        new_versions("xero_invoices", OPEN, """json_merge_patch(payload, '{"Status": "PENDING"}')"""),
        "stg_xero__invoices", "status", "expect_column_values_to_be_in_set", "Imports and apps",
    ),
    "unknown_currency": Case(
        new_versions("xero_invoices", OPEN, """json_merge_patch(payload, '{"CurrencyCode": "EURO"}')"""),
        "stg_xero__invoices", "currency_code", "expect_column_values_to_be_in_set", "Open the example invoices",
    ),
    "negative_total": Case(
        new_versions("xero_invoices", "payload->>'Type' = 'ACCREC' and payload->>'Status' = 'PAID'",
                     """json_merge_patch(payload, json_object('Total', -(payload->>'Total')::double))"""),
        "stg_xero__invoices", "total", "expect_column_values_to_be_between", "Open the example invoices",
    ),
    "negative_payment": Case(
        new_versions("xero_payments", "true", """json_merge_patch(payload, '{"Amount": -5}')"""),
        "stg_xero__payments", "amount", "expect_column_values_to_be_between", "Open the example payments",
    ),
    "duplicate_contact": Case(
        built("insert into staging.stg_xero__contacts select * from staging.stg_xero__contacts limit 2"),
        "stg_xero__contacts", "tenant_id,contact_id", "expect_compound_columns_to_be_unique", "merge them there",
    ),
    "no_invoices": Case(
        built("delete from staging.stg_xero__invoices"),
        "stg_xero__invoices", None, "expect_table_row_count_to_be_between", "Open the example invoices",
    ),
    "rows_lost_in_staging": Case(
        built("delete from staging.stg_xero__payments where payment_id in "
              "(select payment_id from staging.stg_xero__payments order by 1 limit 5)"),
        "staging_row_counts", "difference", "expect_column_values_to_be_between", "dbt staging model",
    ),
    "aging_does_not_reconcile": Case(
        on_two_aging_rows("delete from marts.fct_ar_aging"),
        "ar_reconciliation", "difference", "expect_column_values_to_be_between", "does not add up",
    ),
    "aging_without_bucket": Case(
        on_two_aging_rows("update marts.fct_ar_aging set aging_bucket = null"),
        "fct_ar_aging", "aging_bucket", "expect_column_values_to_not_be_null", "could not place",
    ),
    "aging_without_base_amount": Case(
        on_two_aging_rows("update marts.fct_ar_aging set amount_due_base = null"),
        "fct_ar_aging", "amount_due_base", "expect_column_values_to_not_be_null", "could not place",
    ),
    "aging_with_nothing_due": Case(
        on_two_aging_rows("update marts.fct_ar_aging set amount_due = 0"),
        "fct_ar_aging", "amount_due", "expect_column_values_to_be_between", "could not place",
    ),
    "base_currency_unknown": Case(
        built("delete from staging.stg_xero__organisations where tenant_id = "
              "(select min(tenant_id) from staging.stg_xero__invoices)"),
        "base_currencies", "base_currency", "expect_column_values_to_not_be_null", "accounting.settings.read",
    ),
    "extract_stalled": Case(
        built("update staging.stg_xero__invoices set loaded_at = loaded_at - interval 4 day"),
        "freshness", "hours_since_last_load", "expect_column_values_to_be_between", "reconnect",
    ),
}  # fmt: skip

WARNINGS = {
    "amount_due_above_total": (
        new_versions("xero_invoices", OPEN, """json_merge_patch(payload, json_object(
            'AmountDue', (payload->>'Total')::double + 5))"""),
        "total/amount_due",
    ),
    "due_before_invoice_date": (
        new_versions("xero_invoices", OPEN, """json_merge_patch(payload, json_object(
            'DueDate', '/Date(' || (epoch_ms((payload->>'DateString')::timestamp) - 86400000) || '+0000)/',
            'DueDateString', strftime((payload->>'DateString')::timestamp - interval 1 day, '%Y-%m-%dT00:00:00')))"""),
        "due_date/invoice_date",
    ),
    "new_source_field": (
        new_versions("xero_invoices", OPEN, """json_merge_patch(payload, '{"PaymentRiskRating": "B"}')"""),
        "xero_invoices.PaymentRiskRating: a new field",
    ),
    "extract_a_day_late": (
        built("update staging.stg_xero__invoices set loaded_at = loaded_at - interval 2 day"),
        "freshness.hours_since_last_load",
    ),
}  # fmt: skip


def _raw_state(db) -> dict:  # noqa: ANN001
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [
            r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()
        ]
        return {
            t: con.execute(f"select count(*), sum(hash(columns(*)::varchar)) from raw.{t}").fetchone() for t in tables
        }


@pytest.fixture
def faulted(warehouse, tmp_path, monkeypatch):
    """Yields a function: a damaged copy of the warehouse, ready for the gate, and an SMTP server."""
    with SmtpSink(tmp_path / "emails") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.airflow_connection())

        def make(fault: Callable):  # noqa: ANN202
            settings = replace(make_settings(tmp_path), data_docs_url=None)
            shutil.copy(warehouse.db_path, settings.db_path)
            with duckdb.connect(str(settings.db_path)) as con:
                fault(con)
            if fault.rebuild:
                build_warehouse(settings, AS_OF)
            return settings, sink

        yield make


@pytest.mark.parametrize("name", CRITICAL)
def test_a_critical_fault_stops_scoring_and_sends_one_alert(faulted, name):
    case = CRITICAL[name]
    settings, sink = faulted(case.fault)
    raw_before = _raw_state(settings.db_path)

    with pytest.raises(GateNotPassed, match=case.table):
        daily.check_data_health(settings, f"run-{name}", AS_OF)
    with pytest.raises(GateNotPassed, match="gate failed"):
        daily.score_open_invoices(settings, f"run-{name}", AS_OF)
    with pytest.raises(GateNotPassed):
        daily.build_action_queue(settings, f"run-{name}", AS_OF)
    [mail] = sink.received
    assert mail.recipients == ["owners@example.com"]
    assert "data-health alert" in mail.message["Subject"]
    html = mail.message.get_body(("html",)).get_content()
    check_words = case.check.removeprefix("expect_").replace("_", " ")
    row = f"<tr><td>{case.table}</td><td>{check_words}</td><td>{case.column or ''}</td>"
    assert row in html, html[:3000]
    assert case.advice in html and "What to do" in html and "last passed" in html
    attached = [p.get_filename() for p in mail.message.iter_attachments()]
    assert f"ar_radar_frames-{case.table}.html" in attached  # the GX Data Docs page of the failed table
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        scoring = con.execute("select count(*) from duckdb_tables() where schema_name = 'scoring'").fetchone()[0]
        stored = con.execute("select passed from ops.data_health_runs where run_id = ?", [f"run-{name}"]).fetchone()
    assert scoring == 0 and stored == (False,)
    assert not (settings.output_dir / f"action_queue_{AS_OF}.json").exists()
    assert _raw_state(settings.db_path) == raw_before


def test_a_retried_or_rerun_gate_alerts_nobody_twice(faulted):
    settings, sink = faulted(CRITICAL["negative_payment"].fault)
    for attempt in ("run-a", "run-a", "run-b"):  # a retry, then a manual re-run of the same day
        with pytest.raises(GateNotPassed):
            daily.check_data_health(settings, attempt, AS_OF)
    assert len(sink.received) == 1
    with pytest.raises(GateNotPassed, match="already alerted"):
        daily.check_data_health(settings, "run-c", AS_OF)


@pytest.mark.parametrize("name", WARNINGS)
def test_a_warning_passes_the_gate_into_the_queue_footer(faulted, name):
    fault, words = WARNINGS[name]
    settings, sink = faulted(fault)
    outcome = daily.check_data_health(settings, f"run-{name}", AS_OF)
    assert any(words in w for w in outcome["warnings"]), outcome["warnings"]
    assert daily.score_open_invoices(settings, f"run-{name}", AS_OF)["scored"] > 0
    queue = json.loads(open(daily.build_action_queue(settings, f"run-{name}", AS_OF)).read())
    assert any(words in w for w in queue["data_health_warnings"])
    assert sink.received == []  # warnings alert nobody; they ride in the finance email's footer
