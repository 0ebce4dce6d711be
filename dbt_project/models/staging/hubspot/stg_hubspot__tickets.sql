{{ config(unique_key=['portal_id', 'ticket_id']) }}
with source as (
    select * from ({{ latest_versions('hubspot', 'tickets') }}) as latest
)

select
    tenant_id as portal_id,
    record_id as ticket_id,
    payload -> 'properties' ->> 'subject' as subject,
    payload -> 'properties' ->> 'content' as content,
    payload -> 'properties' ->> 'hs_pipeline_stage' as pipeline_stage,
    -- Stage 4 is "Closed" in HubSpot's default support pipeline.
    coalesce(payload -> 'properties' ->> 'hs_pipeline_stage', '') <> '4' as is_open,
    payload -> 'properties' ->> 'hs_ticket_priority' as priority,
    payload -> 'properties' ->> 'hs_ticket_category' as category,
    {{ mentions_dispute("coalesce(payload -> 'properties' ->> 'subject', '') || ' ' || "
                        "coalesce(payload -> 'properties' ->> 'content', '')") }} as mentions_dispute,
    payload -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
    cast(payload ->> 'createdAt' as timestamptz) as created_at,
    -- closed_date is set by HubSpot when a ticket enters a closed stage; older tickets may lack it.
    coalesce(
        try_cast(payload -> 'properties' ->> 'closed_date' as timestamptz),
        case when coalesce(payload -> 'properties' ->> 'hs_pipeline_stage', '') = '4'
            then cast(payload ->> 'updatedAt' as timestamptz) end
    ) as closed_at,
    raw_loaded_at
from source
