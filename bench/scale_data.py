"""Synthetic raw tables at any scale, written straight into DuckDB in the extractors' wire format.

The demo sandbox serves realistic data through HTTP but a million invoices would take hours to page
through at Xero's rate limits; the warehouse benchmark needs the raw tables only, so this writes
them with DuckDB SQL in seconds. Records have Xero's and HubSpot's JSON shapes (the same fields the
staging models read); values are drawn from hashes, so a given size always gives the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from ar_radar.local.sandbox.wire import guid_sql
from ar_radar.raw.store import ensure_raw_schema, record_key_sql

# Part of the cache files' names: a change to what generate() writes must not reuse a file written before it.
# v2: organisations, UpdatedDateUTC on every stream, every HubSpot property AR Radar asks for, and HubSpot
# companies for 9 in 10 customers of every organisation: a normal day's gate passes on this data.
# v3: every version's record_key (ar_radar.raw.store).
# v4: Xero's ids are GUIDs (36 characters), as Xero's are: short ids ('contact-123') made every string hash, sort,
# join and write cheaper than on real data (BENCHMARKS.md, issue 17's twenty-fifth pass).
DATA_VERSION = "v4"


@dataclass(frozen=True)
class Scale:
    organisations: int = 200
    customers: int = 50_000
    invoices: int = 1_000_000
    max_instalments: int = 5
    as_of: date = date(2026, 11, 20)
    history_days: int = 720

    @classmethod
    def small(cls) -> Scale:
        return cls(organisations=2, customers=200, invoices=4_000)

    @classmethod
    def of_invoices(cls, invoices: int) -> Scale:
        """The growth benchmarks' scale: 200 organisations, 20 invoices a customer."""
        return cls(invoices=invoices, customers=invoices // 20)

    @classmethod
    def of_history(cls, invoices: int, customers: int) -> Scale:
        """The same business (``customers``, each invoiced 10 times a year) with a longer history: ``invoices`` over
        as many years as that takes. Its open invoices, customers and HubSpot records are the same at any size."""
        return cls(invoices=invoices, customers=customers, history_days=round(invoices / customers / 10 * 360))


def _ms(expr: str) -> str:
    """Xero's /Date(ms+0000)/ for a DATE expression, with its DateString twin."""
    return f"'/Date(' || (epoch_ms(cast({expr} as timestamp))) || '+0000)/'"


def _date_string(expr: str) -> str:
    return f"strftime(cast({expr} as date), '%Y-%m-%dT00:00:00')"


def generate(db_path: Path, scale: Scale) -> dict[str, int]:
    """Create ``db_path`` with every raw table filled at ``scale``; returns rows per table."""
    as_of = f"date '{scale.as_of.isoformat()}'"
    # record_key from the record_id each insert names in its select list (no source table here has its own)
    meta = f"""'b' as run_id, now() as extracted_at, now() as loaded_at, {record_key_sql()} as record_key"""
    with duckdb.connect(str(db_path)) as con:
        ensure_raw_schema(con)
        con.execute(f"""
            create temp table customers as
            select
                c as n,
                {guid_sql(f"'org-' || lpad(cast(c % {scale.organisations} as varchar), 4, '0')")} as tenant_id,
                {guid_sql("'contact-' || c")} as contact_id,
                'Customer ' || c || ' Ltd' as name,
                'customer' || c || '.example' as domain,
                -- behaviour: mean days late from -5 (early) to +40, spread from 2 to 20 days
                (hash(c, 'late') % 46)::int - 5 as late_mean,
                2 + (hash(c, 'spread') % 19)::int as late_spread,
                case when hash(c, 'eur') % 10 = 0 then 'EUR' else 'GBP' end as currency
            from range({scale.customers}) as t (c)
        """)
        con.execute(f"""
            create temp table invoices as
            select
                i as n,
                c.tenant_id, c.contact_id, c.name, c.currency,
                {guid_sql("'inv-' || i")} as invoice_id,
                {as_of} - 1 - (hash(i, 'day') % {scale.history_days})::int as invoice_date,
                [14, 30, 30, 45][1 + (hash(i, 'terms') % 4)::int] as terms,
                cast(100 + (hash(i, 'amount') % 500000) / 100 as decimal(18, 2)) as total,
                cast(case when c.currency = 'EUR' then 1.15 else 1.0 end as decimal(18, 6)) as rate,
                c.late_mean + ((hash(i, 'noise') % (2 * c.late_spread + 1))::int - c.late_spread) as late,
                -- mean 3.125 instalments, ~3.0 once those after as_of are dropped
                1 + (hash(i, 'parts') % {scale.max_instalments})::int + (hash(i, 'extra') % 8 = 0)::int as parts,
                hash(i, 'credit') % 50 = 0 as credited
            from range({scale.invoices}) as t (i)
            join customers as c on c.n = i % {scale.customers}
        """)
        con.execute("""
            create temp table settle as
            select
                *,
                invoice_date + terms as due_date,
                invoice_date + terms + late as final_day,
                cast(case when credited then round(total * 0.1, 2) else 0 end as decimal(18, 2)) as credit
            from invoices
        """)
        # Instalment k of `parts` lands evenly between the issue date and the final payment day.
        con.execute(f"""
            create temp table payments as
            select
                s.tenant_id, s.contact_id, s.invoice_id, s.rate, s.currency,
                {guid_sql("s.invoice_id || '-p' || k")} as payment_id,
                greatest(s.invoice_date + 1,
                    s.invoice_date + cast((s.final_day - s.invoice_date) * k / s.parts as int)) as payment_date,
                -- the last instalment takes the rounding remainder
                cast(case when k = s.parts
                    then (s.total - s.credit) - round((s.total - s.credit) / s.parts, 2) * (s.parts - 1)
                    else round((s.total - s.credit) / s.parts, 2) end as decimal(18, 2)) as amount
            from settle as s, range(1, s.parts + 1) as r (k)
        """)
        con.execute(f"delete from payments where payment_date > {as_of}")
        con.execute(f"""
            create temp table invoice_state as
            select
                s.*,
                coalesce(p.paid, 0) as paid,
                case when s.credited and s.invoice_date + 10 <= {as_of} then s.credit else 0 end as credited_amount,
                p.last_payment
            from settle as s
            left join (select invoice_id, sum(amount) as paid, max(payment_date) as last_payment
                       from payments group by 1) as p using (invoice_id)
        """)
        con.execute(f"""
            insert into raw.xero_invoices by name
            select 'xero' as source, 'invoices' as entity, tenant_id, invoice_id as record_id,
                cast(invoice_date as varchar) as updated_at, md5(invoice_id) as record_hash, {meta},
                json_object(
                    'InvoiceID', invoice_id, 'InvoiceNumber', 'INV-' || n, 'Type', 'ACCREC',
                    'Contact', json_object('ContactID', contact_id, 'Name', name),
                    'Status', case when total - paid - credited_amount <= 0 then 'PAID' else 'AUTHORISED' end,
                    'Date', {_ms("invoice_date")}, 'DateString', {_date_string("invoice_date")},
                    'DueDate', {_ms("due_date")}, 'DueDateString', {_date_string("due_date")},
                    'FullyPaidOnDate', case when total - paid - credited_amount <= 0
                        then {_ms("greatest(last_payment, invoice_date + 10)")} end,
                    'CurrencyCode', currency, 'CurrencyRate', rate,
                    'SubTotal', round(total / 1.2, 2), 'TotalTax', total - round(total / 1.2, 2), 'Total', total,
                    'AmountDue', greatest(total - paid - credited_amount, 0), 'AmountPaid', paid,
                    'AmountCredited', credited_amount,
                    'UpdatedDateUTC', {_ms("coalesce(last_payment, invoice_date)")}
                ) as payload
            from invoice_state
        """)
        con.execute(f"""
            insert into raw.xero_payments by name
            select 'xero' as source, 'payments' as entity, tenant_id, payment_id as record_id,
                cast(payment_date as varchar) as updated_at, md5(payment_id) as record_hash, {meta},
                json_object(
                    'PaymentID', payment_id, 'Date', {_ms("payment_date")}, 'Amount', amount, 'CurrencyRate', rate,
                    'PaymentType', 'ACCRECPAYMENT', 'Status', 'AUTHORISED',
                    'Invoice', json_object('InvoiceID', invoice_id, 'Contact', json_object('ContactID', contact_id),
                                           'CurrencyCode', currency),
                    'UpdatedDateUTC', {_ms("payment_date")}
                ) as payload
            from payments
        """)
        con.execute(f"""
            insert into raw.xero_credit_notes by name
            select 'xero' as source, 'credit_notes' as entity, tenant_id,
                {guid_sql("'cn-' || invoice_id")} as record_id,
                cast(invoice_date + 10 as varchar) as updated_at, md5('cn' || invoice_id) as record_hash, {meta},
                json_object(
                    'CreditNoteID', {guid_sql("'cn-' || invoice_id")}, 'Type', 'ACCRECCREDIT', 'Status', 'PAID',
                    'Contact', json_object('ContactID', contact_id, 'Name', name),
                    'Date', {_ms("invoice_date + 10")}, 'DateString', {_date_string("invoice_date + 10")},
                    'Total', credit, 'RemainingCredit', 0, 'CurrencyCode', currency, 'CurrencyRate', rate,
                    'Allocations', json_array(json_object(
                        'AllocationID', {guid_sql("'alloc-' || invoice_id")}, 'Amount', credit,
                        'Date', {_ms("invoice_date + 10")}, 'DateString', {_date_string("invoice_date + 10")},
                        'Invoice', json_object('InvoiceID', invoice_id))),
                    'UpdatedDateUTC', {_ms("invoice_date + 10")}
                ) as payload
            from invoice_state
            where credited_amount > 0
        """)
        for entity, key, prefix in (("overpayments", "OverpaymentID", "op"), ("prepayments", "PrepaymentID", "pp")):
            con.execute(f"""
                insert into raw.xero_{entity} by name
                select 'xero' as source, '{entity}' as entity, tenant_id, {guid_sql(f"'{prefix}-' || n")} as record_id,
                    null as updated_at, md5('{prefix}' || n) as record_hash, {meta},
                    json_object('{key}', {guid_sql(f"'{prefix}-' || n")}, 'Status', 'AUTHORISED',
                        'Contact', json_object('ContactID', contact_id), 'Date', {_ms(f"{as_of} - 30")},
                        'Total', 120.00, 'RemainingCredit', 120.00, 'CurrencyCode', currency,
                        'CurrencyRate', case when currency = 'EUR' then 1.15 else 1.0 end,
                        'Allocations', json_array(), 'UpdatedDateUTC', {_ms(f"{as_of} - 30")}) as payload
                from customers where n % 50 = 0
            """)
        con.execute(f"""
            insert into raw.xero_contacts by name
            select 'xero' as source, 'contacts' as entity, tenant_id, contact_id as record_id, null as updated_at,
                md5(contact_id) as record_hash, {meta},
                json_object('ContactID', contact_id, 'Name', name, 'EmailAddress', 'accounts@' || domain,
                    'ContactStatus', 'ACTIVE', 'IsCustomer', true, 'DefaultCurrency', currency,
                    'UpdatedDateUTC', {_ms(f"{as_of} - {scale.history_days}")}) as payload
            from customers
        """)
        # Every organisation in GBP (the EUR customers' invoices carry a rate to it).
        con.execute(f"""
            insert into raw.xero_organisations by name
            select 'xero' as source, 'organisations' as entity, tenant_id, tenant_id as record_id, null as updated_at,
                md5(tenant_id) as record_hash, {meta},
                json_object('OrganisationID', tenant_id, 'Name', 'Organisation ' || tenant_id, 'BaseCurrency', 'GBP',
                    'CountryCode', 'GB', 'OrganisationStatus', 'ACTIVE') as payload
            from (select distinct tenant_id from customers)
        """)
        _hubspot(con, scale, meta)
        return {
            table: con.execute(f"select count(*) from raw.{table}").fetchone()[0]
            for table in (
                "xero_invoices",
                "xero_payments",
                "xero_credit_notes",
                "xero_contacts",
                "hubspot_companies",
                "hubspot_tickets",
                "hubspot_notes",
                "hubspot_deals",
            )
        }


def _hubspot(con: duckdb.DuckDBPyConnection, scale: Scale, meta: str) -> None:
    """One HubSpot portal: a company for 9 in 10 customers of every organisation, with tickets, notes and deals."""
    as_of = f"timestamp '{scale.as_of.isoformat()}'"

    def has_company(customer: str) -> str:
        # Customer n belongs to organisation n % organisations, so n // organisations picks 9 in 10 within each
        # organisation (n % 10 would leave whole organisations unmatched when 10 divides their number). With 4 in 5,
        # chance left a few organisations under the gate's 75 % matched share of open AR.
        return f"({customer}) // {scale.organisations} % 10 <> 0"

    def insert(entity: str, select: str) -> None:
        con.execute(f"""
            insert into raw.hubspot_{entity} by name
            select 'hubspot' as source, '{entity}' as entity, 'portal-1' as tenant_id, id as record_id,
                null as updated_at, md5(id) as record_hash, {meta}, payload
            from ({select})
        """)

    def assoc(company: str) -> str:
        return f"json_object('companies', json_object('results', json_array(json_object('id', {company}))))"

    insert(
        "companies",
        f"""
        select 'co-' || n as id, json_object('id', 'co-' || n, 'properties',
            json_object('name', upper(name), 'domain', domain, 'lifecyclestage', 'customer'),
            'createdAt', '2024-01-01T00:00:00Z',
            'archived', false) as payload
        from customers where {has_company("n")}""",
    )
    insert(
        "tickets",
        f"""
        select 'tk-' || t as id, json_object('id', 'tk-' || t, 'properties', json_object(
                'subject', case when t % 3 = 0 then 'Disputed invoice' else 'Question' end,
                'content', 'ticket', 'hs_pipeline_stage', case when t % 4 = 0 then '1' else '4' end,
                'hs_ticket_category', 'BILLING_ISSUE', 'hs_ticket_priority', 'MEDIUM',
                'closed_date', case when t % 4 = 0 then null
                    else strftime({as_of} - interval (t % 300) day, '%Y-%m-%dT%H:%M:%SZ') end),
            'createdAt', strftime({as_of} - interval (t % 300 + 5) day, '%Y-%m-%dT%H:%M:%SZ'),
            'associations', {assoc("'co-' || (t * 7 % " + str(scale.customers) + ")")}) as payload
        from range({scale.customers // 2}) as r (t)
        where {has_company(f"t * 7 % {scale.customers}")}""",
    )
    insert(
        "notes",
        f"""
        select 'nt-' || t as id, json_object('id', 'nt-' || t, 'properties', json_object(
                'hs_note_body', case when t % 4 = 0 then '<p>Cash is tight, they will pay late</p>'
                                     else '<p>Good call</p>' end,
                'hs_timestamp', strftime({as_of} - interval (t % 700) day, '%Y-%m-%dT%H:%M:%SZ')),
            'createdAt', strftime({as_of} - interval (t % 700) day, '%Y-%m-%dT%H:%M:%SZ'),
            'associations', {assoc("'co-' || (t % " + str(scale.customers) + ")")}) as payload
        from range({scale.customers * 3}) as r (t)
        where {has_company(f"t % {scale.customers}")}""",
    )
    insert(
        "deals",
        f"""
        select 'dl-' || t as id, json_object('id', 'dl-' || t, 'properties', json_object(
                'dealname', 'Deal ' || t, 'amount', '5000', 'dealstage',
                case when t % 2 = 0 then 'closedwon' else 'appointmentscheduled' end,
                'closedate', strftime({as_of} - interval (t % 500) day, '%Y-%m-%dT%H:%M:%SZ')),
            'createdAt', strftime({as_of} - interval (t % 500 + 30) day, '%Y-%m-%dT%H:%M:%SZ'),
            'associations', {assoc("'co-' || (t % " + str(scale.customers) + ")")}) as payload
        from range({scale.customers}) as r (t)
        where {has_company(f"t % {scale.customers}")}""",
    )


def cached_raw(small: bool = False, scale: Scale | None = None) -> Path:
    """The synthetic raw tables of this scale, generated once into bench/.cache (the benchmarks copy the file)."""
    scale = scale or (Scale.small() if small else Scale())
    history = "" if scale.history_days == Scale.history_days else f"-{scale.history_days}d"
    raw = (
        Path(__file__).resolve().parent
        / ".cache"
        / f"raw-{DATA_VERSION}-{scale.organisations}-{scale.customers}-{scale.invoices}{history}.duckdb"
    )
    if not raw.exists():
        raw.parent.mkdir(exist_ok=True)
        generate(raw, scale)
    return raw


def run_child(script: str, folder: Path, step: str) -> dict:
    """Run ``script --child folder step`` in a fresh process (its own peak RSS) and return the JSON it prints last."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, script, "--child", str(folder), step], capture_output=True, text=True)
    if out.returncode:  # the child's own error, not only its exit status
        raise RuntimeError(f"{Path(script).name} step {step} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {step}: {result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB", flush=True)
    return result
