-- How to write to each Xero customer: its billing emails (the Xero contact and the persons it copies), the language
-- its CRM contact prefers and its country
-- (the draft's language comes from these), and the relationship tier finance set (seed first, then HubSpot).
with customers as (
    select tenant_id, contact_id, contact_name, email, coalesce(copied_emails, []) as copied_emails, country
    from {{ ref('stg_xero__contacts') }}
    where is_customer or contact_status = 'ACTIVE'
),

matches as (
    select tenant_id, contact_id, hubspot_company_id
    from {{ ref('int_customer_matches') }}
),

-- The CRM contact with the customer's own billing email speaks for it; else its company's contacts, if they agree.
languages as (
    select
        c.tenant_id,
        c.contact_id,
        min(h.email) filter (where h.company_id = m.hubspot_company_id) as crm_email,
        coalesce(
            min(h.language) filter (where h.email = c.email),
            case
                when count(distinct h.language) filter (where h.company_id = m.hubspot_company_id) = 1
                    then min(h.language) filter (where h.company_id = m.hubspot_company_id)
            end
        ) as language
    from customers as c
    left join matches as m using (tenant_id, contact_id)
    inner join {{ ref('stg_hubspot__contacts') }} as h
        on h.email = c.email or h.company_id = m.hubspot_company_id
    group by all
),

opt_outs as (
    select distinct tenant_id, xero_contact_id as contact_id from {{ ref('reminder_opt_outs') }}
),

overrides as (
    select tenant_id, xero_contact_id as contact_id, nullif(trim(upper(relationship_tier)), '') as relationship_tier
    from {{ ref('customer_relationship_tiers') }}
)

select
    c.tenant_id,
    c.contact_id,
    c.contact_name,
    c.email,
    -- The billing email first, then the people Xero copies on invoice emails (each once).
    case
        when c.email is null then list_sort(list_distinct(c.copied_emails))
        else [c.email] || list_sort(list_distinct(list_filter(c.copied_emails, lambda e: e != c.email)))
    end as billing_emails,
    m.hubspot_company_id,
    l.language,
    coalesce(c.country, hc.country) as country,
    case when o.contact_id is not null then o.relationship_tier else hc.relationship_tier end as relationship_tier,
    case
        when o.contact_id is not null then 'seed'
        when hc.relationship_tier is not null then 'hubspot'
    end as relationship_tier_source,
    l.crm_email,
    (x.contact_id is not null or coalesce(hc.reminders_opt_out, false)) as opted_out
from customers as c
left join matches as m using (tenant_id, contact_id)
left join languages as l using (tenant_id, contact_id)
left join {{ ref('stg_hubspot__companies') }} as hc on hc.company_id = m.hubspot_company_id
left join overrides as o using (tenant_id, contact_id)
left join opt_outs as x using (tenant_id, contact_id)
