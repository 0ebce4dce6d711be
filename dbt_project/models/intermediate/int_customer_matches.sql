-- Xero customer -> HubSpot company. A contact's email domain (unless a public mailbox) wins over
-- the normalised name; a rule that finds more than one company matches nothing.
with contacts as (
    select
        tenant_id,
        contact_id,
        contact_name,
        nullif(split_part(email, '@', 2), '') as email_domain,
        {{ normalise_company_name('contact_name') }} as name_key
    from {{ ref('stg_xero__contacts') }}
),

companies as (
    select
        company_id,
        company_name,
        domain,
        {{ normalise_company_name('company_name') }} as name_key
    from {{ ref('stg_hubspot__companies') }}
),

by_domain as (
    select c.tenant_id, c.contact_id, any_value(co.company_id) as company_id, count(*) as candidates
    from contacts as c
    inner join companies as co
        on c.email_domain = co.domain
        and c.email_domain not in ('gmail.com', 'outlook.com', 'hotmail.com', 'yahoo.com', 'yahoo.co.uk',
                                   'icloud.com', 'live.com')
    group by all
),

by_name as (
    select c.tenant_id, c.contact_id, any_value(co.company_id) as company_id, count(*) as candidates
    from contacts as c
    inner join companies as co on c.name_key = co.name_key and c.name_key <> ''
    group by all
)

select
    c.tenant_id,
    c.contact_id,
    c.contact_name,
    case
        when d.candidates = 1 then d.company_id
        when n.candidates = 1 then n.company_id
    end as hubspot_company_id,
    case
        when d.candidates = 1 then 'email_domain'
        when n.candidates = 1 then 'normalised_name'
        when coalesce(d.candidates, 0) > 1 or coalesce(n.candidates, 0) > 1 then 'ambiguous'
        else 'unmatched'
    end as match_rule
from contacts as c
left join by_domain as d using (tenant_id, contact_id)
left join by_name as n using (tenant_id, contact_id)
