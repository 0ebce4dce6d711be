{{ config(unique_key=['portal_id', 'company_id']) }}
with source as (
    select * from ({{ latest_versions('hubspot', 'companies') }}) as latest
)

select
    tenant_id as portal_id,
    record_id as company_id,
    {{ hubspot_company_name('payload') }} as company_name,
    {{ hubspot_company_domain('payload') }} as domain,
    {{ normalise_company_name(hubspot_company_name('payload')) }} as name_key,
    payload -> 'properties' ->> 'lifecyclestage' as lifecycle_stage,
    nullif(trim(payload -> 'properties' ->> 'country'), '') as country,
    upper(nullif(trim(payload -> 'properties' ->> 'ar_radar_relationship_tier'), '')) as relationship_tier,
    coalesce(lower(trim(payload -> 'properties' ->> 'ar_radar_reminders_opt_out')) in ('true', 'yes', '1'), false)
        as reminders_opt_out,
    cast(payload ->> 'updatedAt' as timestamptz) as updated_at,
    raw_loaded_at
from source
