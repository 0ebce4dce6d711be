{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_invoices() }}"
) }}
-- depends_on: {{ ref('int_touched_customers') }}, {{ ref('int_changed_xero_records') }}
-- One row per sales invoice issued on or before as_of_date: the customer's payment history as known
-- at the start of the issue day (macro customer_history_as_of, shared with customer_risk_features),
-- the invoice's own terms, and its outcome as known on as_of_date in label_* columns. Training reads the
-- features and the labels; nothing in a feature column can come from on or after the issue date.
-- Incremental: a build recomputes the invoices of the customers in int_touched_customers dated from their
-- recompute_from on, and the invoices whose own row changed: changed themselves, or paid since the last build's
-- as_of_date (the labels follow as_of_date; macro recomputed_invoice_row).
with invoices as (
    select
        tenant_id,
        invoice_id,
        invoice_number,
        contact_id,
        customer_key,
        invoice_date,
        due_date,
        currency_code,
        cast(total_base as decimal(18, 2)) as amount_base,
        cast(due_date - invoice_date as integer) as terms_days,
        status,
        fully_paid_on_date,
        days_paid_late
    from {{ ref('int_sales_invoices') }} as i
    where invoice_date <= {{ as_of_date() }}
      and contact_id is not null  -- no customer, no history to learn from (the gate counts such invoices)
      {{ only_recomputed_invoices('i', ref('int_sales_invoices'), keyed=true) }}
),

history as (
    {{ customer_history_as_of('invoices', 'invoice_date') }}
)

select
    h.* exclude (status, fully_paid_on_date, days_paid_late, prior_average_invoice_base),
    round(h.amount_base / nullif(h.prior_average_invoice_base, 0), 4) as amount_vs_customer_average,
    h.fully_paid_on_date is not null and h.fully_paid_on_date <= {{ as_of_date() }} as label_is_paid,
    case when h.fully_paid_on_date <= {{ as_of_date() }} then h.fully_paid_on_date end as label_paid_on,
    case when h.fully_paid_on_date <= {{ as_of_date() }}
        then cast(h.fully_paid_on_date - h.invoice_date as integer) end as label_days_to_pay,
    case when h.fully_paid_on_date <= {{ as_of_date() }}
        then cast(h.fully_paid_on_date - h.due_date as integer) end as label_days_paid_late,
    exists (
        select 1 from {{ ref('int_invoice_disputes') }} as d
        where d.tenant_id = h.tenant_id and d.invoice_id = h.invoice_id
    ) as label_disputed
from history as h
