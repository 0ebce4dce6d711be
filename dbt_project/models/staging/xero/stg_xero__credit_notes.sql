{{ config(unique_key=['tenant_id', 'credit_note_id']) }}
with source as (
    select * from ({{ latest_versions('xero', 'credit_notes') }}) as latest
)

select
    {{ xero_id('tenant_id') }} as tenant_id,
    {{ xero_id('record_id') }} as credit_note_id,
    payload ->> 'CreditNoteNumber' as credit_note_number,
    payload ->> 'Type' as credit_note_type,
    {{ xero_id("payload -> 'Contact' ->> 'ContactID'") }} as contact_id,
    upper(payload ->> 'Status') as status,
    {{ xero_date('payload', 'Date') }} as credit_note_date,
    try_cast(payload ->> 'Total' as decimal(18, 2)) as total,
    coalesce(try_cast(payload ->> 'RemainingCredit' as decimal(18, 2)), 0) as remaining_credit,
    nullif(upper(trim(payload ->> 'CurrencyCode')), '') as currency_code,
    coalesce(try_cast(payload ->> 'CurrencyRate' as decimal(18, 6)), 1) as currency_rate,
    -- Which invoices the credit went to, when and how much (unnested in int_invoice_settlements).
    payload -> 'Allocations' as allocations,
    {{ xero_timestamp("payload ->> 'UpdatedDateUTC'") }} as updated_at_utc,
    raw_loaded_at
from source
