{#-
    int_repeat_late_payers counts each customer's payments in the 12 calendar months up to as_of_date's month. Within
    a month that window starts on the same day, so a customer's figures change only when its invoices do, or when one
    of them is paid on a day the last build had not reached: both put it in int_touched_customers. An incremental
    build in the same month as the last build's as_of_date (run value previous_as_of) recomputes only those customers;
    the first build of a month recomputes every customer (the window's first month moved on).
-#}
{% macro repeat_late_payers_kept() %}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set previous = run_value('previous_as_of') -%}
    {{ return(previous is not none and (previous | string)[:7] == as_of_date_string()[:7]) }}
{% endmacro %}

{# Before the new rows are appended: take away the touched customers' rows, or every row in a new month. #}
{% macro delete_recomputed_late_payers() %}
    {% if is_incremental() %}
    delete from {{ this }} {% if repeat_late_payers_kept() %}where {{ touched_customer_row() }}{% endif %}
    {% endif %}
{% endmacro %}
