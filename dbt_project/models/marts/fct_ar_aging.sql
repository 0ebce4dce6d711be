-- Open sales invoices as of the run date, with days past due and their standard and collections buckets.
with open_invoices as (
    select
        *,
        {{ as_of_date() }} as as_of_date,
        cast({{ as_of_date() }} - due_date as integer) as days_overdue
    from {{ ref('int_sales_invoices') }}
    where status = 'AUTHORISED'
      and amount_due > 0
)

select
    o.tenant_id,
    o.invoice_id,
    o.invoice_number,
    o.contact_id,
    o.contact_name,
    o.invoice_date,
    o.due_date,
    o.as_of_date,
    o.days_overdue,
    b.bucket as aging_bucket,
    b.sort_order as aging_bucket_order,
    c.bucket as collections_bucket,
    c.sort_order as collections_bucket_order,
    c.reminder_tier,
    o.currency_code,
    o.currency_rate,
    o.total,
    o.amount_paid,
    o.amount_credited,
    o.amount_due,
    o.amount_due_base,
    org.base_currency
from open_invoices as o
left join {{ ref('stg_xero__organisations') }} as org using (tenant_id)
left join {{ ref('aging_buckets') }} as b
    on b.scheme = 'standard' and o.days_overdue between b.min_days_overdue and b.max_days_overdue
left join {{ ref('aging_buckets') }} as c
    on c.scheme = 'collections' and o.days_overdue between c.min_days_overdue and c.max_days_overdue
