with source as (
    select * from {{ source('xero', 'invoices') }}
)

select
    tenant_id,
    record_id as invoice_id,
    payload ->> 'InvoiceNumber' as invoice_number,
    payload ->> 'Type' as invoice_type,
    payload -> 'Contact' ->> 'ContactID' as contact_id,
    payload -> 'Contact' ->> 'Name' as contact_name,
    upper(payload ->> 'Status') as status,
    {{ xero_date('payload', 'Date') }} as invoice_date,
    {{ xero_date('payload', 'DueDate') }} as due_date,
    cast({{ xero_timestamp("payload ->> 'FullyPaidOnDate'") }} as date) as fully_paid_on_date,
    nullif(upper(trim(payload ->> 'CurrencyCode')), '') as currency_code,
    coalesce(try_cast(payload ->> 'CurrencyRate' as decimal(18, 6)), 1) as currency_rate,
    try_cast(payload ->> 'SubTotal' as decimal(18, 2)) as subtotal,
    try_cast(payload ->> 'TotalTax' as decimal(18, 2)) as total_tax,
    try_cast(payload ->> 'Total' as decimal(18, 2)) as total,
    try_cast(payload ->> 'AmountDue' as decimal(18, 2)) as amount_due,
    coalesce(try_cast(payload ->> 'AmountPaid' as decimal(18, 2)), 0) as amount_paid,
    coalesce(try_cast(payload ->> 'AmountCredited' as decimal(18, 2)), 0) as amount_credited,
    payload ->> 'Reference' as reference,
    {{ xero_timestamp("payload ->> 'UpdatedDateUTC'") }} as updated_at_utc,
    upper(payload ->> 'Status') in ('VOIDED', 'DELETED') as is_deleted,
    loaded_at
from source
