-- One row per customer with an open or past sales invoice: payment history, open exposure and
-- CRM signals as of the run date. Everything here is known on as_of_date (nothing from later).
with invoices as (
    select * from {{ ref('int_sales_invoices') }}
    where invoice_date <= {{ as_of_date() }}
),

history as (
    select
        tenant_id,
        contact_id,
        count(*) filter (where status = 'PAID' and fully_paid_on_date <= {{ as_of_date() }}) as paid_invoice_count,
        count(*) filter (where days_paid_late > 0 and fully_paid_on_date <= {{ as_of_date() }}) as paid_late_count,
        avg(greatest(days_paid_late, 0)) filter (where fully_paid_on_date <= {{ as_of_date() }}) as avg_days_late,
        max(fully_paid_on_date) filter (where fully_paid_on_date <= {{ as_of_date() }}) as last_paid_date
    from invoices
    group by all
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
),

credits as (
    select tenant_id, contact_id, count(*) as credit_note_count
    from {{ ref('stg_xero__credit_notes') }}
    where credit_note_date <= {{ as_of_date() }} and status not in ('VOIDED', 'DELETED')
    group by all
),

tickets as (
    select
        company_id,
        count(*) filter (where is_open) as open_ticket_count,
        count(*) filter (where is_open and mentions_dispute) as open_dispute_count
    from {{ ref('stg_hubspot__tickets') }}
    where cast(created_at as date) <= {{ as_of_date() }}
    group by all
),

notes as (
    select
        company_id,
        count(*) as recent_note_count,
        count(*) filter (where regexp_matches(lower(body_text),
            'tight|overdue|no reply|unhappy|threat|did not arrive|escalate|frustrat|complain|chase'))
            as recent_negative_note_count
    from {{ ref('stg_hubspot__notes') }}
    where cast(noted_at as date) between {{ as_of_date() }} - 180 and {{ as_of_date() }}
    group by all
)

select
    h.tenant_id,
    h.contact_id,
    c.contact_name,
    m.hubspot_company_id,
    m.match_rule,
    {{ as_of_date() }} as as_of_date,
    h.paid_invoice_count,
    h.paid_late_count,
    case when h.paid_invoice_count > 0
        then round(h.paid_late_count / h.paid_invoice_count, 4) end as share_paid_late,
    round(h.avg_days_late, 2) as avg_days_late,
    cast({{ as_of_date() }} - h.last_paid_date as integer) as days_since_last_payment,
    coalesce(o.open_invoice_count, 0) as open_invoice_count,
    coalesce(o.open_amount_base, 0) as open_amount_base,
    coalesce(o.overdue_amount_base, 0) as overdue_amount_base,
    o.max_days_overdue,
    coalesce(o.partially_paid_open_count, 0) as partially_paid_open_count,
    coalesce(u.unapplied_credit_base, 0) as unapplied_credit_base,
    cast(coalesce(o.open_amount_base, 0) - coalesce(u.unapplied_credit_base, 0) as decimal(38, 2))
        as net_exposure_base,
    coalesce(cr.credit_note_count, 0) as credit_note_count,
    coalesce(t.open_ticket_count, 0) as open_ticket_count,
    coalesce(t.open_dispute_count, 0) as open_dispute_count,
    coalesce(n.recent_note_count, 0) as recent_note_count,
    coalesce(n.recent_negative_note_count, 0) as recent_negative_note_count
from history as h
left join {{ ref('stg_xero__contacts') }} as c using (tenant_id, contact_id)
left join {{ ref('int_customer_matches') }} as m using (tenant_id, contact_id)
left join open_ar as o using (tenant_id, contact_id)
left join credits as cr using (tenant_id, contact_id)
left join {{ ref('int_unapplied_credits') }} as u using (tenant_id, contact_id)
left join tickets as t on t.company_id = m.hubspot_company_id
left join notes as n on n.company_id = m.hubspot_company_id
