{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_months() }}"
) }}
-- depends_on: {{ ref('int_touched_organisations') }}
-- Per organisation and calendar month, from the first invoice month to the month of as_of_date: what the month's
-- dated events added to the receivables (invoices issued, settlements: payments and credit allocations) and to the
-- overdue balance, the credit sales, cash collected, amount falling due and how much of it was collected within
-- 7 days of its due date, and the customers who paid late 3 times or more in the 12 months up to the month (in the
-- month of as_of_date: int_repeat_late_payers' customers).
-- fct_ar_monthly_metrics turns these into balances and ratios (a few thousand rows). Base currency at each
-- invoice's own rate, each event to 10 decimals (decimal(38, 10), wide enough for any base amount): sums of
-- decimals are exact, so a month recomputed alone equals a full build's to the last digit whatever order its events
-- are added in (sums of doubles differed in the 11th digit; no slower at 3M invoices). The balances round to the
-- cent once, in fct_ar_monthly_metrics.
-- Incremental: a build recomputes only the organisations in int_touched_organisations, from the month of their
-- recompute_from on (macros delete_recomputed_months, from_recomputed_month); the earlier months are kept. Reading
-- only those months' events is what makes it cheap: at 3M invoices the whole ledger reads ~24M events.
-- The two inputs below are read three times each by the ledger's branches. A full build streams every invoice and
-- settlement through each read (not materialized: holding ~3M invoices and ~9M settlements would cost memory); an
-- incremental build keeps the recomputed months' rows once (materialized: at 3M invoices / 30 years the select
-- 0.60 -> 0.34 s, six filtered scans of the whole tables become two; a day reaching back over the whole history holds
-- nearly every row, +0.15 s at 1M invoices / 2 years: BENCHMARKS.md, twenty-third pass).
{% set inputs = 'materialized' if is_incremental() else 'not materialized' %}
with recomputed as (
    {{ recomputed_organisations() }}
),

invoices as {{ inputs }} (
    select i.tenant_id, i.invoice_date, i.due_date,
        cast(i.total / nullif(i.currency_rate, 0) as decimal(38, 10)) as total_base
        {{- recomputed_month_column('r') }}
    from {{ ref('int_sales_invoices') }} as i
    {{ recomputed_organisations_only('i', 'r') }}
    where i.invoice_date <= {{ as_of_date() }}
        {{ from_first_recomputed_month('greatest(i.invoice_date, i.due_date + 1)') }}
),

settlements as {{ inputs }} (
    -- Of the invoices above: each settlement carries its invoice's dates (no join back to the invoices).
    select s.tenant_id, s.kind, s.settled_on, cast(s.amount_base as decimal(38, 10)) as amount_base, s.due_date
        {{- recomputed_month_column('r') }}
    from {{ ref('int_invoice_settlements') }} as s
    {{ recomputed_organisations_only('s', 'r') }}
    where s.settled_on <= {{ as_of_date() }} and s.invoice_date <= {{ as_of_date() }}
        {{ from_first_recomputed_month('greatest(s.settled_on, s.due_date + 1)') }}
),

-- Each event changes the AR balance and, once the invoice is past due, the overdue balance. An
-- invoice's unpaid remainder becomes overdue the day after its due date; a settlement reduces the
-- overdue balance from the later of its own date and that day.
ledger as (
    select tenant_id, invoice_date as event_date, total_base as ar_change, 0 as overdue_change,
        total_base as credit_sales, 0 as cash_collected, 0 as amount_falling_due, 0 as collected_within_7_days_of_due
    from invoices
    where true {{ from_recomputed_month('invoice_date') }}
    union all
    select tenant_id, settled_on, -amount_base, 0, 0, case when kind = 'payment' then amount_base else 0 end, 0, 0
    from settlements
    where true {{ from_recomputed_month('settled_on') }}
    union all
    select tenant_id, due_date + 1, 0, total_base, 0, 0, 0, 0
    from invoices
    where due_date + 1 <= {{ as_of_date() }} {{ from_recomputed_month('due_date + 1') }}
    union all
    select tenant_id, greatest(settled_on, due_date + 1), 0, -amount_base, 0, 0, 0, 0
    from settlements
    where due_date + 1 <= {{ as_of_date() }} {{ from_recomputed_month('greatest(settled_on, due_date + 1)') }}
    union all
    -- Amount falling due each month (dated by its due date) and how much of it was paid by its due date + 7 days.
    select tenant_id, due_date, 0, 0, 0, 0, total_base, 0
    from invoices
    where due_date <= {{ as_of_date() }} {{ from_recomputed_month('due_date') }}
    union all
    select tenant_id, due_date, 0, 0, 0, 0, 0, amount_base
    from settlements
    where kind = 'payment' and settled_on <= due_date + 7 and due_date <= {{ as_of_date() }}
        {{ from_recomputed_month('due_date') }}
),

