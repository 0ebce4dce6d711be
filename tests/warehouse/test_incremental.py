"""Incremental staging: after days of new raw versions (changed, late-loaded older, new and voided records, credit
allocations, CRM notes), every model equals a full rebuild from the same raw data; only the touched records were
parsed; a changed dbt project forces a full rebuild. Real dbt builds on the sandbox warehouse."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest
from ar_radar.extract.xero_dates import xero_date, xero_date_string
from ar_radar.local.sandbox.wire import guid_sql
from ar_radar.raw.store import record_key_sql
from ar_radar.warehouse.build import WarehouseBuildError, build_models, build_warehouse, project_hash

from tests.conftest import AS_OF, copy_of

pytestmark = pytest.mark.pipeline

NEW_VERSION = """
    insert into raw.{table}
    select source, entity, tenant_id, {record_id}, updated_at, record_hash || '-{tag}', 'run-{tag}',
           extracted_at + interval '{shift}', {payload}, now(), {record_key}
    from raw.{table}_current where {where} order by record_id limit {limit}
"""


def _versions(con, table, where, payload, tag, limit=5, shift="1 day", record_id="record_id"):
    record_key = record_key_sql(record_id=record_id)  # the key of the record the version is of
    con.execute(NEW_VERSION.format(**locals()))


# The new versions several tests write: a corrected total, a corrected payment amount, a due date moved.
TOTAL_CORRECTED = "json_merge_patch(payload, json_object('Total', try_cast(payload->>'Total' as double) + 10))"
AMOUNT_CORRECTED = "json_merge_patch(payload, json_object('Amount', try_cast(payload->>'Amount' as double) + 1))"
ONE_RECORD = "record_id = '{}' and tenant_id = '{}'"


def _due_on(day: date) -> str:
    return f"""json_merge_patch(payload,
        '{{"DueDateString": "{xero_date_string(day)}", "DueDate": "{xero_date(day)}"}}')"""


def _full_rebuild_beside(settings, tmp_path, day):  # noqa: ANN001, ANN202
    """A copy of the warehouse rebuilt in full for `day` from the same raw data, in tmp_path / 'full'."""
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    shutil.copy(settings.db_path, full_dir / "ar_radar.duckdb")
    full = replace(settings, data_dir=full_dir, db_path=full_dir / "ar_radar.duckdb")
    assert build_warehouse(full, day, full_refresh=True).full_refresh is True
    return full


def _rows_differing(con, table: str) -> tuple[int, int]:  # noqa: ANN001
    """Rows of `table` only in this warehouse, and only in the attached full_build (EXCEPT ALL both ways)."""
    [(only_here, only_there)] = con.execute(
        f"select (select count(*) from (from {table} except all from full_build.{table})), "
        f"(select count(*) from (from full_build.{table} except all from {table}))"
    ).fetchall()
    return only_here, only_there


def _tables_differing(con, full) -> dict[str, tuple[int, int]]:  # noqa: ANN001
    """Every model table (MODELS) of this warehouse whose rows differ from `full`'s (attached as full_build), with
    _rows_differing's counts."""
    con.execute(f"attach '{full.db_path}' as full_build (read_only)")
    tables = [t for (t,) in con.execute(MODELS).fetchall()]
    assert len(tables) >= 25
    return {table: rows for table in tables if any(rows := _rows_differing(con, table))}


def _day_two(con):
    open_ = "payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'"
    paid = """json_merge_patch(payload, '{"Status": "PAID", "AmountDue": 0}')"""
    _versions(con, "xero_invoices", open_, paid, "paid")  # five invoices paid
    # a late-loaded OLDER version of a paid invoice: loaded now, extracted a month earlier; it must not win
    older = """json_merge_patch(payload, '{"AmountDue": 12345.67, "Reference": "stale"}')"""
    _versions(con, "xero_invoices", "payload->>'Status' = 'PAID'", older, "stale", 1, "-30 day")
    voided = """json_merge_patch(payload, '{"Status": "VOIDED"}')"""
    _versions(con, "xero_invoices", open_ + " and record_id > '8'", voided, "void", 1)
    # two versions of one invoice in one load with the same extracted_at (one transaction, so one loaded_at): the
    # one inserted last must win, in staging and in the raw view alike
    con.execute("begin")
    tie = "record_id = (select min(record_id) from raw.xero_invoices_current where payload->>'Type' = 'ACCREC')"
    first = """json_merge_patch(payload, '{"Reference": "tie-first"}')"""
    _versions(con, "xero_invoices", tie, first, "tie-1", 1)
    second = """json_merge_patch(payload, '{"Reference": "tie-second"}')"""
    _versions(con, "xero_invoices", tie, second, "tie-2", 1, shift="0 day")
    con.execute("commit")
    # a brand-new invoice (a new record id) and a new HubSpot note
    _versions(con, "xero_invoices", open_, "payload", "new", 1, record_id=guid_sql("record_id || '-copy'"))
    note = """json_merge_patch(payload, '{"properties": {"hs_note_body": "Customer disputes the amount"}}')"""
    _versions(con, "hubspot_notes", "true", note, "note", 2)


def _day_three(con):
    email = """json_merge_patch(payload, '{"EmailAddress": "new-billing@example.com"}')"""
    _versions(con, "xero_contacts", "true", email, "email", 3)
    amount = """json_merge_patch(payload, '{"Amount": 1.23}')"""
    _versions(con, "xero_payments", "true", amount, "pay", 4)
    deleted = """json_merge_patch(payload, '{"Status": "DELETED"}')"""
    _versions(con, "xero_payments", "record_id > '5'", deleted, "deleted", 2)
    # credit notes: two lose their allocations; another's allocation moves to another invoice (both invoices'
    # settlements change, though neither invoice has a new version)
    allocated = "json_array_length(payload->'Allocations') > 0"
    unallocated = """json_merge_patch(payload, '{"Allocations": []}')"""
    _versions(con, "xero_credit_notes", allocated, unallocated, "unallocated", 2)
    reallocated = """json_merge_patch(payload, json_object('Allocations', json_array(json_merge_patch(
        payload->'Allocations'->0, json_object('Invoice', json_object('InvoiceID',
        (select max(record_id) from raw.xero_invoices_current where payload->>'Type' = 'ACCREC')))))))"""
    last_allocated = f"record_id = (select max(record_id) from raw.xero_credit_notes_current where {allocated})"
    _versions(con, "xero_credit_notes", last_allocated, reallocated, "reallocated", 1)
    # a paid invoice's total corrected and another's due date moved: their customers' histories change from the
    # issue date and from the earlier due date
    _versions(con, "xero_invoices", "payload->>'Status' = 'PAID' and record_id < '5'", TOTAL_CORRECTED, "total", 1)
    due = """json_merge_patch(payload, json_object('DueDateString',
        strftime(cast(left(payload->>'DueDateString', 10) as date) + 20, '%Y-%m-%dT00:00:00')))"""
    _versions(con, "xero_invoices", "payload->>'Status' = 'PAID' and record_id > '5'", due, "due", 1)
    # an invoice moved to another customer: both customers' histories change
    moved = """json_merge_patch(payload, json_object('Contact', json_object('ContactID',
        (select min(record_id) from raw.xero_contacts_current))))"""
    _versions(con, "xero_invoices", "payload->>'Type' = 'ACCREC' and record_id > '7'", moved, "moved", 2)
    # HubSpot companies renamed: the customers matched by their name or domain lose their match
    renamed = """json_merge_patch(payload, json_object('properties', json_object(
        'name', 'Renamed Holdings ' || record_id, 'domain', record_id || '.renamed.example')))"""
    _versions(con, "hubspot_companies", "true", renamed, "renamed", 3)
    # notes edited: two promises withdrawn (their rows must go), two others now promising (rows must come)
    withdrawn = """json_merge_patch(payload, '{"properties": {"hs_note_body": "<p>Called, no answer.</p>"}}')"""
    promising = """json_merge_patch(payload, '{"properties": {"hs_note_body": "<p>They will pay by Friday.</p>"}}')"""
    promised = "(payload->'properties'->>'hs_note_body') ilike '%promised payment%'"
    _versions(con, "hubspot_notes", promised, withdrawn, "withdrawn", 2)
    _versions(con, "hubspot_notes", f"not ({promised})", promising, "promising", 2)
    # a new invoice dated ahead (Xero allows it): it joins the invoice spine on the day its date is reached
    ahead = f"""json_merge_patch(payload, '{{"DateString": "{xero_date_string(AS_OF + timedelta(days=5))}",
        "DueDateString": "{xero_date_string(AS_OF + timedelta(days=35))}", "Status": "AUTHORISED"}}')"""
    ahead_id = guid_sql("record_id || '-ahead'")
    _versions(con, "xero_invoices", "payload->>'Type' = 'ACCREC'", ahead, "ahead", 1, record_id=ahead_id)


