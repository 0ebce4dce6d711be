-- The customers an incremental build recomputes in the customer models (macro delete_touched_customers). With
-- changed_since (the raw watermark of the last finished build; macro run_value):
--   * a record of a stream their history reads has a version loaded since: an invoice or payment whose fields
--     the models read changed (int_changed_xero_records: a new Reference alone touches nobody), any credit or
--     CRM text; both versions count, so a record moved to another customer touches both;
--   * their HubSpot match changed (int_customer_matches against the copy its pre-hook kept of the last build's):
--     this is how a changed Xero contact, HubSpot company or contact reaches them;
--   * an invoice of theirs was dated or paid after the last build's as_of_date (run value previous_as_of): the
--     invoice spine and the labels of invoice_features_history follow as_of_date.
-- Without changed_since (a full rebuild, or a partial build by selection): every customer.
-- The refs below sit inside a branch dbt's parser may not render; they are declared here:
-- depends_on: {{ ref('stg_xero__invoices') }}, {{ ref('stg_xero__payments') }}, {{ ref('stg_xero__contacts') }}
-- depends_on: {{ ref('stg_xero__credit_notes') }}, {{ ref('stg_xero__overpayments') }}, {{ ref('stg_xero__prepayments') }}
-- depends_on: {{ ref('stg_hubspot__notes') }}, {{ ref('stg_hubspot__tickets') }}, {{ ref('stg_hubspot__deals') }}
-- depends_on: {{ ref('int_customer_matches') }}, {{ ref('int_sales_invoices') }}, {{ ref('int_changed_xero_records') }}
{% set since = run_value('changed_since') %}
{% if since is none %}
select distinct tenant_id, contact_id from {{ ref('stg_xero__contacts') }}
union
select distinct tenant_id, contact_id from {{ ref('stg_xero__invoices') }} where contact_id is not null
{% else %}
{% set since_ts = "cast('" ~ since ~ "' as timestamptz)" %}
with changed_invoices as (
    select * from {{ ref('int_changed_xero_records') }} where stream = 'invoices'
),

changed_payments as (
    select * from {{ ref('int_changed_xero_records') }} where stream = 'payments'
),

invoice_contacts as (
    {{ in_either_version('changed_invoices', "-> 'Contact' ->> 'ContactID'", 'contact_id') }}
),

paid_invoices as (
    {{ in_either_version('changed_payments', "-> 'Invoice' ->> 'InvoiceID'", 'invoice_id') }}
),

credits as (
    {% for entity, id in [('credit_notes', 'credit_note_id'), ('overpayments', 'overpayment_id'),
                          ('prepayments', 'prepayment_id')] %}
    select v.tenant_id, v.payload
    from {{ source('xero', entity ~ '_versions') }} as v
    where (v.tenant_id, v.record_id) in (
        select tenant_id, {{ id }} from {{ ref('stg_xero__' ~ entity) }} where raw_loaded_at > {{ since_ts }})
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

allocated_invoices as (
    select c.tenant_id, a.allocation -> 'Invoice' ->> 'InvoiceID' as invoice_id
    from credits as c, unnest(cast(coalesce(c.payload -> 'Allocations', '[]') as json[])) as a (allocation)
),

invoice_customers as (
    select i.tenant_id, i.contact_id
    from {{ ref('stg_xero__invoices') }} as i
    where (i.tenant_id, i.invoice_id) in (
        select tenant_id, invoice_id from paid_invoices
        union all
        select tenant_id, invoice_id from allocated_invoices)
),

changed_companies as (
    {% for entity in ['notes', 'tickets', 'deals'] %}
    select v.payload -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id
    from {{ source('hubspot', entity ~ '_versions') }} as v
    where (v.tenant_id, v.record_id) in (
        select portal_id, {{ entity[:-1] }}_id from {{ ref('stg_hubspot__' ~ entity) }}
        where raw_loaded_at > {{ since_ts }})
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

match_changes as (
    select coalesce(n.tenant_id, o.tenant_id) as tenant_id, coalesce(n.contact_id, o.contact_id) as contact_id
    from {{ ref('int_customer_matches') }} as n
    full join {{ ref('int_customer_matches').schema }}.int_customer_matches_before as o using (tenant_id, contact_id)
    where n.hubspot_company_id is distinct from o.hubspot_company_id
),

dated_since_last_build as (
    select tenant_id, contact_id
    from {{ ref('int_sales_invoices') }}
    where invoice_date > cast('{{ run_value('previous_as_of') }}' as date) and invoice_date <= {{ as_of_date() }}
       or fully_paid_on_date > cast('{{ run_value('previous_as_of') }}' as date) and fully_paid_on_date <= {{ as_of_date() }}
),

touched as (
    select tenant_id, contact_id from invoice_contacts
    union all
    select tenant_id, contact_id from invoice_customers
    union all
    select tenant_id, payload -> 'Contact' ->> 'ContactID' from credits
    union all
    select tenant_id, contact_id from {{ ref('int_customer_matches') }}
    where hubspot_company_id in (select company_id from changed_companies)
    union all
    select tenant_id, contact_id from match_changes
    union all
    select tenant_id, contact_id from dated_since_last_build
)

select distinct tenant_id, contact_id
from touched
where contact_id is not null
{% endif %}
