{{ config(unique_key=['portal_id', 'note_id']) }}
with source as (
    select * from ({{ latest_versions('hubspot', 'notes') }}) as latest
),

notes as (
    select
        tenant_id as portal_id,
        record_id as note_id,
        raw_loaded_at,
        -- Note bodies are untrusted HTML: keep text only.
        trim(regexp_replace(coalesce(payload -> 'properties' ->> 'hs_note_body', ''), '<[^>]*>', ' ', 'g'))
            as body_text,
        coalesce(
            try_cast(payload -> 'properties' ->> 'hs_timestamp' as timestamptz),
            cast(payload ->> 'createdAt' as timestamptz)
        ) as noted_at,
        payload -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id
    from source
)

select *, {{ mentions_dispute('body_text') }} as mentions_dispute
from notes
