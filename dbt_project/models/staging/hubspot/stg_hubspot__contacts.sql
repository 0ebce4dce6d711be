{{ config(unique_key=['portal_id', 'contact_id']) }}
with source as (
    select * from ({{ latest_versions('hubspot', 'contacts') }}) as latest
)

select
    tenant_id as portal_id,
    record_id as contact_id,
    {{ hubspot_contact_email('payload') }} as email,
    payload -> 'properties' ->> 'firstname' as first_name,
    payload -> 'properties' ->> 'lastname' as last_name,
    -- HubSpot's preferred language: a code such as 'fr' or 'pt-br'
    lower(nullif(trim(payload -> 'properties' ->> 'hs_language'), '')) as language,
    payload -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
    cast(payload ->> 'updatedAt' as timestamptz) as updated_at,
    raw_loaded_at
from source
