{#-
    int_organisation_monthly_ledger and fct_ar_monthly_metrics are incremental by organisation and month: a build
    with changed_since recomputes only the organisations in int_touched_organisations, from the month of their
    recompute_from on; every other row is kept as it is. The model's CTE `recomputed` holds each one's first month
    recomputed (from_month).
-#}

{# The CTE `recomputed`: each organisation in int_touched_organisations with its first month recomputed. #}
{% macro recomputed_organisations() %}
    select tenant_id, cast(date_trunc('month', recompute_from) as date) as from_month
    from {{ ref('int_touched_organisations') }}
{% endmacro %}

{# Before the new rows are appended: take away the recomputed months. #}
{% macro delete_recomputed_months() %}
    {% if is_incremental() %}
    delete from {{ this }} as kept
    using {{ ref('int_touched_organisations') }} as t
    where kept.tenant_id = t.tenant_id and kept.month_start >= date_trunc('month', t.recompute_from)
    {% endif %}
{% endmacro %}

{# An input's join to the organisations recomputed (alias `recomputed_alias`); nothing in a full build. #}
{% macro recomputed_organisations_only(alias, recomputed_alias) %}
    {%- if is_incremental() -%}
    inner join recomputed as {{ recomputed_alias }} on {{ recomputed_alias }}.tenant_id = {{ alias }}.tenant_id
    {%- endif -%}
{% endmacro %}

{# That join's first month recomputed, as a column of the input. #}
{% macro recomputed_month_column(recomputed_alias) %}
    {%- if is_incremental() %}, {{ recomputed_alias }}.from_month{% endif -%}
{% endmacro %}

{# A filter on an event's date (`date_expr`): on or after the first month recomputed (or `from_expr`). #}
{% macro from_recomputed_month(date_expr, from_expr='from_month') %}
    {%- if is_incremental() -%}
    and {{ date_expr }} >= {{ from_expr }}
    {%- endif -%}
{% endmacro %}

{# The same against the earliest first month recomputed (`months_before` it), for an input as a whole: it drops the
   rows of the months kept before the join to the organisations recomputed meets them (on a day recomputing this
   month, 1/25 of the bench's events). `date_expr` is the latest date an input row's events fall on. #}
{% macro from_first_recomputed_month(date_expr, months_before=0) %}
    {%- if is_incremental() -%}
    and {{ date_expr }} >= (select cast(min(from_month) - interval {{ months_before }} month as date) from recomputed)
    {%- endif -%}
{% endmacro %}

{# fct_ar_monthly_metrics' post-hook: its kept rows carry the organisation's base currency as it was when they were
   computed; set each to the current one (null for an organisation no longer staged), as a full build has it. #}
{% macro refresh_base_currency() %}
    {% if is_incremental() %}
    update {{ this }} as kept
    set base_currency = org.base_currency
    from (
        select t.tenant_id, o.base_currency
        from (select distinct tenant_id from {{ this }}) as t
        left join {{ ref('stg_xero__organisations') }} as o using (tenant_id)
    ) as org
    where org.tenant_id = kept.tenant_id and kept.base_currency is distinct from org.base_currency
    {% endif %}
{% endmacro %}
