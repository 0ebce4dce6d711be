-- depends_on: {{ ref('int_touched_customers') }}
-- One row per customer with sales invoices: payment history and CRM signals as known at the start of
-- as_of_date (macro customer_history_as_of, shared with invoice_features_history so training and
-- scoring read the same features), plus today's open exposure from fct_ar_aging.
-- An incremental build (run value changed_since) computes the history only for the customers whose history can read
-- differently than at the last build's as_of_date (run value previous_as_of), CTE recomputed; every other customer's
-- is this table's row, moved on to as_of_date. The open exposure, names and matches are joined afresh for everyone.
-- A table, not an incremental model: every row changes every day (as_of_date, days_since_last_payment).
{% set kept = run_value('changed_since') is not none
    and adapter.get_relation(this.database, this.schema, this.identifier) is not none %}
with
{% if kept %}
recomputed as (
    -- A customer's features are the last rows dated before as_of_date (and before as_of_date less the recent days,
    -- the CRM window's start) and its last payment before it: they read differently than at the last build's
    -- as_of_date when its rows changed (touched: from its new or re-dated invoices too) or when a row falls between
    -- the two dates.
    select tenant_id, contact_id, customer_key from {{ ref('int_touched_customers') }}
    union
    select tenant_id, contact_id, customer_key from {{ ref('int_customer_daily_history') }}
    where activity_date >= {{ previous_as_of_date() }} and activity_date < {{ as_of_date() }}
    union
    select tenant_id, contact_id, customer_key from {{ ref('int_customer_daily_crm_history') }}
    where (activity_date >= {{ previous_as_of_date() }} and activity_date < {{ as_of_date() }})
       or (activity_date >= {{ previous_as_of_date() }} - {{ var('recent_activity_days') }}
           and activity_date < {{ as_of_date() }} - {{ var('recent_activity_days') }})
    union
    select tenant_id, contact_id, customer_key from {{ ref('int_invoice_settlements') }}
    where kind = 'payment' and settled_on >= {{ previous_as_of_date() }} and settled_on < {{ as_of_date() }}
),
{% endif %}

customers as (
    select distinct tenant_id, contact_id, {{ as_of_date() }} as as_of_date
    from {{ ref('int_sales_invoices') }}
    where invoice_date <= {{ as_of_date() }}
      and contact_id is not null  -- no customer, no customer features (the gate counts such invoices)
      {% if kept %}and {{ customer_in('recomputed', keyed=true) }}{% endif %}
),

history as (
    {{ customer_history_as_of('customers', 'as_of_date', on_date=as_of_date(),
                              customers='recomputed' if kept else none) }}
    {% if kept %}
    union all by name
    -- The others' history as the last build computed it, moved on to as_of_date. Every column this model adds below
    -- is left out (one forgotten here fails the build: a duplicate column).
    select
        * exclude (as_of_date, days_since_last_payment, contact_name, hubspot_company_id, match_rule,
            open_invoice_count, open_amount_base, overdue_amount_base, max_days_overdue, partially_paid_open_count,
            unapplied_credit_base, net_exposure_base, base_currency),
        {{ as_of_date() }} as as_of_date,
        cast(days_since_last_payment + ({{ as_of_date() }} - as_of_date) as integer) as days_since_last_payment
    from {{ this }}
    where not {{ customer_in('recomputed') }}
    {% endif %}
),

open_ar as (
    select
        tenant_id,
        contact_id,
        count(*) as open_invoice_count,
        sum(amount_due_base) as open_amount_base,
        sum(amount_due_base) filter (where days_overdue > 0) as overdue_amount_base,
        max(days_overdue) as max_days_overdue,
        count(*) filter (where amount_paid > 0) as partially_paid_open_count
    from {{ ref('fct_ar_aging') }}
    group by all
)

select
    h.* exclude (prior_average_invoice_base),
    c.contact_name,
    m.hubspot_company_id,
    m.match_rule,
    coalesce(o.open_invoice_count, 0) as open_invoice_count,
    coalesce(o.open_amount_base, 0) as open_amount_base,
    coalesce(o.overdue_amount_base, 0) as overdue_amount_base,
    o.max_days_overdue,
    coalesce(o.partially_paid_open_count, 0) as partially_paid_open_count,
    coalesce(u.unapplied_credit_base, 0) as unapplied_credit_base,
    cast(coalesce(o.open_amount_base, 0) - coalesce(u.unapplied_credit_base, 0) as decimal(38, 2))
        as net_exposure_base,
    org.base_currency
from history as h
left join {{ ref('stg_xero__organisations') }} as org using (tenant_id)
left join {{ ref('stg_xero__contacts') }} as c using (tenant_id, contact_id)
left join {{ ref('int_customer_matches') }} as m using (tenant_id, contact_id)
left join open_ar as o using (tenant_id, contact_id)
left join {{ ref('int_unapplied_credits') }} as u using (tenant_id, contact_id)