def _paid_on_the_day(con, day) -> tuple[str, str]:
    """An open invoice (not of the customer whose invoice day two dates ahead) paid in full on `day` by a new
    payment: a day's ordinary change. Returns its id and its customer's."""
    tenant_id, invoice_id, contact_id = con.execute("""
        select tenant_id, record_id, payload->'Contact'->>'ContactID' from raw.xero_invoices_current
        where payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'
          and (payload->'Contact'->>'ContactID') <> (
              select payload->'Contact'->>'ContactID' from raw.xero_invoices_current
              where payload->>'Type' = 'ACCREC' order by record_id limit 1)
        order by record_id desc limit 1""").fetchone()
    xero_day = xero_date(day)
    paid = f"""json_merge_patch(payload, '{{"Status": "PAID", "AmountDue": 0, "FullyPaidOnDate": "{xero_day}"}}')"""
    _versions(con, "xero_invoices", f"record_id = '{invoice_id}'", paid, "paid-today", 1)
    payment = f"""json_merge_patch(payload, json_object('Invoice', json_object('InvoiceID', '{invoice_id}'),
        'Status', 'AUTHORISED', 'Date', '{xero_day}', 'DateString', '{xero_date_string(day)}'))"""
    last_payment = f"""record_id = (
        select max(record_id) from raw.xero_payments_current where tenant_id = '{tenant_id}')"""
    _versions(con, "xero_payments", last_payment, payment, "today", 1, record_id=guid_sql("record_id || '-today'"))
    return invoice_id, contact_id


# Every model but the four that describe the build itself (what changed, what it touched, and the matches it
# started from), and the snapshot: the full rebuild runs it over every invoice, so a change the incremental days
# missed would be a row more.
MODELS = """
    select table_schema || '.' || table_name from information_schema.tables
    where table_schema in ('staging', 'intermediate', 'marts', 'snapshots') and table_type = 'BASE TABLE'
      and table_name not in ('int_touched_customers', 'int_touched_organisations', 'int_changed_xero_records',
                             'int_customer_matches_rematched')
    order by 1
"""
LATER = AS_OF + timedelta(days=9)  # the last day runs later: invoices dated or paid since count as touched


def test_incremental_days_equal_a_full_rebuild_of_the_same_raw_data(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path / "incremental")
    with duckdb.connect(str(settings.db_path)) as con:
        # a sentinel in a staged record no new version touches: an incremental build must leave it alone
        untouched = con.execute(
            "select invoice_id, reference from staging.stg_xero__invoices where invoice_id = "
            "(select max(record_id) from raw.xero_invoices_current where payload->>'Status' = 'PAID')"
        ).fetchone()
        con.execute("update staging.stg_xero__invoices set reference = 'SENTINEL' where invoice_id = ?", [untouched[0]])
        # a sentinel in a settlement of a customer day two touches, whose payment and invoice get no new version:
        # settlements are recomputed by record, so it must be left alone too
        paid_today = (
            "select record_id::uuid as record_id, (payload->'Contact'->>'ContactID')::uuid as contact_id "
            "from raw.xero_invoices_current "
            "where payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED' order by record_id limit 5"
        )
        kept_settlement = con.execute(f"""
            select max(settlement_id) from intermediate.int_invoice_settlements
            where kind = 'payment' and contact_id in (select contact_id from ({paid_today}))
              and invoice_id not in (select record_id from ({paid_today}))""").fetchone()[0]
        assert kept_settlement is not None
        set_amount = "update intermediate.int_invoice_settlements set amount = ? where settlement_id = ?"
        [(amount,)] = con.execute(
            "select amount from intermediate.int_invoice_settlements where settlement_id = ?", [kept_settlement]
        ).fetchall()
        con.execute(set_amount, [-0.01, kept_settlement])
        _day_two(con)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        [(sentinel, touched)] = con.execute(
            """select s.amount, (s.tenant_id, s.contact_id) in (
                   select tenant_id, contact_id from intermediate.int_touched_customers)
               from intermediate.int_invoice_settlements as s where settlement_id = ?""",
            [kept_settlement],
        ).fetchall()
        assert (sentinel, touched) == (Decimal("-0.01"), True)  # its customer was recomputed, the settlement was not
        tied = "(select record_id from raw.xero_invoices where run_id = 'run-tie-2')"
        ties = con.execute(
            f"select (select list(reference) from staging.stg_xero__invoices where invoice_id = {tied}), "
            f"(select list(payload->>'Reference') from raw.xero_invoices_current where record_id = {tied}), "
            "(select count(distinct loaded_at) from raw.xero_invoices where run_id like 'run-tie-%')"
        ).fetchone()
        assert ties == (["tie-second"], ["tie-second"], 1)
        con.execute(set_amount, [amount, kept_settlement])
        _day_three(con)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        [(kept,)] = con.execute(
            "select count(*) from staging.stg_xero__invoices where reference = 'SENTINEL'"
        ).fetchall()
        assert kept == 1  # not parsed again: it had no new version
        con.execute(
            "update staging.stg_xero__invoices set reference = ? where invoice_id = ?", [untouched[1], untouched[0]]
        )
        stale = con.execute("select count(*) from staging.stg_xero__invoices where reference = 'stale'").fetchone()
        assert stale == (0,)  # the late-loaded older version did not win
        voided = con.execute("select count(*) from staging.stg_xero__invoices where status = 'VOIDED'").fetchone()
        copies = con.execute(
            "select count(*) from staging.stg_xero__invoices where invoice_id in "
            "(select record_id::uuid from raw.xero_invoices where run_id = 'run-new')"
        ).fetchone()
        assert voided[0] >= 1 and copies == (1,)
    # a later day whose new versions mostly change a field no model reads: the customers recomputed are only the one
    # whose invoice dated ahead has now been reached and the one paid on the day (below), and the settlements of
    # those payments and invoices are kept as they are (sentinels: one by its payment, one by its invoice)
    first_20 = "select record_id from raw.xero_{}_current order by record_id limit 20"
    with duckdb.connect(str(settings.db_path)) as con:
        sentinels = con.execute(f"""
            select settlement_id, amount from intermediate.int_invoice_settlements
            where settlement_id in (
                select max(settlement_id) from intermediate.int_invoice_settlements
                where kind = 'payment' and source_id::varchar in ({first_20.format("payments")})
                union all
                select max(settlement_id) from intermediate.int_invoice_settlements
                where invoice_id::varchar in ({first_20.format("invoices")})
                  and source_id::varchar not in ({first_20.format("payments")}))""").fetchall()
        assert len(sentinels) == 2
        for settlement_id, _ in sentinels:
            con.execute(set_amount, [-0.01, settlement_id])
        reference = """json_merge_patch(payload, '{"Reference": "re-sent"}')"""
        _versions(con, "xero_invoices", "true", reference, "reference", 20)
        _versions(con, "xero_payments", "true", reference, "reference", 20)
        # and fields only the aging and the settlements read: no customer model reads an invoice's AmountDue or a
        # payment's Amount (the comparison below proves it), so these touch no customer either
        due = """json_merge_patch(payload,
            json_object('AmountDue', round(try_cast(payload->>'AmountDue' as double) / 2, 2)))"""
        after = "record_id > (select max(record_id) from ({}))"  # not the sentinels' records
        due_where = "payload->>'Status' = 'AUTHORISED' and " + after.format(first_20.format("invoices"))
        _versions(con, "xero_invoices", due_where, due, "amount-due", 5)
        paid_where = "payload->>'Status' <> 'DELETED' and " + after.format(first_20.format("payments"))
        _versions(con, "xero_payments", paid_where, AMOUNT_CORRECTED, "amount", 5)
        # a payment received on the day: an open invoice paid in full by a new payment. Its customer's history is
        # recomputed from that day on only: a sentinel in the customer's first row must stay.
        paid_invoice, paid_customer = _paid_on_the_day(con, LATER)
        first_row = """update intermediate.int_customer_daily_history set invoices_issued = ?
            where contact_id = ? and activity_date = (
                select min(activity_date) from intermediate.int_customer_daily_history where contact_id = ?)"""
        [(issued,)] = con.execute(
            "select invoices_issued from intermediate.int_customer_daily_history where contact_id = ? "
            "order by activity_date limit 1",
            [paid_customer],
        ).fetchall()
        con.execute(first_row, [-1, paid_customer, paid_customer])
    assert build_warehouse(settings, LATER).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        recomputed = con.execute(
            "select recompute_from from intermediate.int_touched_customers where contact_id = ?", [paid_customer]
        ).fetchall()
        assert recomputed == [(LATER,)]
        settled = con.execute(
            "select settled_on from intermediate.int_invoice_settlements where invoice_id = ? and kind = 'payment' "
            "and source_id in (select record_id::uuid from raw.xero_payments where run_id = 'run-today')",
            [paid_invoice],
        ).fetchall()
        assert settled == [(LATER,)]
        kept = con.execute(
            "select invoices_issued from intermediate.int_customer_daily_history where contact_id = ? "
            "order by activity_date limit 1",
            [paid_customer],
        ).fetchone()
        assert kept == (-1,)  # dated before the payment: not recomputed
        con.execute(first_row, [issued, paid_customer, paid_customer])
        [(paid_today,)] = con.execute(
            "select label_paid_on from marts.invoice_features_history where invoice_id = ?", [paid_invoice]
        ).fetchall()
        assert paid_today == LATER  # its own row was, though it is dated long before
    with duckdb.connect(str(settings.db_path)) as con:
        kept = con.execute("select count(*) from intermediate.int_invoice_settlements where amount = -0.01").fetchone()
        assert kept == (2,)  # not recomputed: no field a settlement reads changed
        changed = con.execute(
            "select stream, count(*) from intermediate.int_changed_xero_records group by all order by 1"
        ).fetchall()
        # AmountDue and Amount (5 each: read by the aging or the settlements), the invoice and payment of the day
        assert changed == [("invoices", 6), ("payments", 6)]
        for settlement_id, amount in sentinels:
            con.execute(set_amount, [amount, settlement_id])
    full = _full_rebuild_beside(settings, tmp_path, LATER)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [(touched, customers)] = con.execute(
            "select (select count(*) from intermediate.int_touched_customers), "
            "(select count(distinct (tenant_id, contact_id)) from intermediate.int_sales_invoices)"
        ).fetchall()
        assert touched == 2 and customers > 50  # the invoice dated ahead's, the payment's
        differing = _tables_differing(con, full)
    assert differing == {}


