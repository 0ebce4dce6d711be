-- Customers the CRM matching could not settle, with the open AR they carry: finance's to-do list for
-- the customer_match_overrides seed. Largest open amount first.
with open_ar as (
    select tenant_id, contact_id, count(*) as open_invoice_count, sum(amount_due_base) as open_amount_base
    from {{ ref('fct_ar_aging') }}
    group by all
)

select
    m.tenant_id,
    m.contact_id,
    m.contact_name,
    m.match_rule,
    m.candidate_company_ids,
    coalesce(o.open_invoice_count, 0) as open_invoice_count,
    coalesce(o.open_amount_base, 0) as open_amount_base
from {{ ref('int_customer_matches') }} as m
left join open_ar as o using (tenant_id, contact_id)
where m.match_rule in ('unmatched', 'ambiguous')
order by open_amount_base desc