monthly_changes as (
    select
        tenant_id,
        cast(date_trunc('month', event_date) as date) as month_start,
        sum(ar_change) as ar_change,
        sum(overdue_change) as overdue_change,
        sum(credit_sales) as credit_sales,
        sum(cash_collected) as cash_collected,
        sum(amount_falling_due) as amount_falling_due,
        sum(collected_within_7_days_of_due) as collected_within_7_days_of_due
    from ledger
    group by all
),

first_months as (
    -- Every month from the organisation's first invoice month (of all its invoices, not only those recomputed).
    select f.tenant_id, f.first_month {{- recomputed_month_column('r') }}
    from (
        select tenant_id, cast(min(date_trunc('month', invoice_date)) as date) as first_month
        from {{ ref('int_sales_invoices') }}
        where invoice_date <= {{ as_of_date() }}
        group by all
    ) as f
    {{ recomputed_organisations_only('f', 'r') }}
),

months as (
    -- The months recomputed: every month from the organisation's first invoice month (an incremental build: from
    -- its first month recomputed) to the month of as_of_date.
    select t.tenant_id, cast(m.month_start as date) as month_start
    from first_months as t,
        lateral generate_series(
            {{ 'greatest(t.first_month, t.from_month)' if is_incremental() else 't.first_month' }},
            date_trunc('month', {{ as_of_date() }}), interval 1 month
        ) as m (month_start)
),

late_by_month as (
    -- Late payments before the month of as_of_date, for the months before it; that month's repeat late payers are
    -- int_repeat_late_payers' (the same rule), which an incremental build keeps by customer: at 3M invoices a
    -- morning recomputing every organisation's current month read 12 months of paid invoices for it (0.4 s).
    select
        i.tenant_id,
        i.contact_id,
        cast(date_trunc('month', i.fully_paid_on_date) as date) as month_start,
        count(*) as late_payments
        {{- recomputed_month_column('r') }}
    from {{ ref('int_sales_invoices') }} as i
    {{ recomputed_organisations_only('i', 'r') }}
    where i.days_paid_late > 0 and i.fully_paid_on_date < date_trunc('month', {{ as_of_date() }})
        and i.contact_id is not null
        {% if is_incremental() %}and r.from_month < date_trunc('month', {{ as_of_date() }}){% endif %}
        {{ from_recomputed_month('i.fully_paid_on_date', 'r.from_month - interval 11 month') }}
        {{ from_first_recomputed_month('i.fully_paid_on_date', months_before=11) }}
    group by all
),

late_windows as (
    -- Each customer-month of late payments counts in the 12 calendar months from that month on (up to the month
    -- before as_of_date's; in an incremental build only the months recomputed). No dense customer x month grid and
    -- window: on a day recomputing one month at 3M invoices 1.1 s instead of 1.7 s for the whole select.
    select l.tenant_id, l.contact_id, cast(w.month_start as date) as month_start, l.late_payments
    from late_by_month as l,
        lateral generate_series(
            {{ 'greatest(l.month_start, l.from_month)' if is_incremental() else 'l.month_start' }},
            least(l.month_start + interval 11 month, date_trunc('month', {{ as_of_date() }}) - interval 1 month),
            interval 1 month
        ) as w (month_start)
),

repeat_late as (
    select tenant_id, month_start, count(*) as repeat_late_payer_count
    from (
        select tenant_id, contact_id, month_start
        from late_windows
        group by all
        having sum(late_payments) >= {{ var('repeat_late_min_count', 3) }}
    )
    group by all
    union all
    select tenant_id, cast(date_trunc('month', {{ as_of_date() }}) as date), count(*)
    from {{ ref('int_repeat_late_payers') }}
    group by all
)

select
    m.tenant_id,
    m.month_start,
    cast(coalesce(c.credit_sales, 0) as decimal(38, 10)) as credit_sales,
    cast(coalesce(c.cash_collected, 0) as decimal(38, 10)) as cash_collected,
    cast(coalesce(c.ar_change, 0) as decimal(38, 10)) as ar_change,
    cast(coalesce(c.overdue_change, 0) as decimal(38, 10)) as overdue_change,
    cast(coalesce(c.amount_falling_due, 0) as decimal(38, 10)) as amount_falling_due,
    cast(coalesce(c.collected_within_7_days_of_due, 0) as decimal(38, 10)) as collected_within_7_days_of_due,
    coalesce(r.repeat_late_payer_count, 0) as repeat_late_payer_count
from months as m
left join monthly_changes as c using (tenant_id, month_start)
left join repeat_late as r using (tenant_id, month_start)