def test_settlements_are_rewritten_only_when_a_field_they_read_changes(warehouse, tmp_path):
    """A settlement row reads its payment (or credit) and its invoice's customer, dates, rate and being a sales
    invoice. An invoice paid in full rewrites none of its settlements (a sentinel in one stays); a due date moved, a
    new rate, a void rewrite all of that invoice's, and a payment amended on the same day as its invoice appears
    once. Then the table equals a full rebuild's."""
    settings = copy_of(warehouse, tmp_path / "incremental")
    build_warehouse(settings, AS_OF)
    one_each = """
        select invoice_id, min(settlement_id) from intermediate.int_invoice_settlements as s
        inner join intermediate.int_sales_invoices as i using (tenant_id, invoice_id)
        where s.kind = 'payment' and i.status = ? group by all order by invoice_id limit ?"""
    set_amount = "update intermediate.int_invoice_settlements set amount = ? where settlement_id = ? and invoice_id = ?"
    with duckdb.connect(str(settings.db_path)) as con:
        [(partly_paid, kept)] = con.execute(one_each, ["AUTHORISED", 1]).fetchall()
        [(due_moved, redated), (rate_changed, _), (voided, _)] = con.execute(one_each, ["PAID", 3]).fetchall()
        [(kept_amount,)] = con.execute(
            "select amount from intermediate.int_invoice_settlements where settlement_id = ? and invoice_id = ?",
            [kept, partly_paid],
        ).fetchall()
        for settlement_id, invoice_id in ((kept, partly_paid), (redated, due_moved)):
            con.execute(set_amount, [-0.01, settlement_id, invoice_id])
        paid = """json_merge_patch(payload, '{"Status": "PAID", "AmountDue": 0}')"""
        _versions(con, "xero_invoices", f"record_id = '{partly_paid}'", paid, "paid", 1)
        new_due = AS_OF + timedelta(days=40)
        _versions(con, "xero_invoices", f"record_id = '{due_moved}'", _due_on(new_due), "due", 1)
        rate = """json_merge_patch(payload, '{"CurrencyRate": 2.0}')"""
        _versions(con, "xero_invoices", f"record_id = '{rate_changed}'", rate, "rate", 1)
        void = """json_merge_patch(payload, '{"Status": "VOIDED"}')"""
        _versions(con, "xero_invoices", f"record_id = '{voided}'", void, "void", 1)
        _versions(con, "xero_payments", f"record_id = '{redated}'", AMOUNT_CORRECTED, "amount", 1)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        rows = "select {} from intermediate.int_invoice_settlements where invoice_id = ?"
        assert con.execute(rows.format("amount"), [partly_paid]).fetchall() == [(Decimal("-0.01"),)]
        assert {due for (due,) in con.execute(rows.format("due_date"), [due_moved]).fetchall()} == {new_due}
        assert con.execute(
            rows.format("count(*) filter (where amount = -0.01), count(*) filter (where settlement_id = ?)"),
            [redated, due_moved],
        ).fetchall() == [(0, 1)]
        assert con.execute(
            rows.format("count(*) filter (where amount_base <> amount / 2)"), [rate_changed]
        ).fetchall() == [(0,)]
        assert con.execute(rows.format("count(*)"), [voided]).fetchall() == [(0,)]
        con.execute(set_amount, [kept_amount, kept, partly_paid])
    full = _full_rebuild_beside(settings, tmp_path, AS_OF)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        con.execute(f"attach '{full.db_path}' as full_build (read_only)")
        assert _rows_differing(con, "intermediate.int_invoice_settlements") == (0, 0)


