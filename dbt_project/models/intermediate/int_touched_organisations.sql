-- The organisations an incremental build recomputes in int_organisation_monthly_ledger, each from the month of
-- recompute_from on: that ledger's rows of those months are taken away and computed again; earlier months are kept.
-- recompute_from is the earliest date of a ledger event (an invoice issued, fallen overdue or falling due, a
-- settlement, a late payment) that can differ from the last build's. With changed_since (macro run_value):
--   * an invoice changed on a field the ledger reads (macro changed_invoice_versions; both versions): from its issue
--     date (and its first settlement: a settlement counts only once its invoice is issued) when its total, rate,
--     date or being a sales invoice changed; from its due date when its total, rate or due date changed (overdue
--     and falling-due amounts, settlements collected by the due date); from its fully-paid date when that date,
--     its status, due date or customer changed (late payments); from '-infinity' when it stopped being a sales
--     invoice (voided, deleted): its settlements went with it and their dates with them;
--   * a payment changed on any field the ledger reads (its amount too, unlike int_touched_customers): from its
--     date (either version), and from its invoice's due date when it was paid within 7 days of it;
--   * a credit note, overpayment or prepayment whose status or allocations changed: from its allocations' dates
--     (either version);
--   * as_of_date moved on (run value previous_as_of): every organisation from the day after the last build's
--     as_of_date, and from the settlements of the invoices dated since (counted once their invoice is).
-- Without changed_since (a full rebuild, or a partial build by selection): every organisation, whole.
-- The refs below sit inside a branch dbt's parser may not render; they are declared here:
-- depends_on: {{ ref('int_changed_xero_records') }}, {{ ref('int_invoice_settlements') }}
-- depends_on: {{ ref('stg_xero__invoices') }}, {{ ref('int_sales_invoices') }}
{% set since = run_value('changed_since') %}
{% if since is none %}
select distinct tenant_id, date '-infinity' as recompute_from
from {{ ref('int_sales_invoices') }}
{% else %}
{% set since_ts = changed_since_ts() %}
{% set previous_as_of = previous_as_of_date() %}
{% set credit_fields = "'" ~ tojson({'Status': 'VARCHAR', 'Allocations': 'JSON'}) ~ "'" %}
with invoice_versions as (
    {{ changed_invoice_versions() }}
),

invoice_changes as (
    -- Null when no ledger event differs (a number, currency code or customer without a paid date changed).
    select
        v.tenant_id,
        case when v.o_counts and not coalesce(v.n_counts, false) then date '-infinity' else least(
            case when (v.o_counts, v.o_amount, v.o_issued_on) is distinct from (v.n_counts, v.n_amount, v.n_issued_on)
                then least(v.o_issued_on, v.n_issued_on, s.first_settled_on) end,
            case when (v.o_counts, v.o_amount, v.o_due_on) is distinct from (v.n_counts, v.n_amount, v.n_due_on)
                then least(v.o_due_on, v.n_due_on) end,
            case when v.moved or (v.o_counts, v.o_paid_on, v.o_status, v.o_due_on)
                is distinct from (v.n_counts, v.n_paid_on, v.n_status, v.n_due_on)
                then least(v.o_paid_on, v.n_paid_on) end
        ) end as changed_from
    from invoice_versions as v
    left join (
        select tenant_id, invoice_id, min(settled_on) as first_settled_on
        from {{ ref('int_invoice_settlements') }}
        where (tenant_id, invoice_id) in (select tenant_id, invoice_id from invoice_versions)
        group by all
    ) as s using (tenant_id, invoice_id)
    where coalesce(v.o_counts, false) or coalesce(v.n_counts, false)
),

payment_versions as (
    select
        tenant_id,
        {{ xero_id('o.Invoice.InvoiceID') }} as o_invoice_id,
        {{ xero_id('n.Invoice.InvoiceID') }} as n_invoice_id,
        {{ xero_date_of('o.DateString', 'o.Date') }} as o_paid_on,
        {{ xero_date_of('n.DateString', 'n.Date') }} as n_paid_on
    from (
        select tenant_id,
            json_transform(old_payload, {{ payload_fields('payments') }}) as o,
            json_transform(new_payload, {{ payload_fields('payments') }}) as n
        from {{ ref('int_changed_xero_records') }}
        where stream = 'payments'
    )
),

payment_changes as (
    select
        p.tenant_id,
        least(
            p.o_paid_on,
            p.n_paid_on,
            case when p.o_paid_on <= o.due_date + 7 then o.due_date end,
            case when p.n_paid_on <= n.due_date + 7 then n.due_date end
        ) as changed_from
    from payment_versions as p
    left join {{ ref('stg_xero__invoices') }} as o on o.tenant_id = p.tenant_id and o.invoice_id = p.o_invoice_id
    left join {{ ref('stg_xero__invoices') }} as n on n.tenant_id = p.tenant_id and n.invoice_id = p.n_invoice_id
),

credit_changes as (
    {% for entity in ['credit_notes', 'overpayments', 'prepayments'] %}
    select c.tenant_id, {{ xero_date('a.allocation', 'Date') }} as changed_from
    from ({{ relevantly_changed('xero', entity, credit_fields, since_ts) }})
        as c,
        unnest(
            {{ allocation_list("c.old_payload -> 'Allocations'") }}
            || {{ allocation_list("c.new_payload -> 'Allocations'") }}
        ) as a (allocation)
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

as_of_moved as (
    select tenant_id, {{ previous_as_of }} + 1 as changed_from
    from (select distinct tenant_id from {{ ref('int_sales_invoices') }})
    where {{ previous_as_of }} < {{ as_of_date() }}
    union all
    select tenant_id, settled_on
    from {{ ref('int_invoice_settlements') }}
    where {{ reached_since_last_build('invoice_date') }}
),

touched as (
    select tenant_id, changed_from from invoice_changes
    union all
    select tenant_id, changed_from from payment_changes
    union all
    select tenant_id, changed_from from credit_changes
    union all
    select tenant_id, changed_from from as_of_moved
)

select tenant_id, min(changed_from) as recompute_from
from touched
where changed_from is not null
group by all
{% endif %}
