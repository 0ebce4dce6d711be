{{ config(unique_key=['tenant_id', 'organisation_id']) }}
-- One row per Xero organisation (GET /Organisation): the base currency every *_base amount is in.
select
    {{ xero_id('tenant_id') }} as tenant_id,
    {{ xero_id('record_id') }} as organisation_id,
    payload ->> 'Name' as organisation_name,
    nullif(upper(trim(payload ->> 'BaseCurrency')), '') as base_currency,
    payload ->> 'CountryCode' as country_code,
    payload ->> 'Timezone' as timezone,
    upper(payload ->> 'OrganisationStatus') as organisation_status,
    raw_loaded_at
from ({{ latest_versions('xero', 'organisations') }}) as latest
