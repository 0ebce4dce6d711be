{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_restaged('stg_xero__invoices', ['tenant_id', 'invoice_id']) }}"
) }}
-- Sales invoices that count for AR: ACCREC, not draft, not voided or deleted, with base-currency amounts.
-- Incremental: the invoices staged since the last build are taken away and selected again (macro delete_restaged).
select
    * exclude (record_key),  -- staging's delete key, not an invoice field
    {{ customer_key() }} as customer_key,
    cast(total / nullif(currency_rate, 0) as decimal(18, 2)) as total_base,
    cast(amount_due / nullif(currency_rate, 0) as decimal(18, 2)) as amount_due_base,
    cast(case when status = 'PAID' then fully_paid_on_date - due_date end as integer) as days_paid_late
from {{ ref('stg_xero__invoices') }}
where {{ is_sales_invoice('invoice_type', 'status') }}
  {{ restaged_only() }}
