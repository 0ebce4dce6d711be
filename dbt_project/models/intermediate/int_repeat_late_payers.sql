{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_late_payers() }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}
-- Customers who paid at least var repeat_late_min_count (default 3) invoices late in the 12 calendar months up to and
-- including as_of_date's month (the window fct_ar_monthly_metrics counts them in), with their current run of
-- consecutive late payments. customer_repeat_late_payers adds what they owe today.
-- Incremental (macros in repeat_late_payers.sql): within the month of the last build's as_of_date only the customers
-- in int_touched_customers are counted again, whose paid invoices are a few hundred of the millions a full count
-- aggregates (at 3M invoices 1.2-1.5 s of every daily build); the first build of a month counts everyone.
with paid as (
    select tenant_id, contact_id, invoice_id, fully_paid_on_date, days_paid_late, days_paid_late > 0 as was_late
    from {{ ref('int_sales_invoices') }}
    where fully_paid_on_date <= {{ as_of_date() }}
      and contact_id is not null
      {% if repeat_late_payers_kept() %}and {{ touched_customer_row() }}{% endif %}
),

window_stats as (
    select
        tenant_id,
        contact_id,
        count(*) as paid_last_12_months,
        count(*) filter (where was_late) as paid_late_last_12_months,
        round(avg(greatest(days_paid_late, 0)), 1) as avg_days_late_last_12_months,
        max(fully_paid_on_date) filter (where was_late) as last_late_payment_on
    from paid
    where fully_paid_on_date >= date_trunc('month', {{ as_of_date() }}) - interval 11 month
    group by all
    having count(*) filter (where was_late) >= {{ var('repeat_late_min_count', 3) }}
),

repeat_payers_paid as (
    -- The streak only for the customers listed: two aggregations instead of a window over every paid invoice.
    select p.*
    from paid as p
    inner join window_stats using (tenant_id, contact_id)
),

streaks as (
    -- The payments after the latest one made on time (by paid date, then invoice id), or all of them if none was.
    select p.tenant_id, p.contact_id, count(*) as consecutive_late_payments
    from repeat_payers_paid as p
    left join (
        select tenant_id, contact_id, max((fully_paid_on_date, invoice_id)) as last_on_time
        from repeat_payers_paid
        where days_paid_late <= 0
        group by all
    ) as o using (tenant_id, contact_id)
    where o.last_on_time is null or (p.fully_paid_on_date, p.invoice_id) > o.last_on_time
    group by all
)

select
    w.tenant_id,
    w.contact_id,
    w.paid_last_12_months,
    w.paid_late_last_12_months,
    w.avg_days_late_last_12_months,
    coalesce(s.consecutive_late_payments, 0) as consecutive_late_payments,
    w.last_late_payment_on
from window_stats as w
left join streaks as s using (tenant_id, contact_id)
