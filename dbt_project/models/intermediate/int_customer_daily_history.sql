{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_touched_customers() }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}
-- One row per customer per day on which something countable happened, with running totals from the
-- customer's first record to the end of that day. Incremental: a build recomputes only the customers in
-- int_touched_customers (their old rows go first, macro delete_touched_customers). The point-in-time features of a customer on day D
-- are the last row dated before D (macro customer_history_as_of): training rows and today's scores
-- read this one table through that one macro. Single payments are not rows here (the macro finds the
-- last one in int_invoice_settlements): they are most of the days, and only their date is a feature.
with invoices as (
    select tenant_id, contact_id, invoice_id, invoice_date, due_date, total_base, fully_paid_on_date,
        days_paid_late
    from {{ ref('int_sales_invoices') }}
    -- An invoice without a customer has no customer history to join (the gate counts them).
    where contact_id is not null {{ only_touched_customers() }}
),

payments as (
    select tenant_id, contact_id, invoice_id, settled_on
    from {{ ref('int_invoice_settlements') }}
    where kind = 'payment' and contact_id is not null {{ only_touched_customers() }}
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
            partition by i.tenant_id, i.contact_id, i.fully_paid_on_date order by i.invoice_id desc
        ) as nth_from_last_of_day
    from invoices as i
    left join payment_counts as pc using (tenant_id, invoice_id)
    where i.fully_paid_on_date is not null
),

matched as (
    select tenant_id, contact_id, hubspot_company_id as company_id
    from {{ ref('int_customer_matches') }}
    where hubspot_company_id is not null {{ only_touched_customers() }}
),

issued_daily as (
    select tenant_id, contact_id, invoice_date as activity_date,
        count(*) as invoices_issued, sum(total_base) as amount_issued_base
    from invoices
    group by all
),

overdue_daily as (
    -- An invoice unpaid at the end of its due date became overdue that day.
    select tenant_id, contact_id, due_date as activity_date, count(*) as invoices_fell_overdue
    from invoices
    where fully_paid_on_date is null or fully_paid_on_date > due_date
    group by all
),

paid_daily as (
    select
        tenant_id,
        contact_id,
        fully_paid_on_date as activity_date,
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
),

crm_texts as (
    -- Notes and tickets with their tone (int_crm_texts, the one definition of a negative text).
    select m.tenant_id, m.contact_id, x.*
    from {{ ref('int_crm_texts') }} as x
    inner join matched as m on m.company_id = x.company_id
),

tickets_opened_daily as (
    select tenant_id, contact_id, cast(logged_at as date) as activity_date,
        count(*) as tickets_opened, count(*) filter (where mentions_dispute) as dispute_tickets_opened
    from crm_texts
    where text_kind = 'ticket'
    group by all
),

tickets_closed_daily as (
    select tenant_id, contact_id, cast(closed_at as date) as activity_date,
        count(*) as tickets_closed, count(*) filter (where mentions_dispute) as dispute_tickets_closed
    from crm_texts
    where text_kind = 'ticket' and closed_at is not null
    group by all
),

texts_daily as (
    select tenant_id, contact_id, cast(logged_at as date) as activity_date,
        count(*) as crm_texts_logged,
        sum(tone) as crm_tone_sum,
        count(*) filter (where is_negative) as negative_texts_logged,
        count(*) filter (where mentions_dispute) as dispute_texts_logged,
        count(*) filter (where text_kind = 'note') as notes_logged,
        count(*) filter (where text_kind = 'note' and is_negative) as negative_notes_logged
    from crm_texts
    where logged_at is not null
    group by all
),

deals as (
    select m.tenant_id, m.contact_id, d.*
    from {{ ref('stg_hubspot__deals') }} as d
    inner join matched as m on m.company_id = d.company_id
),

deals_created_daily as (
    select tenant_id, contact_id, cast(created_at as date) as activity_date, count(*) as deals_created
    from deals
    group by all
),

deals_won_daily as (
    select tenant_id, contact_id, cast(close_date as date) as activity_date, count(*) as deals_won
    from deals
    where deal_stage = 'closedwon' and close_date is not null
    group by all
),

events as (
    -- One stack of every family's daily counts (columns a family lacks are null), summed per day below:
    -- a single aggregation instead of a union of keys and ten joins.
    select * from issued_daily
    union all by name select * from overdue_daily
    union all by name select * from paid_daily
    union all by name select * from credit_notes_daily
    union all by name select * from tickets_opened_daily
    union all by name select * from tickets_closed_daily
    union all by name select * from texts_daily
    union all by name select * from deals_created_daily
    union all by name select * from deals_won_daily
),

