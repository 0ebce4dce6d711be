{{ config(severity='warn') }}
-- The receivables balance rebuilt from dated events for the current month must equal the open amount in
-- fct_ar_aging, per organisation, to within the per-invoice rounding of amount_due_base (half a cent each).
-- A gap means an invoice's amounts moved without a payment or allocation we hold (e.g. a payment not
-- extracted yet): a warning here, for the data-health gate to weigh.
with aging as (
    select tenant_id, sum(amount_due_base) as open_base, count(*) as open_invoices
    from {{ ref('fct_ar_aging') }}
    group by all
),

metrics as (
    select tenant_id, ar_end_base
    from {{ ref('fct_ar_monthly_metrics') }}
    where month_start = date_trunc('month', {{ as_of_date() }})
)

select m.tenant_id, m.ar_end_base, coalesce(a.open_base, 0) as open_base
from metrics as m
left join aging as a using (tenant_id)
where abs(m.ar_end_base - coalesce(a.open_base, 0)) > 0.005 * coalesce(a.open_invoices, 0) + 0.01
