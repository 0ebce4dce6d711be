{#-
    The last step of the two daily histories (int_customer_daily_history, int_customer_daily_crm_history): the
    rows of `events` (a stack of each family's daily counts, null where a family has none) summed per customer and
    day, then running totals from the customer's first day to the end of each day. `columns`: (name, kind) pairs in
    table order, kind 'count' (a bigint total), a number of decimals (a rounded total) or 'last' (the last non-null
    value of the day's maximum).
    Doubles, not the HUGEINT/DECIMAL(38) sums DuckDB gives: the running totals are 40 % faster. They are rounded to
    what they add up (cents, VADER's 4 decimals): DuckDB adds a window's doubles in an order that depends on the
    other customers in the table, so unrounded totals could differ in the last bit between a full and an
    incremental build.
-#}
{% macro daily_running_totals(events, columns) %}
select
    tenant_id,
    contact_id,
    activity_date,
    {%- for name, kind in columns %}
    {% if kind == 'count' -%}
    cast(sum({{ name }}) over w as bigint)
    {%- elif kind == 'last' -%}
    last_value({{ name }} ignore nulls) over w
    {%- else -%}
    round(sum({{ name }}) over w, {{ kind }})
    {%- endif %} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from (
    select
        tenant_id,
        contact_id,
        activity_date,
        {%- for name, kind in columns %}
        {% if kind == 'last' -%}
        max({{ name }})
        {%- else -%}
        coalesce(sum(cast({{ name }} as double)), 0)
        {%- endif %} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ events }}
    group by all
) as daily
window w as (partition by tenant_id, contact_id order by activity_date rows between unbounded preceding and current row)
{% endmacro %}
