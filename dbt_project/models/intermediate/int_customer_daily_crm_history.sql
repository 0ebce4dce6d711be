{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_days('activity_date') }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}
-- One row per customer per day with HubSpot activity (a ticket opened or closed, a note or ticket logged with its
-- tone, a deal created or won), counted for the Xero customer matched to the HubSpot company
-- (int_customer_matches), with running totals from the customer's first such day to the end of that day. The
-- Xero side is int_customer_daily_history: CRM activity falls on ~8 % of the days, so a table of its own keeps
-- these 12 running sums off the other days' rows. Incremental like it (the customers in int_touched_customers from
-- their recompute_from on: the whole customer when its match or CRM records changed; a Xero change moves none of
-- these rows, but recomputing them from the same day keeps one rule); read as int_customer_daily_history is.
with matched as (
    select tenant_id, contact_id, hubspot_company_id as company_id
    from {{ ref('int_customer_matches') }}
    where hubspot_company_id is not null {{ only_touched_customers() }}
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
)

-- As in int_customer_daily_history: every family's daily counts stacked and summed per day.
{{ daily_running_totals(['tickets_opened_daily', 'tickets_closed_daily', 'texts_daily', 'deals_created_daily',
    'deals_won_daily'], [
    ('tickets_opened', 'count'), ('dispute_tickets_opened', 'count'), ('tickets_closed', 'count'),
    ('dispute_tickets_closed', 'count'), ('crm_texts_logged', 'count'), ('crm_tone_sum', 4),
    ('negative_texts_logged', 'count'), ('dispute_texts_logged', 'count'), ('notes_logged', 'count'),
    ('negative_notes_logged', 'count'), ('deals_created', 'count'), ('deals_won', 'count')]) }}
