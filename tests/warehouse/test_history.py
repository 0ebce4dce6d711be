"""Point-in-time features and monthly metrics, checked against brute force and the generator's records."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import AS_OF

# Each point-in-time feature, recomputed the slow obvious way for one customer and one features date
# (everything dated strictly before it).
BRUTE_FORCE = {
    "paid_invoice_count": """select count(*) from intermediate.int_sales_invoices i
        where i.tenant_id = $t and i.contact_id = $c and i.fully_paid_on_date < $d""",
    "paid_late_count": """select count(*) from intermediate.int_sales_invoices i
        where i.tenant_id = $t and i.contact_id = $c and i.fully_paid_on_date < $d and i.days_paid_late > 0""",
    "days_since_last_payment": """select cast($d - max(s.settled_on) as integer)
        from intermediate.int_invoice_settlements s
        where s.tenant_id = $t and s.contact_id = $c and s.kind = 'payment' and s.settled_on < $d""",
    "unpaid_invoice_count": """select count(*) from intermediate.int_sales_invoices i
        where i.tenant_id = $t and i.contact_id = $c and i.invoice_date < $d
          and (i.fully_paid_on_date is null or i.fully_paid_on_date >= $d)""",
    "overdue_invoice_count": """select count(*) from intermediate.int_sales_invoices i
        where i.tenant_id = $t and i.contact_id = $c and i.due_date < $d
          and (i.fully_paid_on_date is null or i.fully_paid_on_date >= $d)""",
    "credit_note_count": """select count(*) from staging.stg_xero__credit_notes n
        where n.tenant_id = $t and n.contact_id = $c and n.credit_note_date < $d
          and n.status in ('AUTHORISED', 'PAID')""",
    "open_dispute_count": """select count(*) from staging.stg_hubspot__tickets k
        join intermediate.int_customer_matches m on m.hubspot_company_id = k.company_id
        where m.tenant_id = $t and m.contact_id = $c and k.mentions_dispute and cast(k.created_at as date) < $d
          and (k.closed_at is null or cast(k.closed_at as date) >= $d)""",
}


def _brute_force(con, tenant_id, contact_id, as_of):
    out = {}
    for name, sql in BRUTE_FORCE.items():
        out[name] = con.execute(sql, {"t": tenant_id, "c": contact_id, "d": as_of}).fetchone()[0]
    return out


def test_invoice_features_only_know_what_happened_before_the_issue_date(warehouse):
    names = ", ".join(BRUTE_FORCE)
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        rows = con.execute(
            f"""select tenant_id, contact_id, invoice_date, {names} from marts.invoice_features_history
                using sample 300 rows (reservoir, 7)"""
        ).fetchall()
        assert len(rows) == 300
        mismatches = []
        for tenant_id, contact_id, issued, *got in rows:
            expected = _brute_force(con, tenant_id, contact_id, issued)
            if dict(zip(BRUTE_FORCE, got, strict=True)) != expected:
                mismatches.append((contact_id, issued, got, expected))
        # and across every row: no payment counted on or after the issue date
        leaks = con.execute("""
            select count(*) from marts.invoice_features_history
            where days_since_last_payment < 1 or paid_invoice_count > prior_invoice_count""").fetchone()[0]
    assert mismatches == []
    assert leaks == 0


def test_todays_customer_features_use_the_same_definition(warehouse):
    """customer_risk_features is the same point-in-time logic evaluated at as_of_date."""
    names = ", ".join(BRUTE_FORCE)
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        rows = con.execute(
            f"select tenant_id, contact_id, as_of_date, {names} from marts.customer_risk_features"
        ).fetchall()
        assert rows and {r[2] for r in rows} == {AS_OF}
        for tenant_id, contact_id, as_of, *got in rows:
            assert dict(zip(BRUTE_FORCE, got, strict=True)) == _brute_force(con, tenant_id, contact_id, as_of)


def test_features_separate_reliable_from_chronic_payers_at_issue_time(warehouse, sandbox):
    profile = {c.contact_id: c.profile for company in sandbox.companies for c in company.customers}
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        rows = con.execute("""
            select contact_id::varchar, avg(share_paid_late), avg(label_days_paid_late)
            from marts.invoice_features_history where paid_invoice_count >= 5 group by 1""").fetchall()
    by_profile = defaultdict(list)
    for contact_id, share, late in rows:
        by_profile[profile[contact_id]].append((share, late))
    assert max(s for s, _ in by_profile["reliable"]) < min(s for s, _ in by_profile["chronic"])


def _ar_at(company, day: date) -> tuple[Decimal, Decimal]:
    """Receivables and the overdue part at the end of ``day``, base currency, straight from the generator."""
    settled: dict[str, Decimal] = defaultdict(Decimal)
    for payment in company.payments:
        if payment["Date"] <= day:
            settled[payment["Invoice"]["InvoiceID"]] += payment["Amount"]
    for note in company.credit_notes:
        for allocation in note["Allocations"]:
            if allocation["Date"] <= day:
                settled[allocation["Invoice"]["InvoiceID"]] += allocation["Amount"]
    ar = overdue = Decimal("0")
    for invoice in company.invoices:
        if invoice["Type"] != "ACCREC" or invoice["Status"] not in ("AUTHORISED", "PAID") or invoice["Date"] > day:
            continue
        owed = (invoice["Total"] - settled[invoice["InvoiceID"]]) / invoice["CurrencyRate"]
        ar += owed
        if invoice["DueDate"] < day:
            overdue += owed
    return ar, overdue


@pytest.mark.parametrize("month_end", [date(2025, 12, 31), date(2026, 6, 30), date(2026, 10, 31)])
def test_past_month_end_balances_match_the_generators_books(warehouse, sandbox, month_end):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        got = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                """select tenant_id::varchar, ar_end_base, overdue_end_base
                   from marts.fct_ar_monthly_metrics where period_end = ?""",
                [month_end],
            ).fetchall()
        }
    for company in sandbox.companies:
        ar, overdue = _ar_at(company, month_end)
        assert abs(got[company.tenant_id][0] - ar) < Decimal("0.01")
        assert abs(got[company.tenant_id][1] - overdue) < Decimal("0.01")


def test_monthly_metrics_are_consistent(warehouse):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        rows = con.execute("""
            select month_start, is_complete_month, dso_standard_days, dso_countback_days, best_possible_dso_days,
                   average_days_delinquent, cei_percent, ar_overdue_percent, collected_within_7_days_of_due_percent,
                   ar_begin_base, ar_end_base, lag(ar_end_base) over (partition by tenant_id order by month_start)
            from marts.fct_ar_monthly_metrics where month_start >= date '2025-06-01'""").fetchall()
        listed = con.execute("select count(*) from marts.customer_repeat_late_payers").fetchone()[0]
        # Repeat late payers in the month of AS_OF (the ledger reads int_repeat_late_payers for it) and in the month
        # before (the ledger's own monthly windows), against a count from the invoices.
        counted, brute = con.execute(
            """with months as (select unnest([date_trunc('month', $d::date),
                                              date_trunc('month', $d::date) - interval 1 month]) as m)
               select list(f.n order by months.m), list(b.n order by months.m)
               from months
               join (select month_start as m, sum(repeat_late_payer_count) as n
                     from marts.fct_ar_monthly_metrics group by all) as f using (m)
               join lateral (
                   select count(*) as n from (
                       select tenant_id, contact_id from intermediate.int_sales_invoices
                       where days_paid_late > 0 and contact_id is not null and fully_paid_on_date <= $d::date
                         and fully_paid_on_date >= months.m - interval 11 month
                         and fully_paid_on_date < months.m + interval 1 month
                       group by all having count(*) >= 3)) as b on true""",
            {"d": AS_OF},
        ).fetchone()
    assert rows
    for month, complete, dso, countback, best, add, cei, overdue_pct, within_7, begin, _end, previous_end in rows:
        assert complete == (month < date(2026, 11, 1))
        assert abs(dso - best - add) <= 0.11
        assert 0 < cei <= 100 and 0 <= overdue_pct <= 100 and 0 <= within_7 <= 100
        assert 10 < dso < 120 and 10 < countback < 120
        assert previous_end is None or begin == previous_end
    assert counted == brute and min(brute) > 0
    assert listed == brute[-1]
