{{ config(unique_key=['portal_id', 'deal_id']) }}
with source as (
    select * from ({{ latest_versions('hubspot', 'deals') }}) as latest
)

select
    tenant_id as portal_id,
    record_id as deal_id,
    payload -> 'properties' ->> 'dealname' as deal_name,
    try_cast(payload -> 'properties' ->> 'amount' as decimal(18, 2)) as amount,
    payload -> 'properties' ->> 'dealstage' as deal_stage,
    try_cast(payload -> 'properties' ->> 'closedate' as timestamptz) as close_date,
    payload -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
    cast(payload ->> 'createdAt' as timestamptz) as created_at,
    raw_loaded_at
from source