def test_each_change_recomputes_its_customer_from_the_first_day_it_can_move(warehouse, tmp_path):
    """int_touched_customers' recompute_from, rule by rule, each change on a customer of its own (a paid sales
    invoice and one of its payments): the expected days are read from staging before the change, by the rules in
    int_touched_customers.sql's header, not from the model."""
    settings = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(settings.db_path)) as con:
        picks = con.execute("""
            select * from (
                select i.tenant_id, i.invoice_id, i.contact_id, i.invoice_date, i.due_date, i.fully_paid_on_date,
                    (select min(p.payment_id) from staging.stg_xero__payments as p
                     where p.tenant_id = i.tenant_id and p.invoice_id = i.invoice_id and p.status = 'AUTHORISED')
                        as payment_id
                from staging.stg_xero__invoices as i
                where i.invoice_type = 'ACCREC' and i.status = 'PAID' and i.fully_paid_on_date is not null
                  and i.contact_id is not null
                qualify row_number() over (partition by i.tenant_id, i.contact_id order by i.invoice_id) = 1
            )
            where payment_id is not null
            order by tenant_id, contact_id
            limit 5""")
        columns = [c[0] for c in picks.description]
        picks = [dict(zip(columns, row, strict=True)) for row in picks.fetchall()]
        assert len(picks) == 5
        total, due, payment, number, reference = picks
        # a corrected total: the invoice's issued row (and its paid row) move, from its issue date
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(total["invoice_id"], total["tenant_id"]),
            TOTAL_CORRECTED,
            "rule-total",
            1,
        )
        # a due date moved 20 days later: its overdue row moves from the old due date, its paid row (which reads
        # the due date) from the paid date: the earlier of the two
        later_due = due["due_date"] + timedelta(days=20)
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(due["invoice_id"], due["tenant_id"]),
            _due_on(later_due),
            "rule-due",
            1,
        )
        # a payment dated 3 days earlier: the customer's last payment before a day moves from the earlier date
        [(paid_on,)] = con.execute(
            "select payment_date from staging.stg_xero__payments where tenant_id = ? and payment_id = ?",
            [payment["tenant_id"], payment["payment_id"]],
        ).fetchall()
        earlier = paid_on - timedelta(days=3)
        _versions(
            con,
            "xero_payments",
            ONE_RECORD.format(payment["payment_id"], payment["tenant_id"]),
            f"""json_merge_patch(payload, '{{"Date": "{xero_date(earlier)}",
                      "DateString": "{xero_date_string(earlier)}"}}')""",
            "rule-payment",
            1,
        )
        # a new invoice number: no history row reads it, only the invoice's own row of invoice_features_history
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(number["invoice_id"], number["tenant_id"]),
            """json_merge_patch(payload, json_object('InvoiceNumber', payload->>'InvoiceNumber' || '-R'))""",
            "rule-number",
            1,
        )
        # a new Reference: no customer model reads it, nobody is touched
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(reference["invoice_id"], reference["tenant_id"]),
            """json_merge_patch(payload, '{"Reference": "rule-reference"}')""",
            "rule-reference",
            1,
        )
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        touched = dict(
            ((tenant_id, contact_id), recompute_from)
            for tenant_id, contact_id, recompute_from in con.execute(
                "select tenant_id, contact_id, recompute_from from intermediate.int_touched_customers"
            ).fetchall()
        )
    assert touched == {
        (total["tenant_id"], total["contact_id"]): total["invoice_date"],
        (due["tenant_id"], due["contact_id"]): min(due["due_date"], due["fully_paid_on_date"]),
        (payment["tenant_id"], payment["contact_id"]): earlier,
        (number["tenant_id"], number["contact_id"]): date.max,  # DuckDB's 'infinity' date comes back as date.max
    }


def _touched_organisations(settings) -> dict[str, date]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return dict(
            con.execute("select tenant_id, recompute_from from intermediate.int_touched_organisations").fetchall()
        )


def test_each_change_recomputes_its_organisation_from_the_first_month_it_can_move(warehouse, tmp_path):
    """int_touched_organisations' recompute_from, rule by rule over four builds, and the months before it kept as
    they were (a sentinel): the expected days are read from staging before each change, by the rules in
    int_touched_organisations.sql's header, not from the model. fct_ar_monthly_metrics recomputes the same months
    (a sentinel before them is kept too) and follows a new base currency in every month. After the four builds the
    monthly ledger and the metrics equal a full rebuild of the same raw data."""
    settings = copy_of(warehouse, tmp_path / "incremental")
    with duckdb.connect(str(settings.db_path)) as con:
        [first, second] = [
            t for (t,) in con.execute("select distinct tenant_id from staging.stg_xero__invoices order by 1").fetchall()
        ]
        # the first organisation: a paid sales invoice's total corrected; from its issue date (its settlements
        # come after it)
        total = con.execute(
            """
            select i.invoice_id, least(i.invoice_date, min(s.settled_on))
            from intermediate.int_sales_invoices as i
            left join intermediate.int_invoice_settlements as s using (tenant_id, invoice_id)
            where i.tenant_id = ? and i.status = 'PAID' and i.invoice_date >= date '2026-06-01'
            group by i.invoice_id, i.invoice_date order by 1 limit 1""",
            [first],
        ).fetchone()
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(total[0], first),
            TOTAL_CORRECTED,
            "org-total",
            1,
        )
        # the second: a payment's amount (no customer model reads it, the ledger does), paid more than 7 days after
        # its invoice's due date: from its date only
        amount = con.execute(
            """
            select p.payment_id, p.payment_date from staging.stg_xero__payments as p
            inner join staging.stg_xero__invoices as i using (tenant_id, invoice_id)
            where p.tenant_id = ? and p.status = 'AUTHORISED' and p.payment_date > i.due_date + 7
              and p.payment_date >= date '2026-06-01'
            order by 1 limit 1""",
            [second],
        ).fetchone()
        _versions(
            con,
            "xero_payments",
            ONE_RECORD.format(amount[0], second),
            AMOUNT_CORRECTED,
            "org-amount",
            1,
        )
        # and a Reference on both: no ledger event reads it
        _versions(
            con,
            "xero_invoices",
            "true",
            """json_merge_patch(payload, '{"Reference": "org-reference"}')""",
            "org-reference",
            4,
        )
        # a sentinel in the first organisation's first month, before the month recomputed
        [(first_month, credit_sales)] = con.execute(
            """select month_start, credit_sales
            from intermediate.int_organisation_monthly_ledger where tenant_id = ? order by 1 limit 1""",
            [first],
        ).fetchall()
        assert first_month < total[1].replace(day=1)
        sentinel = (
            "update intermediate.int_organisation_monthly_ledger set credit_sales = ? "
            "where tenant_id = ? and month_start = ?"
        )
        con.execute(sentinel, [-1, first, first_month])
        metrics_sentinel = (
            "update marts.fct_ar_monthly_metrics set repeat_late_payer_count = ? "
            "where tenant_id = ? and month_start = ?"
        )
        [(repeat_late_payers,)] = con.execute(
            "select repeat_late_payer_count from marts.fct_ar_monthly_metrics where tenant_id = ? and month_start = ?",
            [first, first_month],
        ).fetchall()
        con.execute(metrics_sentinel, [-1, first, first_month])
        # the second organisation now keeps its books in another currency: not a ledger event, every month shows it
        [(old_currency,)] = con.execute(
            "select base_currency from staging.stg_xero__organisations where tenant_id = ?", [second]
        ).fetchall()
        new_currency = "NZD" if old_currency != "NZD" else "AUD"
        _versions(
            con,
            "xero_organisations",
            f"tenant_id = '{second}'",
            f"""json_merge_patch(payload, '{{"BaseCurrency": "{new_currency}"}}')""",
            "org-currency",
            1,
        )
    assert build_warehouse(settings, AS_OF).full_refresh is False
    assert _touched_organisations(settings) == {first: total[1], second: amount[1]}
    with duckdb.connect(str(settings.db_path)) as con:
        kept = con.execute(
            """select month_start, credit_sales from intermediate.int_organisation_monthly_ledger
            where tenant_id = ? and credit_sales = -1""",
            [first],
        ).fetchall()
        assert kept == [(first_month, -1)]  # not recomputed
        con.execute(sentinel, [credit_sales, first, first_month])
        kept = con.execute(
            "select month_start from marts.fct_ar_monthly_metrics where tenant_id = ? and repeat_late_payer_count = -1",
            [first],
        ).fetchall()
        assert kept == [(first_month,)]  # not recomputed either
        con.execute(metrics_sentinel, [repeat_late_payers, first, first_month])
        currencies = con.execute(
            "select distinct base_currency from marts.fct_ar_monthly_metrics where tenant_id = ?", [second]
        ).fetchall()
        assert currencies == [(new_currency,)]
        # an invoice paid late, in a later month than its due date, has its due date moved 20 days later: from its
        # old due date (overdue, falling due), which is before its paid date (paid late or not)
        due = con.execute(
            """
            select invoice_id, due_date, fully_paid_on_date from staging.stg_xero__invoices
            where tenant_id = ? and invoice_type = 'ACCREC' and status = 'PAID'
              and date_trunc('month', fully_paid_on_date) > date_trunc('month', due_date)
            order by invoice_id desc limit 1""",
            [second],
        ).fetchone()
        # in the other, a payment made 1 to 7 days after its invoice's due date has its amount corrected: from that
        # due date (the amount collected within 7 days of it)
        within_7 = con.execute(
            """
            select p.payment_id, i.due_date from staging.stg_xero__payments as p
            inner join staging.stg_xero__invoices as i using (tenant_id, invoice_id)
            where p.tenant_id = ? and p.status = 'AUTHORISED' and p.payment_date > i.due_date
              and p.payment_date <= i.due_date + 7
            order by 1 limit 1""",
            [first],
        ).fetchone()
        _versions(
            con,
            "xero_payments",
            ONE_RECORD.format(within_7[0], first),
            AMOUNT_CORRECTED,
            "org-within-7",
            1,
        )
        later_due = due[1] + timedelta(days=20)
        _versions(
            con,
            "xero_invoices",
            ONE_RECORD.format(due[0], second),
            _due_on(later_due),
            "org-due",
            1,
        )
    assert build_warehouse(settings, AS_OF).full_refresh is False
    assert _touched_organisations(settings) == {second: due[1], first: within_7[1]}
    # an open invoice paid in full on the day by a new payment: from that day, or from the invoice's due date when
    # the payment came within 7 days of it (collected by the due date)
    with duckdb.connect(str(settings.db_path)) as con:
        paid_invoice, _ = _paid_on_the_day(con, AS_OF)
        tenant, due_date = con.execute(
            "select tenant_id, due_date from staging.stg_xero__invoices where invoice_id = ?", [paid_invoice]
        ).fetchone()
    assert build_warehouse(settings, AS_OF).full_refresh is False
    assert _touched_organisations(settings) == {tenant: due_date if AS_OF <= due_date + timedelta(days=7) else AS_OF}
    # nothing changed, but as_of_date moved on: every organisation from the day after the last build's
    assert build_warehouse(settings, LATER).full_refresh is False
    assert _touched_organisations(settings) == {first: AS_OF + timedelta(days=1), second: AS_OF + timedelta(days=1)}
    full = _full_rebuild_beside(settings, tmp_path, LATER)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        con.execute(f"attach '{full.db_path}' as full_build (read_only)")
        assert _rows_differing(con, "intermediate.int_organisation_monthly_ledger") == (0, 0)
        assert _rows_differing(con, "marts.fct_ar_monthly_metrics") == (0, 0)


