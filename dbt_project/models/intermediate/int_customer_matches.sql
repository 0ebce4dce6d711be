{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ rematch_customers() }}", "{{ delete_rematched_customers() }}"]
) }}
-- Xero customer -> HubSpot company. Rules, first that finds exactly one company wins:
--   1. a manual override (seed customer_match_overrides);
--   2. the Xero contact's email is a HubSpot contact's email: that contact's company;
--   3. the email's domain (unless a public mailbox) is a company's domain;
--   4. the normalised name (case, punctuation, legal suffixes ignored) is a company's.
-- When no rule finds exactly one company, a rule that found several makes the customer ambiguous
-- (with its candidates listed); otherwise it is unmatched. The keys (email_domain, name_key) come from staging,
-- computed once per version (macros in customer_match_keys.sql).
-- Incremental: only the contacts a change since the last build can rematch are matched again (macro
-- rematched_customers; its pre-hook takes their rows away): at 3M invoices, 150,000 contacts and 135,000 companies
-- cost 0.9 s every day.
with contacts as (
    select tenant_id, contact_id, contact_name, email, email_domain, name_key
    from {{ ref('stg_xero__contacts') }}
    {% if is_incremental() -%}
    where {{ rematched_customer_row() }}
    {%- endif %}
),

companies as (
    select company_id, domain, name_key
    from {{ ref('stg_hubspot__companies') }}
),

overrides as (
    select tenant_id, xero_contact_id as contact_id, nullif(hubspot_company_id, '') as company_id
    from {{ ref('customer_match_overrides') }}
),

by_contact_email as (
    select c.tenant_id, c.contact_id, min(h.company_id) as company_id, count(distinct h.company_id) as candidates,
        list(distinct h.company_id) as candidate_ids
    from contacts as c
    inner join {{ ref('stg_hubspot__contacts') }} as h on c.email = h.email and h.company_id is not null
    group by all
),

by_domain as (
    select c.tenant_id, c.contact_id, min(co.company_id) as company_id, count(*) as candidates,
        list(co.company_id) as candidate_ids
    from contacts as c
    inner join companies as co
        on c.email_domain = co.domain
        and c.email_domain not in ('gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'yahoo.com',
                                   'yahoo.co.uk', 'icloud.com', 'live.com', 'aol.com', 'proton.me')
    group by all
),

by_name as (
    select c.tenant_id, c.contact_id, min(co.company_id) as company_id, count(*) as candidates,
        list(co.company_id) as candidate_ids
    from contacts as c
    inner join companies as co on c.name_key = co.name_key and c.name_key <> ''
    group by all
)

select
    c.tenant_id,
    c.contact_id,
    c.contact_name,
    case
        when o.contact_id is not null then o.company_id
        when e.candidates = 1 then e.company_id
        when d.candidates = 1 then d.company_id
        when n.candidates = 1 then n.company_id
    end as hubspot_company_id,
    case
        when o.contact_id is not null then 'manual_override'
        when e.candidates = 1 then 'contact_email'
        when d.candidates = 1 then 'email_domain'
        when n.candidates = 1 then 'normalised_name'
        when coalesce(e.candidates, 0) > 1 or coalesce(d.candidates, 0) > 1 or coalesce(n.candidates, 0) > 1
            then 'ambiguous'
        else 'unmatched'
    end as match_rule,
    case
        when o.contact_id is null and coalesce(e.candidates, 0) <> 1 and coalesce(d.candidates, 0) <> 1
            and coalesce(n.candidates, 0) <> 1
            and coalesce(e.candidates, 0) + coalesce(d.candidates, 0) + coalesce(n.candidates, 0) > 0
            -- sorted: list() and list_distinct() keep no order, and a rebuild must give the same list
            then list_sort(list_distinct(list_concat(coalesce(e.candidate_ids, []), coalesce(d.candidate_ids, []),
                                                     coalesce(n.candidate_ids, []))))
    end as candidate_company_ids
from contacts as c
left join overrides as o using (tenant_id, contact_id)
left join by_contact_email as e using (tenant_id, contact_id)
left join by_domain as d using (tenant_id, contact_id)
left join by_name as n using (tenant_id, contact_id)
