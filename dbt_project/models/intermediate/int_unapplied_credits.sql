-- Money the customer has already given or been given but that no invoice has absorbed yet:
-- unallocated credit notes, overpayments and prepayments, per customer, in base currency.
with credits as (
    select tenant_id, contact_id, 'credit_note' as kind, remaining_credit, currency_rate
    from {{ ref('stg_xero__credit_notes') }}
    where status = 'AUTHORISED'
    union all
    select tenant_id, contact_id, 'overpayment', remaining_credit, currency_rate
    from {{ ref('stg_xero__overpayments') }}
    where status = 'AUTHORISED'
    union all
    select tenant_id, contact_id, 'prepayment', remaining_credit, currency_rate
    from {{ ref('stg_xero__prepayments') }}
    where status = 'AUTHORISED'
)

select
    tenant_id,
    contact_id,
    count(*) as unapplied_credit_count,
    cast(sum(remaining_credit / nullif(currency_rate, 0)) as decimal(18, 2)) as unapplied_credit_base
from credits
where remaining_credit > 0
group by all
