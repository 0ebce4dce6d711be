{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_days('activity_date') }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}
-- One row per customer per day on which something countable happened in Xero (an invoice issued, fell overdue
-- or paid; a credit note), with running totals from the customer's first record to the end of that day. The
-- HubSpot activity (tickets, notes, deals: ~8 % of the days) has its own table, int_customer_daily_crm_history,
-- so these ~3M rows carry 13 running sums instead of 25 (a window computes each sum on its own: at a million
-- invoices ~0.45 s per sum in a full build). Incremental: a build recomputes only the customers in
-- int_touched_customers, from their recompute_from day on (those rows go first, macro delete_recomputed_days;
-- the totals go on from the last row kept, macro daily_running_totals). The point-in-time features
-- of a customer on day D are the last row of each table dated before D (macro customer_history_features, over
-- customer_history_as_of's ASOF joins for training and int_customer_history_before_today for today's scores).
-- Single payments are not rows here (the last one is found in int_invoice_settlements): they are most of the
-- days, and only their date is a feature.
with invoices as (
    select tenant_id, contact_id, invoice_id, invoice_date, due_date, total_base, fully_paid_on_date,
        days_paid_late,
        -- An invoice paid before its own date (a payment dated earlier) counts as paid when it is issued: never paid
        -- before issued, so no day has more invoices paid than issued.
        greatest(fully_paid_on_date, invoice_date) as counted_paid_on
    from {{ ref('int_sales_invoices') }}
    -- An invoice without a customer has no customer history to join (the gate counts them).
    where contact_id is not null {{ only_touched_customers(keyed=true) }}
),

payments as (
    select tenant_id, contact_id, invoice_id, settled_on
    from {{ ref('int_invoice_settlements') }}
    where kind = 'payment' and contact_id is not null {{ only_touched_customers(keyed=true) }}
),

payment_counts as (
    select tenant_id, invoice_id, count(*) as payment_count
    from payments
    group by all
),

paid_invoices as (
    select
        i.*,
        greatest(i.days_paid_late, 0) as days_late,
        coalesce(pc.payment_count, 0) > 1 as paid_in_instalments,
        -- Mean lateness of this and the two invoices paid before it: the recent trend.
        avg(greatest(i.days_paid_late, 0)) over (
            partition by i.tenant_id, i.contact_id order by i.fully_paid_on_date, i.invoice_id
            rows between 2 preceding and current row
        ) as recent_avg_days_late,
        row_number() over (
            partition by i.tenant_id, i.contact_id, i.counted_paid_on order by i.invoice_id desc
        ) as nth_from_last_of_day
    from invoices as i
    left join payment_counts as pc using (tenant_id, invoice_id)
    where i.fully_paid_on_date is not null
),

issued_daily as (
    select tenant_id, contact_id, invoice_date as activity_date,
        count(*) as invoices_issued, sum(total_base) as amount_issued_base
    from invoices
    group by all
),

overdue_daily as (
    -- An invoice unpaid at the end of its due date (plus var grace_days) fell overdue that day.
    select tenant_id, contact_id, {{ grace_end('due_date') }} as activity_date, count(*) as invoices_fell_overdue
    from invoices
    where {{ falls_overdue('fully_paid_on_date', 'due_date') }}
    group by all
),

paid_daily as (
    select
        tenant_id,
        contact_id,
        counted_paid_on as activity_date,
        count(*) as invoices_paid,
        -- Late = paid more than var grace_days after the due date (the model's label uses the same var).
        count(*) filter (where days_late > {{ var('grace_days') }}) as invoices_paid_late,
        sum(days_late) as days_late_sum,
        sum(fully_paid_on_date - invoice_date) as days_to_pay_sum,
        sum(total_base) as amount_paid_invoices_base,
        sum(total_base * days_late) as amount_days_late_sum,
        count(*) filter (where paid_in_instalments) as invoices_paid_in_instalments,
        max(recent_avg_days_late) filter (where nth_from_last_of_day = 1) as recent_avg_days_late
    from paid_invoices
    group by all
),

credit_notes_daily as (
    select tenant_id, contact_id, credit_note_date as activity_date,
        count(*) as credit_notes_issued, sum(round(total / nullif(currency_rate, 0), 2)) as credit_note_amount_base
    from {{ ref('stg_xero__credit_notes') }}
    where credit_note_type = 'ACCRECCREDIT' and status not in ('VOIDED', 'DELETED', 'DRAFT', 'SUBMITTED')
      and contact_id is not null {{ only_touched_customers() }}
    group by all
)

-- Every family's daily counts stacked and summed per day (macro daily_running_totals: a single aggregation instead
-- of a union of keys and joins). The families read all of a touched customer's records (the recent trend looks back
-- over the invoices paid before); the macro keeps the days from the customer's recompute_from on.
{{ daily_running_totals(['issued_daily', 'overdue_daily', 'paid_daily', 'credit_notes_daily'], [
    ('invoices_issued', 'count'), ('amount_issued_base', 2), ('invoices_fell_overdue', 'count'),
    ('invoices_paid', 'count'), ('invoices_paid_late', 'count'), ('days_late_sum', 'count'),
    ('days_to_pay_sum', 'count'), ('amount_paid_invoices_base', 2), ('amount_days_late_sum', 2),
    ('invoices_paid_in_instalments', 'count'), ('recent_avg_days_late', 'last'), ('credit_notes_issued', 'count'),
    ('credit_note_amount_base', 2)]) }}