def test_repeat_late_payers_are_counted_again_for_touched_customers_and_for_everyone_in_a_new_month(
    warehouse, tmp_path
):
    """int_repeat_late_payers' 12-month window starts at the same month all month: a build in the last build's month
    counts again only the touched customers (a sentinel in an untouched customer's row stays, a touched one's goes);
    the first build of the next month counts everyone (the sentinel goes) and equals a full rebuild."""
    settings = copy_of(warehouse, tmp_path / "incremental")
    sentinel = "update intermediate.int_repeat_late_payers set avg_days_late_last_12_months = -1 where contact_id = ?"
    with duckdb.connect(str(settings.db_path)) as con:
        payers = [
            c
            for (c,) in con.execute(
                "select contact_id from intermediate.int_repeat_late_payers order by contact_id limit 2"
            ).fetchall()
        ]
        assert len(payers) == 2
        kept, touched = payers
        for contact_id in payers:
            con.execute(sentinel, [contact_id])
        # a paid invoice of the second customer gets a new total: a field the customer models read
        paid_invoice = f"""record_id = (select max(record_id) from raw.xero_invoices_current
            where payload->>'Type' = 'ACCREC' and payload->>'Status' = 'PAID'
              and (payload->'Contact'->>'ContactID') = '{touched}')"""
        _versions(con, "xero_invoices", paid_invoice, TOTAL_CORRECTED, "total", 1)
    same_month = AS_OF + timedelta(days=3)
    assert same_month.month == AS_OF.month
    assert build_warehouse(settings, same_month).full_refresh is False
    counted = (
        "select contact_id, avg_days_late_last_12_months from intermediate.int_repeat_late_payers where contact_id = ?"
    )
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute(counted, [kept]).fetchall() == [(kept, -1)]  # not counted again
        [(_, days_late)] = con.execute(counted, [touched]).fetchall()
        assert days_late > 0  # counted again: three or more paid late
        [(listed,)] = con.execute(
            "select avg_days_late_last_12_months from marts.customer_repeat_late_payers where contact_id = ?", [kept]
        ).fetchall()
        assert listed == -1  # the mart reads the kept row
    next_month = (AS_OF.replace(day=1) + timedelta(days=40)).replace(day=2)
    assert build_warehouse(settings, next_month).full_refresh is False
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute(
            "select count(*) from intermediate.int_repeat_late_payers where avg_days_late_last_12_months < 0"
        ).fetchone() == (0,)
    full = _full_rebuild_beside(settings, tmp_path, next_month)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        con.execute(f"attach '{full.db_path}' as full_build (read_only)")
        for table in ("intermediate.int_repeat_late_payers", "marts.customer_repeat_late_payers"):
            assert _rows_differing(con, table) == (0, 0), table


def _match(con, contact_id: str) -> tuple[str, str | None]:  # noqa: ANN001
    return con.execute(
        "select match_rule, hubspot_company_id from intermediate.int_customer_matches where contact_id = ?",
        [contact_id],
    ).fetchone()


