{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'contact_id'],
    on_schema_change='fail',
    pre_hook="{{ delete_touched_customers() }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}
-- One row per customer with sales invoices issued by as_of_date: its last rows before as_of_date, as struct columns
-- (the whole row): h of int_customer_daily_history and c of int_customer_daily_crm_history dated before as_of_date,
-- w of the CRM history dated before as_of_date less var recent_activity_days (the recent window's start), and
-- p.settled_on, its last payment's date before as_of_date. customer_risk_features derives today's features from
-- them (macro customer_history_features, shared with invoice_features_history).
-- Incremental: the touched customers' rows are taken away (pre-hook) and looked up again in the whole history;
-- every other customer's history is as it was, so its row changes only when a row of it is dated between the last
-- build's as_of_date (run value previous_as_of) and today, or a payment: the last such row replaces the last build's
-- (unique_key). On the morning after, the rows of one day and the touched customers' instead of every customer's
-- look-up in the whole history.
{% set today, recent = as_of_date(), var('recent_activity_days') %}
{% set incremental = is_incremental() %}
{% set touched = 'and ' ~ touched_customer_row(keyed=true) if incremental else '' %}
{#- Without previous_as_of (a partial build) every customer is touched: no one else to move on. -#}
{% set since = previous_as_of_date() if incremental and run_value('previous_as_of') is not none else none %}
with customers as (
    select distinct tenant_id, contact_id, customer_key
    from {{ ref('int_sales_invoices') }}
    where invoice_date <= {{ today }}
      and contact_id is not null  -- no customer, no customer features (the gate counts such invoices)
      {{ touched }}
),

looked_up as (
    -- every customer in a full build, the touched ones (in the whole history) in an incremental one
    select s.tenant_id, s.contact_id, s.customer_key, h.h, c.c, w.w, p.p
    from customers as s
    left join ({{ last_history_rows('int_customer_daily_history', 'h', today, touched) }}) as h
        using (tenant_id, contact_id)
    left join ({{ last_history_rows('int_customer_daily_crm_history', 'c', today, touched) }}) as c
        using (tenant_id, contact_id)
    left join ({{ last_history_rows('int_customer_daily_crm_history', 'w', today ~ ' - ' ~ recent, touched) }}) as w
        using (tenant_id, contact_id)
    left join ({{ last_payments('settled_on < ' ~ today ~ ' ' ~ touched) }}) as p using (tenant_id, contact_id)
)
{% if since is not none %}
,

{% set dated_since, recent_since = 'and activity_date >= ' ~ since, 'and activity_date >= ' ~ since ~ ' - ' ~ recent %}
h as ({{ last_history_rows('int_customer_daily_history', 'h', today, dated_since) }}),

c as ({{ last_history_rows('int_customer_daily_crm_history', 'c', today, dated_since) }}),

w as ({{ last_history_rows('int_customer_daily_crm_history', 'w', today ~ ' - ' ~ recent, recent_since) }}),

p as ({{ last_payments('settled_on < ' ~ today ~ ' and settled_on >= ' ~ since) }}),

moved_on as (
    -- the others with a row dated since the last build's as_of_date: that row, or the last build's (the touched
    -- ones' rows went in the pre-hook)
    select k.tenant_id, k.contact_id, k.customer_key,
        coalesce(h.h, k.h) as h, coalesce(c.c, k.c) as c, coalesce(w.w, k.w) as w, coalesce(p.p, k.p) as p
    from {{ this }} as k
    left join h using (tenant_id, contact_id)
    left join c using (tenant_id, contact_id)
    left join w using (tenant_id, contact_id)
    left join p using (tenant_id, contact_id)
    -- a semi join first: the last build's rows are wide, and few of them move on
    where (k.tenant_id, k.contact_id) in (
        select tenant_id, contact_id from h
        union select tenant_id, contact_id from c
        union select tenant_id, contact_id from w
        union select tenant_id, contact_id from p)
)
{% endif %}

select * from looked_up
{% if since is not none %}
union all
select * from moved_on
{% endif %}
