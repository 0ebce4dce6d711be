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
    {%- set since_ts = changed_since_ts() -%}
    {%- if since_ts is not none -%}
    and raw_loaded_at > {{ since_ts }}
    {%- endif -%}
{% endmacro %}

{#-
    int_invoice_settlements is incremental by record too, not by customer: a settlement row depends only on its
    source (a payment, or a credit note's, overpayment's or prepayment's allocations) and on its invoice. With
    changed_since, a build takes away and selects again the rows whose payment or invoice changed a field the
    settlements read (int_changed_xero_records' settlement_fields_changed) or whose credit was staged since: a day
    that changes 1 % of the records rewrites ~1 % of the settlements, not every settlement of the customers they
    touch; a day of References, or of invoices paid, rewrites none but the new payments'. Without it (a partial
    build), every row.
    Each condition is a semi join of its own, never two joined by `or`: DuckDB skips a semi join's whole input when
    its list is empty, and cannot when two are or-ed (at 3M invoices a day of new payments deleted in 0.35 s and
    selected in 0.97 s; now 0.003 s and 0.21 s).
-#}
{% macro delete_restaged_settlements() %}
    {% if is_incremental() %}
    delete from {{ this }}
    {% if run_value('changed_since') is not none %}
    where rowid in ({{ restaged_settlement_rows(this) }})
    {% endif %}
    {% endif %}
{% endmacro %}

{# The row ids of the settlements a build takes away (its pre-hook): those of the recomputed sources and invoices
   the last build had (a new payment or invoice has none). #}
{% macro restaged_settlement_rows(relation) %}
    select rowid from {{ relation }}
    where (tenant_id, kind, source_id) in ({{ restaged_settlement_sources(last_build_had=true) }})
    union all
    select rowid from {{ relation }}
    where (tenant_id, invoice_id) in ({{ restaged_settlement_invoices(last_build_had=true) }})
{% endmacro %}

{# The invoices a build's written settlements can belong to, for int_invoice_settlements' unique test: the recomputed
   invoices, and those of every payment and credit allocation staged since (a superset of the recomputed sources').
   A settlement's key holds its invoice, so a key repeated across a written and a kept row is among these invoices'
   rows: one scan of the settlements by invoice, where finding the written rows by source and by invoice first and
   then their keys took three (1.0 s of the day at 3M invoices). A stored load time cannot find the written rows: a
   source whose new version changed only its Reference keeps its rows, so a full rebuild's load time would differ. #}
{% macro restaged_settlement_invoices_written() %}
    {%- set since = changed_since_ts() -%}
    {{ restaged_settlement_invoices() }}
    union all
    select tenant_id, invoice_id from {{ ref('stg_xero__payments') }} where raw_loaded_at > {{ since }}
    {%- for entity in ['credit_notes', 'overpayments', 'prepayments'] %}
    union all
    select tenant_id, {{ allocation_invoice_id('allocation') }}
    from (
        select tenant_id, unnest({{ allocation_list('allocations') }}) as allocation
        from {{ ref('stg_xero__' ~ entity) }}
        where raw_loaded_at > {{ since }}
    )
    {%- endfor %}
{%- endmacro %}

{# A credit's Allocations (a JSON array, or null) as a list of its allocations: empty without any. #}
{% macro allocation_list(allocations) -%}
    cast(coalesce({{ allocations }}, '[]') as json[])
{%- endmacro %}

{# The invoice a credit's allocation (an element of allocation_list) settles. #}
{% macro allocation_invoice_id(allocation) -%}
    {{ xero_id(allocation ~ " -> 'Invoice' ->> 'InvoiceID'") }}
{%- endmacro %}

{# The sources whose settlements are recomputed: (tenant_id, kind, source_id). All of them were staged since the
   last build, so their staged rows have raw_loaded_at after changed_since (the model's select relies on it). #}
{% macro restaged_settlement_sources(last_build_had=false) %}
    {%- set since = changed_since_ts() -%}
    select tenant_id, 'payment', record_id from {{ ref('int_changed_xero_records') }}
    where stream = 'payments' and settlement_fields_changed {{ 'and old_payload is not null' if last_build_had }}
    union all
    select tenant_id, 'credit_note', credit_note_id from {{ ref('stg_xero__credit_notes') }}
    where raw_loaded_at > {{ since }}
    union all
    select tenant_id, 'overpayment', overpayment_id from {{ ref('stg_xero__overpayments') }}
    where raw_loaded_at > {{ since }}
    union all
    select tenant_id, 'prepayment', prepayment_id from {{ ref('stg_xero__prepayments') }}
    where raw_loaded_at > {{ since }}
{%- endmacro %}

{# The invoices all of whose settlements are recomputed: (tenant_id, invoice_id). #}
{% macro restaged_settlement_invoices(last_build_had=false) %}
    select tenant_id, record_id from {{ ref('int_changed_xero_records') }}
    where stream = 'invoices' and settlement_fields_changed {{ 'and old_payload is not null' if last_build_had }}
{%- endmacro %}

{#
    The records of a raw stream with a version loaded after since_ts whose `fields` (a json_transform spec) differ
    from the version the last build had (the newest loaded by then, by latest_versions' order), or that are new:
    tenant_id, record_id, old_payload (null for a new record) and new_payload. The two versions are picked by row id
    first, so only their payloads are read, not every version's (at a million invoices 0.4 s instead of 0.9 s for
    the payments).
#}
{% macro relevantly_changed(source_name, entity, fields, since_ts) %}
    {%- set versions = source(source_name, entity ~ '_versions') -%}
    with picked as (
        select
            tenant_id,
            record_id,
            arg_max(rowid, {{ newest_version_order('rowid') }}) as new_row,
            arg_max(rowid, {{ newest_version_order('rowid') }}) filter (where loaded_at <= {{ since_ts }}) as old_row
        from {{ versions }}
        where rowid in ({{ versions_of_records_loaded_after(versions, since_ts) }}) and record_id is not null
        group by all
    ),

    payloads as (
        select rowid as row_id, payload
        from {{ versions }}
        where rowid in (select new_row from picked union all select old_row from picked)
    )

    select p.tenant_id, p.record_id, o.payload as old_payload, n.payload as new_payload
    from picked as p
    inner join payloads as n on n.row_id = p.new_row
    left join payloads as o on o.row_id = p.old_row
    where o.payload is null
       or json_transform(o.payload, {{ fields }}) is distinct from json_transform(n.payload, {{ fields }})
{% endmacro %}

{#
    Each invoice int_changed_xero_records has with a change on a field the customer models read (every invoice field
    int_organisation_monthly_ledger reads too), as the last build had it (o_*; null if new) and as it is (n_*): what
    each version puts in the dated tables. An invoice counts if
    it is a sales invoice; it is issued on its date, falls due on its due date, is paid on its fully-paid date.
    int_touched_customers (which customer, from which day) and int_touched_organisations (which organisation, from
    which month) read it.
#}
{% macro changed_invoice_versions() %}
    select
        tenant_id,
        invoice_id,
        [{{ xero_id('o.Contact.ContactID') }}, {{ xero_id('n.Contact.ContactID') }}] as contact_ids,
        o.Contact.ContactID is distinct from n.Contact.ContactID as moved,
        {%- for v in ['o', 'n'] %}
        {{ is_sales_invoice(v ~ '.Type', v ~ '.Status') }} as {{ v }}_counts,
        upper({{ v }}.Status) as {{ v }}_status,
        ({{ v }}.Total, {{ v }}.CurrencyRate) as {{ v }}_amount,
        {{ xero_date_of(v ~ '.DateString', v ~ '.Date') }} as {{ v }}_issued_on,
        {{ xero_date_of(v ~ '.DueDateString', v ~ '.DueDate') }} as {{ v }}_due_on,
        cast({{ xero_timestamp(v ~ '.FullyPaidOnDate') }} as date) as {{ v }}_paid_on{{ ',' if loop.first }}
        {%- endfor %}
    from (
        select tenant_id, record_id as invoice_id,
            json_transform(old_payload, {{ customer_model_fields('invoices') }}) as o,
            json_transform(new_payload, {{ customer_model_fields('invoices') }}) as n
        from {{ ref('int_changed_xero_records') }}
        where stream = 'invoices' and customer_fields_changed
    )
{% endmacro %}
