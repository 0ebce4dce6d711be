-- One row per customer with sales invoices: payment history and CRM signals as known at the start of
-- as_of_date (macro customer_history_features over int_customer_history_before_today, the customer's last history
-- rows before it: the same features invoice_features_history gives each invoice at its issue date, so training and
-- scoring read the same features), plus today's open exposure from fct_ar_aging.
with history as (
    select tenant_id, contact_id, {{ as_of_date() }} as as_of_date, {{ customer_history_features(as_of_date()) }}
    from {{ ref('int_customer_history_before_today') }}
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