def test_matches_are_made_again_for_the_contacts_a_change_can_reach(warehouse, tmp_path):
    """int_customer_matches is incremental by contact: a change matches again the contacts whose keys the changed
    record had in the last build's version or has now, and a restaged contact; every other contact keeps its row.
    Each change below moves one contact's match (each fails when its rule is left out), a sentinel no change reaches
    is kept, and the whole warehouse then equals a full rebuild."""
    settings = copy_of(warehouse, tmp_path / "incremental")
    one = "select contact_id, {} from intermediate.int_customer_matches join staging.stg_xero__contacts as c using "
    one += "(tenant_id, contact_id) where match_rule = '{}' {} order by contact_id limit 1"
    with duckdb.connect(str(settings.db_path)) as con:
        # a company's domain moves away: the contact it matched by domain (the last build's version) loses it
        by_domain, company = con.execute(one.format("hubspot_company_id", "email_domain", "")).fetchone()
        moved = "json_merge_patch(payload, json_object('properties', json_object('domain', 'moved.example')))"
        _versions(con, "hubspot_companies", f"record_id = '{company}'", moved, "domain-moved", 1)
        # another company renamed to an unmatched contact's name: that contact gains it (the new version)
        named, name = con.execute(one.format("c.contact_name", "unmatched", "and name_key <> ''")).fetchone()
        renamed = f"json_merge_patch(payload, json_object('properties', json_object('name', '{name} Limited')))"
        other_company = f"record_id <> '{company}' and record_id not in (select company_id from " + (
            "staging.stg_hubspot__companies where name_key = (select name_key from staging.stg_xero__contacts "
            f"where contact_id = '{named}'))"
        )
        _versions(con, "hubspot_companies", other_company, renamed, "renamed", 1)
        # a HubSpot contact given (in upper case) another unmatched contact's email: that contact gains its company
        emailed, email = con.execute(
            one.format("email", "unmatched", f"and email is not null and contact_id <> '{named}'")
        ).fetchone()
        given = f"json_merge_patch(payload, json_object('properties', json_object('email', '{email.upper()}')))"
        _versions(
            con,
            "hubspot_contacts",
            "record_id = (select min(record_id) from raw.hubspot_contacts_current)",
            given,
            "email-given",
            1,
        )
        # a HubSpot contact's email changed: the contact it matched by that email (the last build's version) loses it
        by_email, old_email = con.execute(one.format("email", "contact_email", "")).fetchone()
        gone = "json_merge_patch(payload, json_object('properties', json_object('email', 'gone@nowhere.example')))"
        _versions(con, "hubspot_contacts", f"(payload->'properties'->>'email') = '{old_email}'", gone, "email-gone", 1)
        # a Xero contact's own new version: its email now a public mailbox, so it loses its domain match
        restaged, _ = con.execute(one.format("email", "email_domain", f"and contact_id <> '{by_domain}'")).fetchone()
        mailbox = "json_merge_patch(payload, json_object('EmailAddress', 'someone@gmail.com'))"
        _versions(con, "xero_contacts", f"record_id = '{restaged}'", mailbox, "mailbox", 1)
        before = {c: _match(con, c) for c in (by_domain, named, emailed, by_email, restaged)}
        # a sentinel in a contact none of these reaches (another domain, name and email): it must be left alone
        sentinel = con.execute(f"""
            select contact_id from intermediate.int_customer_matches join staging.stg_xero__contacts as c
                using (tenant_id, contact_id)
            where match_rule = 'email_domain' and hubspot_company_id <> '{company}'
              and contact_id not in ('{by_domain}', '{restaged}')
              and c.name_key <> (select name_key from staging.stg_xero__contacts where contact_id = '{named}')
            order by contact_id limit 1""").fetchone()[0]
        sentinel_set = "update intermediate.int_customer_matches set candidate_company_ids = ? where contact_id = ?"
        con.execute(sentinel_set, [["sentinel"], sentinel])
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        after = {c: _match(con, c) for c in before}
        kept = con.execute(
            "select candidate_company_ids from intermediate.int_customer_matches where contact_id = ?", [sentinel]
        ).fetchone()
        assert kept == (["sentinel"],)
        con.execute(sentinel_set, [None, sentinel])
        [(rematched,)] = con.execute("select count(*) from intermediate.int_customer_matches_rematched").fetchall()
    assert before[by_domain][0] == "email_domain" and after[by_domain][0] != "email_domain"
    assert before[named][0] == "unmatched" and after[named][0] == "normalised_name"
    assert before[emailed][0] == "unmatched" and after[emailed][0] == "contact_email"
    assert before[by_email][0] == "contact_email" and after[by_email][0] != "contact_email"
    assert before[restaged][0] == "email_domain" and after[restaged][0] != "email_domain"
    total = len(before) + 1
    assert total <= rematched < 30  # the contacts reached, not all 120
    full = _full_rebuild_beside(settings, tmp_path, AS_OF)
    with duckdb.connect(str(settings.db_path)) as con:
        assert _tables_differing(con, full) == {}


def test_matches_rebuilt_alone_in_full_touch_every_matched_customer(warehouse, tmp_path):
    """If the matches are rebuilt in full inside an incremental build (their table was dropped), whose company changed
    is not known: every customer with a HubSpot company is recomputed whole, rather than none."""
    settings = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("drop table intermediate.int_customer_matches")
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        [(matched, touched)] = con.execute("""
            select (select count(*) from intermediate.int_customer_matches where hubspot_company_id is not null),
                   (select count(*) from intermediate.int_touched_customers
                    where recompute_from = '-infinity' and (tenant_id, contact_id) in (
                        select tenant_id, contact_id from intermediate.int_customer_matches
                        where hubspot_company_id is not null))""").fetchall()
    assert matched == touched > 0


def test_records_sharing_a_record_key_stay_apart_and_equal_a_full_rebuild(warehouse, tmp_path):
    """An incremental build finds a day's records by their raw record_key (macro versions_of_records_loaded_after),
    and staging deletes the rows it restages by that key: two invoices given one key, as a collision of md5 halves
    would, stay two records; the one without a new version keeps its staged row (raw_loaded_at too; selecting by the
    strings as well loses it) and is not counted as changed; every model equals a full rebuild."""
    settings = copy_of(warehouse, tmp_path / "incremental")
    with duckdb.connect(str(settings.db_path)) as con:
        [(tenant, changed, shares)] = con.execute(
            "select tenant_id, min(record_id), max(record_id) from raw.xero_invoices_current "
            "where payload->>'Type' = 'ACCREC' group by tenant_id order by tenant_id limit 1"
        ).fetchall()
        con.execute(
            "update raw.xero_invoices set record_key = (select any_value(record_key) from raw.xero_invoices "
            "where tenant_id = $1 and record_id = $2) where tenant_id = $1 and record_id = $3",
            [tenant, changed, shares],
        )
        con.execute(  # staging carries the key its versions had (a real collision would have been so from the start)
            "update staging.stg_xero__invoices set record_key = (select any_value(record_key) from raw.xero_invoices "
            "where tenant_id = $1 and record_id = $2) where tenant_id = $1 and invoice_id = $3",
            [tenant, changed, shares],
        )
        staged = "select * from staging.stg_xero__invoices where tenant_id = ? and invoice_id = ?"
        before = con.execute(staged, [tenant, shares]).fetchall()
        _versions(con, "xero_invoices", ONE_RECORD.format(changed, tenant), TOTAL_CORRECTED, "shared-key", 1)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        assert con.execute(staged, [tenant, shares]).fetchall() == before
        [(total,)] = con.execute(
            "select total from staging.stg_xero__invoices where tenant_id = ? and invoice_id = ?", [tenant, changed]
        ).fetchall()
        [(raw_total,)] = con.execute(
            "select payload->>'Total' from raw.xero_invoices where run_id = 'run-shared-key'"
        ).fetchall()
        assert total == Decimal(raw_total)
        changed_records = con.execute(
            "select tenant_id::varchar, stream, record_id::varchar from intermediate.int_changed_xero_records"
        ).fetchall()
        assert changed_records == [(tenant, "invoices", changed)]
    full = _full_rebuild_beside(settings, tmp_path, AS_OF)
    with duckdb.connect(str(settings.db_path)) as con:
        assert _tables_differing(con, full) == {}


