with source as (
    select * from {{ source('xero', 'payments') }}
)

select
    tenant_id,
    record_id as payment_id,
    payload -> 'Invoice' ->> 'InvoiceID' as invoice_id,
    payload -> 'Invoice' -> 'Contact' ->> 'ContactID' as contact_id,
    payload ->> 'PaymentType' as payment_type,
    upper(payload ->> 'Status') as status,
    {{ xero_date('payload', 'Date') }} as payment_date,
    try_cast(payload ->> 'Amount' as decimal(18, 2)) as amount,
    coalesce(try_cast(payload ->> 'CurrencyRate' as decimal(18, 6)), 1) as currency_rate,
    {{ xero_timestamp("payload ->> 'UpdatedDateUTC'") }} as updated_at_utc
from source
