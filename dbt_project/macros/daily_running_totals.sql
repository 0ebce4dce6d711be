{#-
    The last step of the two daily histories (int_customer_daily_history, int_customer_daily_crm_history): the rows
    of the CTEs named in `families` (each family's daily counts), stacked by column name (null where a family has
    none) and summed per customer and day, then running totals from the customer's first day to the end of each day.
    `columns`: (name, kind) pairs in table order, kind 'count' (a bigint total), a number of decimals (a rounded
    total) or 'last' (the last non-null value of the day's maximum). In an incremental build only the days from each
    touched customer's recompute_from on (int_touched_customers), whose totals go on from the customer's last row
    kept in the model's table (the rows from recompute_from on were taken away first, macro delete_recomputed_days).
    Doubles, not the HUGEINT/DECIMAL(38) sums DuckDB gives: the running totals are 40 % faster. They are rounded to
    what they add up (cents, VADER's 4 decimals): DuckDB adds a window's doubles in an order that depends on the
    other customers in the table, so unrounded totals could differ in the last bit between a full and an incremental
    build. For the same reason a total continued from a kept row (already rounded) rounds as the full build's: what
    is added up is whole cents (or VADER's 4 decimals).
-#}
{% macro daily_running_totals(families, columns) %}
{%- set continue_from = this if is_incremental() else none %}
select
    d.tenant_id,
    d.contact_id,
    {{ customer_key('d') }} as customer_key,
    d.activity_date,
    {%- for name, kind in columns %}
    {%- set kept = 'coalesce(k.' ~ name ~ ', 0) + ' if continue_from is not none else '' %}
    {% if kind == 'count' -%}
    cast({{ kept }}sum(d.{{ name }}) over w as bigint)
    {%- elif kind == 'last' -%}
    {{ 'coalesce(' if continue_from is not none }}last_value(d.{{ name }} ignore nulls) over w
    {{- ', k.' ~ name ~ ')' if continue_from is not none }}
    {%- else -%}
    round({{ kept }}sum(d.{{ name }}) over w, {{ kind }})
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
    from (
        {%- for family in families %}
        {{ 'union all by name ' if not loop.first }}select * from {{ family }}
        {%- endfor %}
    ) as e
    where true {{ only_recomputed_days('e', 'activity_date') if continue_from is not none }}
    group by all
) as d
{% if continue_from is not none %}
left join (
    -- each recomputed customer's last row kept (dated before its recompute_from): the totals to go on from
    select tenant_id, contact_id,
        arg_max(columns(* exclude (tenant_id, contact_id, customer_key, activity_date)), activity_date)
    from {{ continue_from }}
    where {{ touched_customer_row(keyed=true) }}
    group by all
) as k using (tenant_id, contact_id)
{% endif %}
window w as (partition by d.tenant_id, d.contact_id order by d.activity_date rows between unbounded preceding and current row)
{% endmacro %}
