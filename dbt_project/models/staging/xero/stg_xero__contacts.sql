{{ config(unique_key=['tenant_id', 'contact_id']) }}
with source as (
    select * from ({{ latest_versions('xero', 'contacts') }}) as latest
)

select
    {{ xero_id('tenant_id') }} as tenant_id,
    {{ xero_id('record_id') }} as contact_id,
    payload ->> 'Name' as contact_name,
    {{ xero_contact_email('payload') }} as email,
    {{ email_domain(xero_contact_email('payload')) }} as email_domain,
    {{ normalise_company_name("payload ->> 'Name'") }} as name_key,
    -- Contact persons the business copies on invoice emails (IncludeInEmails): reminders go to them too.
    list_transform(
        list_filter(
            from_json(
                coalesce(payload -> 'ContactPersons', '[]'),
                '[{"EmailAddress": "VARCHAR", "IncludeInEmails": "BOOLEAN"}]'
            ),
            lambda p: coalesce(p.IncludeInEmails, false) and nullif(trim(p.EmailAddress), '') is not null
        ),
        lambda p: lower(trim(p.EmailAddress))
    ) as copied_emails,
    payload ->> 'FirstName' as first_name,
    payload ->> 'LastName' as last_name,
    upper(payload ->> 'ContactStatus') as contact_status,
    coalesce(try_cast(payload ->> 'IsCustomer' as boolean), false) as is_customer,
    payload ->> 'DefaultCurrency' as default_currency,
    nullif(trim(payload -> 'Addresses' -> 0 ->> 'Country'), '') as country,
    {{ xero_timestamp("payload ->> 'UpdatedDateUTC'") }} as updated_at_utc,
    raw_loaded_at
from source