def test_a_changed_dbt_project_rebuilds_staging_in_full(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("update ops.warehouse_builds set project_hash = 'an older project'")
    assert build_warehouse(settings, AS_OF).full_refresh is True  # the last build was of another project
    assert build_warehouse(settings, AS_OF).full_refresh is False  # and now it is this one's


def test_a_duckdb_upgrade_changes_the_project_hash(warehouse, monkeypatch):
    """The customer keys kept from earlier builds are DuckDB hashes (dbt macro customer_key): another DuckDB may
    hash differently, so its first build must be a full one (the test above: a changed hash rebuilds in full)."""
    today = project_hash(warehouse)
    assert project_hash(warehouse) == today
    monkeypatch.setattr(duckdb, "__version__", "99.0.0")
    assert project_hash(warehouse) != today


def _last_build_nodes(con) -> set[str]:
    return {
        unique_id
        for (unique_id,) in con.execute(
            "select unique_id from ops.warehouse_build_nodes "
            "where built_at = (select max(built_at) from ops.warehouse_build_nodes)"
        ).fetchall()
    }


def test_an_incremental_build_keeps_the_seeds_and_a_changed_seed_rebuilds_in_full(warehouse, tmp_path):
    """A daily build loads no seed and skips the tests on seeds alone, but still runs the tests that read a model
    too; an edited seed file changes the project, so the next build is a full one that loads it."""
    settings = copy_of(warehouse, tmp_path)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        nodes = _last_build_nodes(con)
    assert not [n for n in nodes if n.startswith("seed.")]
    assert not [n for n in nodes if n.startswith("test.ar_radar.not_null_aging_buckets_")]
    assert len([n for n in nodes if n.startswith("test.ar_radar.relationships_fct_ar_aging_")]) == 2

    edited = replace(settings, home=tmp_path / "home")  # the same warehouse, a copy of the dbt project
    ignored = shutil.ignore_patterns("logs", "target")
    shutil.copytree(settings.dbt_project_dir, edited.dbt_project_dir, ignore=ignored)
    seed = edited.dbt_project_dir / "seeds" / "reminder_opt_outs.csv"
    header = seed.read_text(encoding="utf-8")
    seed.write_text(header + "a-tenant,a-contact,asked by phone\n", encoding="utf-8")  # not Xero's ids
    with pytest.raises(WarehouseBuildError, match=r"(?s)seed reminder_opt_outs.*in that seed file .* is not a GUID"):
        build_warehouse(edited, AS_OF)
    tenant, contact = "6f1c2b9e-0d3a-4e5f-8a7b-1c2d3e4f5a6b", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    seed.write_text(header + f"{tenant},{contact},asked by phone\n", encoding="utf-8")
    summary = build_warehouse(edited, AS_OF)
    assert summary.full_refresh is True
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert "seed.ar_radar.reminder_opt_outs" in _last_build_nodes(con)
        assert con.execute("select xero_contact_id::varchar, note from reference.reminder_opt_outs").fetchall() == [
            (contact, "asked by phone")
        ]


def test_a_snapshot_an_older_version_wrote_gets_uuid_ids_and_keeps_its_history(warehouse, tmp_path):
    """The snapshot outlives full rebuilds: one with text ids (before the warehouse kept Xero's ids as UUIDs) is
    brought to UUIDs in place, its rows kept, and the day after the upgrade builds and snapshots as usual."""
    settings = copy_of(warehouse, tmp_path)
    history = "select * exclude (dbt_updated_at) from snapshots.invoice_status_history order by all"
    with duckdb.connect(str(settings.db_path)) as con:
        before = con.execute(history).fetchall()
        for column in ("tenant_id", "invoice_id", "contact_id"):
            con.execute(f"alter table snapshots.invoice_status_history alter column {column} type varchar")
    assert build_warehouse(settings, AS_OF, full_refresh=True).full_refresh is True  # the upgrade's rebuild
    with duckdb.connect(str(settings.db_path)) as con:
        types = con.execute(
            "select column_name, data_type from duckdb_columns() where schema_name = 'snapshots' "
            "and column_name in ('tenant_id', 'invoice_id', 'contact_id') order by 1"
        ).fetchall()
        assert types == [("contact_id", "UUID"), ("invoice_id", "UUID"), ("tenant_id", "UUID")]
        assert con.execute(history).fetchall() == before
        closed = "select count(*) from snapshots.invoice_status_history where dbt_valid_to is not null"
        [(closed_before,)] = con.execute(closed).fetchall()
        part_paid = """json_merge_patch(payload, json_object('AmountDue', try_cast(payload->>'AmountDue' as double) - 1,
            'AmountPaid', try_cast(payload->>'AmountPaid' as double) + 1))"""
        _versions(con, "xero_invoices", "payload->>'Status' = 'AUTHORISED'", part_paid, "upgraded", 2)
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        assert con.execute(closed).fetchall() == [(closed_before + 2,)]  # the two invoices' old rows closed


def test_an_unfinished_or_partial_build_or_an_earlier_day_rebuilds_everything(warehouse, tmp_path):
    settings = copy_of(warehouse, tmp_path)
    summary = build_warehouse(settings, AS_OF)
    assert summary.full_refresh is False and summary.reason == ""
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            "update ops.warehouse_builds set finished = false where built_at = (select max(built_at) from "
            "ops.warehouse_builds)"
        )  # as if the process had been killed during dbt
    assert build_warehouse(settings, AS_OF).reason == "the last build did not finish"
    earlier = build_warehouse(settings, AS_OF - timedelta(days=1))
    assert earlier.full_refresh is True and "before the last build's" in earlier.reason
    build_models(settings, AS_OF, "int_customer_matches")  # a partial build: the next one cannot trust it
    assert build_warehouse(settings, AS_OF).reason == "the last build did not finish"
    assert build_warehouse(settings, AS_OF).full_refresh is False