daily as (
    -- Doubles, not the HUGEINT/DECIMAL(38) DuckDB sums give: the running totals below are 40% faster.
    select
        tenant_id,
        contact_id,
        activity_date,
        coalesce(sum(cast(invoices_issued as double)), 0) as invoices_issued,
        coalesce(sum(cast(amount_issued_base as double)), 0) as amount_issued_base,
        coalesce(sum(cast(invoices_fell_overdue as double)), 0) as invoices_fell_overdue,
        coalesce(sum(cast(invoices_paid as double)), 0) as invoices_paid,
        coalesce(sum(cast(invoices_paid_late as double)), 0) as invoices_paid_late,
        coalesce(sum(cast(days_late_sum as double)), 0) as days_late_sum,
        coalesce(sum(cast(days_to_pay_sum as double)), 0) as days_to_pay_sum,
        coalesce(sum(cast(amount_paid_invoices_base as double)), 0) as amount_paid_invoices_base,
        coalesce(sum(cast(amount_days_late_sum as double)), 0) as amount_days_late_sum,
        coalesce(sum(cast(invoices_paid_in_instalments as double)), 0) as invoices_paid_in_instalments,
        coalesce(sum(cast(credit_notes_issued as double)), 0) as credit_notes_issued,
        coalesce(sum(cast(credit_note_amount_base as double)), 0) as credit_note_amount_base,
        coalesce(sum(cast(tickets_opened as double)), 0) as tickets_opened,
        coalesce(sum(cast(dispute_tickets_opened as double)), 0) as dispute_tickets_opened,
        coalesce(sum(cast(tickets_closed as double)), 0) as tickets_closed,
        coalesce(sum(cast(dispute_tickets_closed as double)), 0) as dispute_tickets_closed,
        coalesce(sum(cast(crm_texts_logged as double)), 0) as crm_texts_logged,
        coalesce(sum(crm_tone_sum), 0) as crm_tone_sum,
        coalesce(sum(cast(negative_texts_logged as double)), 0) as negative_texts_logged,
        coalesce(sum(cast(dispute_texts_logged as double)), 0) as dispute_texts_logged,
        coalesce(sum(cast(notes_logged as double)), 0) as notes_logged,
        coalesce(sum(cast(negative_notes_logged as double)), 0) as negative_notes_logged,
        coalesce(sum(cast(deals_created as double)), 0) as deals_created,
        coalesce(sum(cast(deals_won as double)), 0) as deals_won,
        max(recent_avg_days_late) as recent_avg_days_late
    from events
    group by all
)

-- Double running sums are rounded to what they add up (cents; VADER tones have 4 decimals): DuckDB adds a
-- window's doubles in an order that depends on the other customers in the table, so unrounded totals could
-- differ in the last bit between a full and an incremental build.
select
    tenant_id,
    contact_id,
    activity_date,
    cast(sum(invoices_issued) over w as bigint) as invoices_issued,
    round(sum(amount_issued_base) over w, 2) as amount_issued_base,
    cast(sum(invoices_fell_overdue) over w as bigint) as invoices_fell_overdue,
    cast(sum(invoices_paid) over w as bigint) as invoices_paid,
    cast(sum(invoices_paid_late) over w as bigint) as invoices_paid_late,
    cast(sum(days_late_sum) over w as bigint) as days_late_sum,
    cast(sum(days_to_pay_sum) over w as bigint) as days_to_pay_sum,
    round(sum(amount_paid_invoices_base) over w, 2) as amount_paid_invoices_base,
    round(sum(amount_days_late_sum) over w, 2) as amount_days_late_sum,
    cast(sum(invoices_paid_in_instalments) over w as bigint) as invoices_paid_in_instalments,
    last_value(recent_avg_days_late ignore nulls) over w as recent_avg_days_late,
    cast(sum(credit_notes_issued) over w as bigint) as credit_notes_issued,
    round(sum(credit_note_amount_base) over w, 2) as credit_note_amount_base,
    cast(sum(tickets_opened) over w as bigint) as tickets_opened,
    cast(sum(dispute_tickets_opened) over w as bigint) as dispute_tickets_opened,
    cast(sum(tickets_closed) over w as bigint) as tickets_closed,
    cast(sum(dispute_tickets_closed) over w as bigint) as dispute_tickets_closed,
    cast(sum(crm_texts_logged) over w as bigint) as crm_texts_logged,
    round(sum(crm_tone_sum) over w, 4) as crm_tone_sum,
    cast(sum(negative_texts_logged) over w as bigint) as negative_texts_logged,
    cast(sum(dispute_texts_logged) over w as bigint) as dispute_texts_logged,
    cast(sum(notes_logged) over w as bigint) as notes_logged,
    cast(sum(negative_notes_logged) over w as bigint) as negative_notes_logged,
    cast(sum(deals_created) over w as bigint) as deals_created,
    cast(sum(deals_won) over w as bigint) as deals_won
from daily
window w as (partition by tenant_id, contact_id order by activity_date rows between unbounded preceding and current row)
