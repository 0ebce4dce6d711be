{{ config(unique_key=['tenant_id', 'payment_id']) }}
-- One parse per payload (json_transform), as in stg_xero__invoices: payments are the biggest stream.
with source as (
    select
        tenant_id,
        record_id,
        raw_loaded_at,
        json_transform(payload, {{ payload_fields('payments') }}) as j
    from ({{ latest_versions('xero', 'payments') }}) as latest
)

select
    tenant_id,
    record_id as payment_id,
    j.Invoice.InvoiceID as invoice_id,
    j.Invoice.Contact.ContactID as contact_id,
    j.PaymentType as payment_type,
    upper(j.Status) as status,
    {{ xero_date_of('j.DateString', 'j.Date') }} as payment_date,
    try_cast(j.Amount as decimal(18, 2)) as amount,
    coalesce(try_cast(j.CurrencyRate as decimal(18, 6)), 1) as currency_rate,
    {{ xero_timestamp('j.UpdatedDateUTC') }} as updated_at_utc,
    raw_loaded_at
from source
