{#-
  Rows whose combination of `columns` is not unique (dbt_utils' test without the package).
  touched_customers_only: for the models an incremental build recomputes per customer (macro
  delete_touched_customers). The rows of the other customers are the last build's, whose tests passed, so a
  repeated key must include a row of a touched customer (or one without a customer, rebuilt every time): on an
  incremental build only the keys found among those rows are counted, still over the whole table, so a key
  repeated across a touched and an untouched customer is caught. At a million invoices this is most of the
  ~2 s these tests took on a day that touched no customer. A full build checks every key.
-#}
{% test unique_combination(model, columns, touched_customers_only=false) %}
{#- The ref outside the branch: dbt's parser, which does not render it, records the dependency from here. -#}
{%- if touched_customers_only -%}{%- do ref('int_touched_customers') -%}{%- endif -%}
{%- set key = columns | join(', ') -%}
select {{ key }}, count(*) as n
from {{ model }}
{% if touched_customers_only and run_value('changed_since') is not none %}
where ({{ key }}) in (
    select {{ key }} from {{ model }} where {{ touched_customer_row(with_no_customer=true) }})
{% endif %}
group by {{ key }}
having count(*) > 1
{% endtest %}
