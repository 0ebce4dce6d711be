{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_restaged_settlements() }}"
) }}
-- depends_on: {{ ref('int_changed_xero_records') }}
-- Every dated amount that settled part of a sales invoice: payments, and allocations of credit notes,
-- overpayments and prepayments. Base currency uses the invoice's own rate, so a settled invoice nets
-- to exactly zero in base currency too (exchange gains and losses are not receivables).
-- Incremental by record: a build takes away and selects again the settlements whose payment or invoice changed
-- (int_changed_xero_records' settlement_fields_changed) or whose credit (source_id) was staged since the last one
-- (macros in changed_records.sql). By customer it rewrote ~1.4M of ~3M rows on a day changing 1 % of the records at
-- a million invoices.
-- The CTEs are not materialized: the incremental select reads `settlements` twice, and each read must get its own
-- filters pushed down to the staged tables (a materialized CTE parsed every payment, 0.7 s at 3M invoices).
-- Each row carries its invoice's dates, so fct_ar_monthly_metrics needs no join of ~3M settlements back to the
-- invoices (~0.6 s of every build at a million invoices); a changed date touches the customer, as any invoice field.
with invoices as (
    select tenant_id, invoice_id, contact_id, customer_key, currency_rate, invoice_date, due_date
    from {{ ref('int_sales_invoices') }}
),

payments as not materialized (
    select tenant_id, invoice_id, payment_id as settlement_id, 'payment' as kind, payment_id as source_id,
        payment_date as settled_on, amount, raw_loaded_at as source_loaded_at
    from {{ ref('stg_xero__payments') }}
    where status <> 'DELETED'
),

credit_sources as not materialized (
    select tenant_id, credit_note_id as source_id, 'credit_note' as kind, allocations, raw_loaded_at
    from {{ ref('stg_xero__credit_notes') }}
    where status not in ('VOIDED', 'DELETED')
    union all
    select tenant_id, overpayment_id, 'overpayment', allocations, raw_loaded_at
    from {{ ref('stg_xero__overpayments') }}
    where status not in ('VOIDED', 'DELETED')
    union all
    select tenant_id, prepayment_id, 'prepayment', allocations, raw_loaded_at
    from {{ ref('stg_xero__prepayments') }}
    where status not in ('VOIDED', 'DELETED')
),

allocations as not materialized (
    -- In the select list, not a lateral join: DuckDB joins a lateral unnest back to its input on the whole list, so
    -- it unnested every credit's allocations even for a build that keeps none (0.14 s against 0.02 s for the 59k
    -- allocations at 3M invoices, the same rows; generate_subscripts numbers them as `with ordinality` did).
    select
        tenant_id,
        kind,
        source_id,
        raw_loaded_at,
        unnest({{ allocation_list('allocations') }}) as allocation,
        generate_subscripts({{ allocation_list('allocations') }}, 1) as position
    from credit_sources
),

allocated as not materialized (
    select
        tenant_id,
        {{ allocation_invoice_id('allocation') }} as invoice_id,
        -- Xero's AllocationID; without one (older allocations) a GUID made from the credit and the position
        coalesce(
            {{ xero_id("allocation ->> 'AllocationID'") }}, cast(md5(cast(source_id as varchar) || '#' || position) as uuid)
        ) as settlement_id,
        kind,
        source_id,
        {{ xero_date('allocation', 'Date') }} as settled_on,
        try_cast(allocation ->> 'Amount' as decimal(18, 2)) as amount,
        raw_loaded_at as source_loaded_at
    from allocations
    where coalesce(try_cast(allocation ->> 'IsDeleted' as boolean), false) = false
),

settlements as not materialized (
    select * from payments
    union all
    select * from allocated
),

{% if is_incremental() and run_value('changed_since') is not none %}
{% set since = changed_since_ts() %}
recomputed as (
    -- The changed sources' settlements: staged since, so the staged tables' zone maps skip all older rows.
    select * from settlements
    where source_loaded_at > {{ since }}
      and (tenant_id, kind, source_id) in ({{ restaged_settlement_sources() }})
    union all
    -- The changed invoices' other settlements (none read on most days: DuckDB skips an empty semi join's input).
    select * from settlements
    where (tenant_id, invoice_id) in ({{ restaged_settlement_invoices() }})
      and not coalesce(source_loaded_at > {{ since }}
          and (tenant_id, kind, source_id) in ({{ restaged_settlement_sources() }}), false)
)
{% else %}
recomputed as (
    select * from settlements
)
{% endif %}

select
    s.tenant_id,
    s.invoice_id,
    i.contact_id,
    i.customer_key,
    s.settlement_id,
    s.kind,
    s.source_id,
    s.settled_on,
    s.amount,
    -- Unrounded: sums round once, so an organisation's total reconciles to the cent.
    s.amount / nullif(i.currency_rate, 0) as amount_base,
    i.invoice_date,
    i.due_date
from recomputed as s
inner join invoices as i using (tenant_id, invoice_id)
