-- HubSpot tickets that mention a dispute and name a specific invoice of the matched customer, open or
-- closed. Open ones hold the invoice (no chasing); all of them say the invoice was disputed.
select distinct
    i.tenant_id,
    i.invoice_id,
    t.ticket_id,
    t.subject as ticket_subject,
    t.is_open,
    t.created_at as disputed_at,
    t.closed_at as resolved_at
from {{ ref('int_sales_invoices') }} as i
inner join {{ ref('int_customer_matches') }} as m using (tenant_id, contact_id)
inner join {{ ref('stg_hubspot__tickets') }} as t on t.company_id = m.hubspot_company_id
where t.mentions_dispute
  and i.invoice_number is not null
  and contains(coalesce(t.subject, '') || ' ' || coalesce(t.content, ''), i.invoice_number)
