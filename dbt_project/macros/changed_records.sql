{#-
    Incremental models keyed by a staged record (not by customer): with changed_since (macro run_value: the raw
    watermark of the last finished build) a build takes away the rows of the records staged since and appends
    them again as the model now selects them, so a record that no longer qualifies (a voided invoice) goes.
    Without it (a partial build) every row is taken away and rebuilt.
-#}
{% macro delete_restaged(staged_model, key) %}
    {% if is_incremental() %}
    {% set since = run_value('changed_since') %}
    delete from {{ this }}
    {% if since is not none %}
    where ({{ key | join(', ') }}) in (
        select {{ key | join(', ') }} from {{ ref(staged_model) }} where true {{ staged_since_last_build() }})
    {% endif %}
    {% endif %}
{% endmacro %}

{# The filter that goes with it, on the staged model's rows: only those staged since the last finished build. #}
{% macro restaged_only() %}
    {%- if is_incremental() -%}{{ staged_since_last_build() }}{%- endif -%}
{% endmacro %}

{# The condition itself, whatever the materialisation (the snapshot); nothing without changed_since. #}
{% macro staged_since_last_build() %}
    {%- set since = run_value('changed_since') -%}
    {%- if since is not none -%}
    and raw_loaded_at > cast('{{ since }}' as timestamptz)
    {%- endif -%}
{% endmacro %}

{#-
    int_invoice_settlements is incremental by record too, not by customer: a settlement row depends only on its
    source (a payment, or a credit note's, overpayment's or prepayment's allocations) and on its invoice. With
    changed_since, a build takes away and selects again the rows whose payment or invoice changed a field the
    models read (int_changed_xero_records) or whose credit was staged since: a day that changes 1 % of the records
    rewrites ~1 % of the settlements, not every settlement of the customers they touch, and a day that changes only
    References rewrites none. Without it (a partial build), every row.
-#}
{% macro delete_restaged_settlements() %}
    {% if is_incremental() %}
    delete from {{ this }}
    {% if run_value('changed_since') is not none %}where {{ restaged_settlement_row() }}{% endif %}
    {% endif %}
{% endmacro %}

{# The filter that goes with it, on the model's settlements (alias `alias`). #}
{% macro restaged_settlements_only(alias) %}
    {%- if is_incremental() and run_value('changed_since') is not none -%}
    and {{ restaged_settlement_row(alias) }}
    {%- endif -%}
{% endmacro %}

{# The condition both use (and the generic test unique_combination): a settlement whose payment or invoice changed,
   or whose credit was staged, since the last finished build. Needs changed_since. #}
{% macro restaged_settlement_row(alias=none) %}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {%- set since = "cast('" ~ run_value('changed_since') ~ "' as timestamptz)" -%}
    (({{ prefix }}tenant_id, {{ prefix }}kind, {{ prefix }}source_id) in (
        select tenant_id, 'payment', record_id from {{ ref('int_changed_xero_records') }} where stream = 'payments'
        union all
        select tenant_id, 'credit_note', credit_note_id from {{ ref('stg_xero__credit_notes') }}
        where raw_loaded_at > {{ since }}
        union all
        select tenant_id, 'overpayment', overpayment_id from {{ ref('stg_xero__overpayments') }}
        where raw_loaded_at > {{ since }}
        union all
        select tenant_id, 'prepayment', prepayment_id from {{ ref('stg_xero__prepayments') }}
        where raw_loaded_at > {{ since }})
     or ({{ prefix }}tenant_id, {{ prefix }}invoice_id) in (
        select tenant_id, record_id from {{ ref('int_changed_xero_records') }} where stream = 'invoices'))
{%- endmacro %}
