-- The customers an incremental build recomputes in the customer models, each from a day on (recompute_from): the
-- two daily histories' rows and invoice_features_history's invoices dated on or after it are taken away and
-- computed again (macros in touched_customers.sql).
-- With changed_since (the raw watermark of the last finished build; macro run_value):
--   * an invoice or payment whose fields the customer models read changed (int_changed_xero_records'
--     customer_fields_changed: a new Reference, AmountDue or payment Amount alone touches nobody), both versions'
--     customers, from the earliest day whose history row can differ: an invoice's issue, due or fully-paid date
--     when a field that row reads changed, a payment's date (the last payment before an invoice) and its invoice's
--     fully-paid date when it was added, deleted or moved (paid in instalments); an invoice whose changes move no
--     history row recomputes only its own row of invoice_features_history (recompute_from 'infinity');
--   * a new version of a credit: its customer from its date (credit notes issued), and the customers of the
--     invoices it is allocated to from the allocation's date;
--   * their HubSpot match or a HubSpot text or deal of theirs changed: the whole customer ('-infinity');
--   * an invoice of theirs was dated (from its date) or paid ('infinity': its own row's labels) after the last
--     build's as_of_date (run value previous_as_of): the invoice spine and the labels follow as_of_date.
-- Without changed_since (a full rebuild, or a partial build by selection): every customer, whole.
-- The refs below sit inside a branch dbt's parser may not render; they are declared here:
-- depends_on: {{ ref('stg_xero__invoices') }}, {{ ref('stg_xero__payments') }}, {{ ref('stg_xero__contacts') }}
-- depends_on: {{ ref('stg_xero__credit_notes') }}, {{ ref('stg_xero__overpayments') }}, {{ ref('stg_xero__prepayments') }}
-- depends_on: {{ ref('stg_hubspot__notes') }}, {{ ref('stg_hubspot__tickets') }}, {{ ref('stg_hubspot__deals') }}
-- depends_on: {{ ref('int_customer_matches') }}, {{ ref('int_sales_invoices') }}, {{ ref('int_changed_xero_records') }}
-- depends_on: {{ ref('int_invoice_settlements') }}
{% set since = run_value('changed_since') %}
{% if since is none %}
select tenant_id, contact_id, date '-infinity' as recompute_from, {{ customer_key() }} as customer_key
from (
    select tenant_id, contact_id from {{ ref('stg_xero__contacts') }}
    union
    select tenant_id, contact_id from {{ ref('stg_xero__invoices') }} where contact_id is not null
)
{% else %}
{% set since_ts = changed_since_ts() %}
with invoice_versions as (
    {{ changed_invoice_versions() }}
),

invoice_changes as (
    -- From the earliest date (old or new) of a row whose fields differ between the versions (a version without the
    -- date has no such row: no paid row before it is paid); from the invoice's first payment too when it joined or
    -- left the sales invoices or changed customer (days_since_last_payment). Null when no history row differs (a
    -- number or currency changed, or a status without a fully-paid date): its own row only.
    select
        v.tenant_id,
        unnest(v.contact_ids) as contact_id,
        least(
            case when v.moved or (v.o_counts, v.o_amount, v.o_issued_on) is distinct from
                (v.n_counts, v.n_amount, v.n_issued_on)
                then least(v.o_issued_on, v.n_issued_on) end,
            case when v.moved or (v.o_counts, v.o_due_on, {{ falls_overdue('v.o_paid_on', 'v.o_due_on') }})
                is distinct from (v.n_counts, v.n_due_on, {{ falls_overdue('v.n_paid_on', 'v.n_due_on') }})
                then least(v.o_due_on, v.n_due_on) end,
            case when v.moved or (v.o_counts, v.o_paid_on, v.o_status, v.o_amount, v.o_issued_on, v.o_due_on)
                is distinct from (v.n_counts, v.n_paid_on, v.n_status, v.n_amount, v.n_issued_on, v.n_due_on)
                then least(v.o_paid_on, v.n_paid_on) end,
            case when v.moved or v.o_counts is distinct from v.n_counts then p.first_paid_on end
        ) as changed_from
    from invoice_versions as v
    left join (
        select tenant_id, invoice_id, min(settled_on) as first_paid_on
        from {{ ref('int_invoice_settlements') }}
        where kind = 'payment' and (tenant_id, invoice_id) in (select tenant_id, invoice_id from invoice_versions)
        group by all
    ) as p using (tenant_id, invoice_id)
),

payment_changes as (
    -- A payment dates its customer's last payment (days_since_last_payment): from its earlier date. It counts in
    -- its invoice's paid row (paid in instalments): from that invoice's fully-paid date too when it was added,
    -- deleted or moved to another invoice (either version's invoice).
    select
        tenant_id,
        unnest([{{ xero_id('o.Invoice.InvoiceID') }}, {{ xero_id('n.Invoice.InvoiceID') }}]) as invoice_id,
        least({{ xero_date_of('o.DateString', 'o.Date') }}, {{ xero_date_of('n.DateString', 'n.Date') }}) as paid_from,
        o.Invoice.InvoiceID is distinct from n.Invoice.InvoiceID or upper(o.Status) is distinct from upper(n.Status)
            as recounted
    from (
        select tenant_id,
            json_transform(old_payload, {{ customer_model_fields('payments') }}) as o,
            json_transform(new_payload, {{ customer_model_fields('payments') }}) as n
        from {{ ref('int_changed_xero_records') }}
        where stream = 'payments' and customer_fields_changed
    )
),

payment_customers as (
    select p.tenant_id, i.contact_id, least(p.paid_from, case when p.recounted then i.fully_paid_on_date end)
        as changed_from
    from payment_changes as p
    inner join {{ ref('stg_xero__invoices') }} as i using (tenant_id, invoice_id)
),

credits as (
    {% for entity, id in [('credit_notes', 'credit_note_id'), ('overpayments', 'overpayment_id'),
                          ('prepayments', 'prepayment_id')] %}
    select {{ xero_id('v.tenant_id') }} as tenant_id, v.payload
    from {{ source('xero', entity ~ '_versions') }} as v
    where ({{ xero_id('v.tenant_id') }}, {{ xero_id('v.record_id') }}) in (
        select tenant_id, {{ id }} from {{ ref('stg_xero__' ~ entity) }} where raw_loaded_at > {{ since_ts }})
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

credit_changes as (
    -- Every version of a credit loaded since: its customer from its date; its allocations' invoices' customers from
    -- the allocation's date (no customer model reads an allocation; counted to be safe).
    select tenant_id, {{ xero_id("payload -> 'Contact' ->> 'ContactID'") }} as contact_id,
        coalesce({{ xero_date('payload', 'Date') }}, date '-infinity') as changed_from
    from credits
    union all
    select i.tenant_id, i.contact_id, coalesce(a.allocated_on, date '-infinity')
    from (
        select c.tenant_id, {{ allocation_invoice_id('a.allocation') }} as invoice_id,
            {{ xero_date('a.allocation', 'Date') }} as allocated_on
        from credits as c, unnest({{ allocation_list("c.payload -> 'Allocations'") }}) as a (allocation)
    ) as a
    inner join {{ ref('stg_xero__invoices') }} as i using (tenant_id, invoice_id)
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
    -- The contacts int_customer_matches matched again (its pre-hook keeps them with their last match) whose company
    -- changed; every other contact kept its row.
    select r.tenant_id, r.contact_id
    from {{ rematched_customers_relation(ref('int_customer_matches')) }} as r
    left join {{ ref('int_customer_matches') }} as n using (tenant_id, contact_id)
    where n.hubspot_company_id is distinct from r.previous_hubspot_company_id
),

dated_since_last_build as (
    select tenant_id, contact_id, invoice_date as changed_from
    from {{ ref('int_sales_invoices') }}
    where {{ reached_since_last_build('invoice_date') }}
    union all
    select tenant_id, contact_id, date 'infinity'
    from {{ ref('int_sales_invoices') }}
    where {{ reached_since_last_build('fully_paid_on_date') }}
),

touched as (
    select tenant_id, contact_id, changed_from from invoice_changes
    union all
    select tenant_id, contact_id, changed_from from payment_customers
    union all
    select tenant_id, contact_id, changed_from from credit_changes
    union all
    select tenant_id, contact_id, date '-infinity' from {{ ref('int_customer_matches') }}
    where hubspot_company_id in (select company_id from changed_companies)
    union all
    select tenant_id, contact_id, date '-infinity' from match_changes
    union all
    select tenant_id, contact_id, changed_from from dated_since_last_build
)

select tenant_id, contact_id, min(coalesce(changed_from, date 'infinity')) as recompute_from,
    {{ customer_key() }} as customer_key
from touched
where contact_id is not null
group by all
{% endif %}
