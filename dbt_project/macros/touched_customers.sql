{#-
    Incremental customer models: a build with changed_since (macro run_value: the previous
    finished build's raw watermark) recomputes only the customers in int_touched_customers; every
    other customer's rows are kept as they are. A model using these has `-- depends_on:` int_touched_customers
    (the ref below sits inside is_incremental(), which dbt's parser does not see).
-#}

{# Before the model's new rows are appended: take away the touched customers' old rows. #}
{% macro delete_touched_customers() %}
    {% if is_incremental() %}
    delete from {{ this }}
    where {{ touched_customer_row() }}
    {% endif %}
{% endmacro %}

{# A filter for an input CTE (tenant_id and contact_id columns, optionally qualified): touched customers only. #}
{% macro only_touched_customers(alias=none) %}
    {%- if is_incremental() -%}
    and {{ touched_customer_row(alias) }}
    {%- endif -%}
{% endmacro %}

{# The condition both use (and the generic test unique_combination): a row of a touched customer, optionally
   qualified by `alias`. #}
{% macro touched_customer_row(alias=none) %}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    (({{ prefix }}tenant_id, {{ prefix }}contact_id) in (
        select tenant_id, contact_id from {{ ref('int_touched_customers') }}))
{%- endmacro %}

{#
    int_customer_matches' pre-hook: before an incremental build replaces the matches, keep the last build's in
    int_customer_matches_before, so int_touched_customers can see whose HubSpot match changed.
#}
{% macro keep_previous_customer_matches() %}
    {% if run_value('changed_since') is not none
        and adapter.get_relation(this.database, this.schema, this.identifier) is not none %}
    create or replace table {{ this.schema }}.int_customer_matches_before as
    select tenant_id, contact_id, hubspot_company_id from {{ this }}
    {% endif %}
{% endmacro %}

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
            arg_max(rowid, struct_pack(e := extracted_at, l := loaded_at)) as new_row,
            arg_max(rowid, struct_pack(e := extracted_at, l := loaded_at)) filter (where loaded_at <= {{ since_ts }})
                as old_row
        from {{ versions }}
        where (tenant_id, record_id) in (select tenant_id, record_id from {{ versions }} where loaded_at > {{ since_ts }})
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

{# A field of the changed records in `changed` (relevantly_changed's rows) as it was and as it is. #}
{% macro in_either_version(changed, json_path, column) %}
    select tenant_id, old_payload {{ json_path }} as {{ column }} from {{ changed }}
    union all
    select tenant_id, new_payload {{ json_path }} from {{ changed }}
{% endmacro %}