def test_the_next_days_build_reuses_dbts_parse_of_the_project(warehouse, tmp_path):
    """as_of_date and the watermarks change every day; passed as --vars they made dbt parse the whole project on
    every build. Passed at run time (macro run_value), the next day's build parses nothing, yet uses the new day."""
    settings = copy_of(warehouse, tmp_path)
    build_warehouse(settings, AS_OF)  # a first build in this folder parses and saves the parse
    with duckdb.connect(str(settings.db_path)) as con:
        _day_two(con)
    next_day = AS_OF + timedelta(days=1)
    assert build_warehouse(settings, next_day).full_refresh is False
    log = (settings.data_dir / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8")
    last_invocation = log.rsplit("Running with dbt=", 1)[1]
    assert "Nothing changed, skipping partial parsing." in last_invocation
    assert "Unable to do partial parsing" not in last_invocation
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute("select distinct as_of_date from marts.fct_ar_aging").fetchall() == [(next_day,)]
        [(touched, customers)] = con.execute(
            "select (select count(*) from intermediate.int_touched_customers), "
            "(select count(distinct (tenant_id, contact_id)) from intermediate.int_sales_invoices)"
        ).fetchall()
    assert 0 < touched < customers  # the watermark reached the SQL: only day two's customers were recomputed
    # no dbt JSON artefacts (~0.7 s a build); each node's outcome and time is kept in the warehouse instead
    assert not (settings.data_dir / "dbt" / "target" / "run_results.json").exists()
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        nodes = dict(
            con.execute(
                "select resource_type, count(*) filter (where status in ('success', 'pass')) "
                "from ops.warehouse_build_nodes where built_at = (select max(built_at) from ops.warehouse_builds) "
                "group by all"
            ).fetchall()
        )
    # (an incremental build loads no seed and skips the tests on seeds alone)
    assert nodes["model"] >= 25 and nodes["test"] >= 90 and nodes["snapshot"] == 1 and "seed" not in nodes
    # and the run values are gone from the environment, so a later partial build in this process is not incremental
    assert not {name for name in os.environ if name in ("AR_RADAR_CHANGED_SINCE", "AR_RADAR_PREVIOUS_AS_OF")}


def _unique_test_fails(settings, model: str, run) -> bool:  # noqa: ANN001
    """Run the model's data tests as a build would, with the run values ``run``; did its unique test fail?"""
    from ar_radar.warehouse.build import _invoke

    result = _invoke(settings, f"test --select {model} --no-write-json --exclude-resource-type unit_test", run)
    [unique] = [n for n in result.result if n.node.name.startswith("unique_combination")]
    return str(unique.status) == "fail"


def test_an_incremental_builds_unique_test_counts_every_key_of_the_recomputed_rows(warehouse, tmp_path):
    """On an incremental build the customer models' unique tests count only the keys found among the touched
    customers' rows (the others' rows are the last build's), over the whole table: a key a touched customer
    repeats from an untouched one still fails it; a full build's test counts every key. The settlements' test
    counts the keys on the invoices the recomputed settlements are on (an invoice, payment or credit changed since):
    a repeat of the changed invoice's, the payment's or the credit note's row fails it."""
    from ar_radar.warehouse.build import RunValues

    settings = copy_of(warehouse, tmp_path)
    build_warehouse(settings, AS_OF)
    with duckdb.connect(str(settings.db_path)) as con:
        _day_two(con)
        # and a paid invoice's due date moved: all its settlements are recomputed (day two's other invoices are paid,
        # voided or new, which leaves no settlement of theirs recomputed)
        with_settlements = "record_id in (select invoice_id::varchar from intermediate.int_invoice_settlements)"
        _versions(con, "xero_invoices", with_settlements, _due_on(AS_OF + timedelta(days=40)), "due", 1)
        # and a payment's amount corrected: its settlement is recomputed too
        settled_by = (
            "record_id in (select source_id::varchar from intermediate.int_invoice_settlements where kind = '{}')"
        )
        paying = settled_by.format("payment")
        _versions(con, "xero_payments", paying, AMOUNT_CORRECTED, "amount", 1)
        # and a credit note allocated to an invoice re-sent: its allocations' settlements are recomputed
        crediting = settled_by.format("credit_note")
        _versions(
            con,
            "xero_credit_notes",
            crediting,
            """json_merge_patch(payload, '{"Reference": "re-sent"}')""",
            "credit",
            1,
        )
    assert build_warehouse(settings, AS_OF).full_refresh is False
    with duckdb.connect(str(settings.db_path)) as con:
        [(since,)] = con.execute("select max(raw_loaded_through) from ops.warehouse_builds").fetchall()
        touched = "(tenant_id, contact_id) in (select tenant_id, contact_id from intermediate.int_touched_customers)"
        # an untouched customer's invoice appears again under a touched customer of its organisation (its customer
        # key too: the model's rows carry the key of their customer, macro customer_key)
        con.execute("""
            insert into marts.invoice_features_history
            select h.* replace (t.contact_id as contact_id, hash(h.tenant_id, t.contact_id) as customer_key)
            from marts.invoice_features_history as h
            inner join (select tenant_id, min(contact_id) as contact_id from intermediate.int_touched_customers
                        group by all) as t using (tenant_id)
            where (h.tenant_id, h.contact_id) not in (
                select tenant_id, contact_id from intermediate.int_touched_customers)
            limit 1""")
    incremental, full = RunValues(AS_OF, since, AS_OF), RunValues(AS_OF)
    assert _unique_test_fails(settings, "invoice_features_history", incremental)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            "delete from marts.invoice_features_history where invoice_id in (select invoice_id from "
            "marts.invoice_features_history group by all having count(*) > 1) and " + touched
        )
        # a key repeated between two untouched customers' rows: not today's rows, so only a full build counts it
        con.execute(f"""
            insert into intermediate.int_customer_daily_history
            select * from intermediate.int_customer_daily_history where not {touched} limit 1""")
    assert not _unique_test_fails(settings, "invoice_features_history", incremental)
    assert not _unique_test_fails(settings, "int_customer_daily_history", incremental)
    assert _unique_test_fails(settings, "int_customer_daily_history", full)
    # a touched customer's row repeated: the incremental test, which finds those rows by customer_key, counts it
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(f"""
            insert into intermediate.int_customer_daily_history
            select * from intermediate.int_customer_daily_history where {touched} limit 1""")
    assert _unique_test_fails(settings, "int_customer_daily_history", incremental)
    # int_invoice_settlements, recomputed by record, counts the keys among the settlements whose payment or invoice
    # changed a field they read since the last build (the invoice whose due date moved, in int_changed_xero_records):
    # a repeated key elsewhere only a full build counts
    with duckdb.connect(str(settings.db_path)) as con:
        [(before_day_two,)] = con.execute(
            "select raw_loaded_through from ops.warehouse_builds order by built_at desc limit 1 offset 1"
        ).fetchall()
        changed = (
            "select record_id from intermediate.int_changed_xero_records where stream = '{}' "
            "and settlement_fields_changed"
        )
        restaged = f"invoice_id in ({changed.format('invoices')}) and source_id not in ({changed.format('payments')})"
        copy_one = (
            "insert into intermediate.int_invoice_settlements "
            f"(from intermediate.int_invoice_settlements where {{}} {restaged} limit 1)"
        )
        assert con.execute(copy_one.format("not")).fetchone() == (1,)
    incremental = RunValues(AS_OF, before_day_two, AS_OF)
    assert not _unique_test_fails(settings, "int_invoice_settlements", incremental)
    assert _unique_test_fails(settings, "int_invoice_settlements", full)
    with duckdb.connect(str(settings.db_path)) as con:
        assert con.execute(copy_one.format("")).fetchone() == (1,)
    assert _unique_test_fails(settings, "int_invoice_settlements", incremental)
    # the repeated rows made single again; then a repeated row of the changed payment's is counted too
    with duckdb.connect(str(settings.db_path)) as con:
        key = "(tenant_id, settlement_id, invoice_id)"
        repeated = f"{key} in (select {key} from intermediate.int_invoice_settlements group by all having count(*) > 1)"
        con.execute(
            f"create temp table single as select distinct * from intermediate.int_invoice_settlements where {repeated}"
        )
        con.execute(f"delete from intermediate.int_invoice_settlements where {repeated}")
        con.execute("insert into intermediate.int_invoice_settlements from single")
    assert not _unique_test_fails(settings, "int_invoice_settlements", incremental)
    with duckdb.connect(str(settings.db_path)) as con:
        copy_payment = (
            "insert into intermediate.int_invoice_settlements (from intermediate.int_invoice_settlements "
            f"where kind = 'payment' and source_id in ({changed.format('payments')}) limit 1)"
        )
        assert con.execute(copy_payment).fetchone() == (1,)
    assert _unique_test_fails(settings, "int_invoice_settlements", incremental)
    # and a repeated row of the re-sent credit note's allocation, on an invoice neither changed nor paid by a payment
    # staged that day (the macro's other two sources): only the credit allocations find it
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            f"create temp table single as select distinct * from intermediate.int_invoice_settlements where {repeated}"
        )
        con.execute(f"delete from intermediate.int_invoice_settlements where {repeated}")
        con.execute("insert into intermediate.int_invoice_settlements from single")
        copy_credit = f"""
            insert into intermediate.int_invoice_settlements (from intermediate.int_invoice_settlements
            where kind = 'credit_note' and source_id in (
                select record_id::uuid from raw.xero_credit_notes where record_hash like '%-credit')
              and invoice_id not in (select invoice_id from staging.stg_xero__payments
                where raw_loaded_at > '{before_day_two}'::timestamptz)
              and invoice_id not in ({changed.format("invoices")})
            limit 1)"""
        assert con.execute(copy_credit).fetchone() == (1,)
    assert _unique_test_fails(settings, "int_invoice_settlements", incremental)
