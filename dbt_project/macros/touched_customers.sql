{#-
    Incremental customer models: a build with changed_since (macro run_value: the previous finished build's raw
    watermark) recomputes only the customers in int_touched_customers, each from its recompute_from day on; every
    other row is kept as it is. A model using these has `-- depends_on:`
    int_touched_customers (the ref below sits inside is_incremental(), which dbt's parser does not see).
-#}

{# Before an incremental model keyed by customer computes its touched customers again: take away their rows (a
   customer no longer in the model must go too). #}
{% macro delete_touched_customers() %}
    {% if is_incremental() %}
    delete from {{ this }} as kept where {{ touched_customer_row('kept', keyed=true) }}
    {% endif %}
{% endmacro %}

{# Before the model's new rows are appended: take away the touched customers' rows dated (`date_column`) on or after
   their recompute_from. A join (delete ... using), not recomputed_day_row's `exists`: DuckDB plans a correlated
   `exists` with an inequality as a join on every distinct key of the table (at 3M invoices 1.8 s to delete a few
   hundred of int_customer_daily_history's 8M rows; the join takes 0.1 s). #}
{% macro delete_recomputed_days(date_column) %}
    {% if is_incremental() %}
    delete from {{ this }} as kept
    using {{ ref('int_touched_customers') }} as t
    where {{ recomputed_day_match('t', 'kept', date_column) }}
    {% endif %}
{% endmacro %}

{# A filter for an input CTE (tenant_id and contact_id columns, optionally qualified): touched customers only.
   keyed: the input has a customer_key column (macro customer_key). #}
{% macro only_touched_customers(alias=none, keyed=false) %}
    {%- if is_incremental() -%}
    and {{ touched_customer_row(alias, keyed) }}
    {%- endif -%}
{% endmacro %}

{# The same, for rows dated (`date_column` of `alias`) on or after their customer's recompute_from. #}
{% macro only_recomputed_days(alias, date_column) %}
    {%- if is_incremental() -%}
    and {{ recomputed_day_row(alias, date_column) }}
    {%- endif -%}
{% endmacro %}

{# The condition both use (and the generic test unique_combination): a row of a touched customer, optionally
   qualified by `alias`. keyed: the rows carry customer_key, which is matched first (see macro customer_key). #}
{% macro touched_customer_row(alias=none, keyed=false) %}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {%- if keyed %}({{ touched_customer_key(alias) }} and {% endif -%}
    (({{ prefix }}tenant_id, {{ prefix }}contact_id) in (
        select tenant_id, contact_id from {{ ref('int_touched_customers') }}))
    {%- if keyed %}){% endif -%}
{%- endmacro %}

{#
    A customer's key: a 64-bit hash of (tenant_id, contact_id), stored in the big per-customer tables
    (int_sales_invoices, int_invoice_settlements, the two daily histories) and in int_touched_customers. Finding a
    few hundred touched customers' rows among millions by this one integer is ~5x faster than by the two strings (at
    3M invoices 0.03 s instead of 0.13 s over int_sales_invoices): DuckDB pushes the integer semi join into the scan.
    Always paired with the exact (tenant_id, contact_id) condition, so a collision costs time, never a row. The
    stored keys must come from the same hash as today's: a DuckDB upgrade makes the next build a full rebuild
    (ar_radar.warehouse.build.project_hash).
#}
{% macro customer_key(alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    hash({{ prefix }}tenant_id, {{ prefix }}contact_id)
{%- endmacro %}

{# The key's half of a keyed filter (touched_customer_row, recomputed_invoice_row): `alias`'s customer_key is a
   touched customer's. #}
{% macro touched_customer_key(alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {{ prefix }}customer_key in (select customer_key from {{ ref('int_touched_customers') }})
{%- endmacro %}

{# A row of a touched customer dated on or after the customer's recompute_from. A correlated `exists`: only for small
   inputs (daily_running_totals' events of the touched customers); on a whole table, join int_touched_customers
   instead (delete_recomputed_days, recomputed_invoice_row). #}
{% macro recomputed_day_row(alias, date_column) %}
    exists (
        select 1 from {{ ref('int_touched_customers') }} as t
        where {{ recomputed_day_match('t', alias, date_column) }})
{%- endmacro %}

{# The condition itself, between a row of int_touched_customers (`touched`) and a dated row (`alias`). #}
{% macro recomputed_day_match(touched, alias, date_column) -%}
    {{ touched }}.tenant_id = {{ alias }}.tenant_id and {{ touched }}.contact_id = {{ alias }}.contact_id
    and {{ alias }}.{{ date_column }} >= {{ touched }}.recompute_from
{%- endmacro %}

{#
    invoice_features_history's rows recomputed: a touched customer's invoices dated on or after its recompute_from
    (their features read the history before that date), and the invoices whose own row can change without any
    history row changing: changed on a field the customer models read (int_changed_xero_records), or paid after the
    last build's as_of_date (the labels follow as_of_date). Their customers are touched too (int_touched_customers),
    so the unique test's touched_customers rule still counts their keys.
    `relation` is the table `alias` reads (the model itself for the delete, int_sales_invoices for the select): the
    touched customers' invoices are found by a join on it, not by recomputed_day_row's correlated `exists`, which
    DuckDB plans as a join on every distinct (customer, date) of the table (at 3M invoices 0.4-0.5 s each for the
    delete and the select on a day that touched no customer; the join takes 0.02 s). Both tables hold one row per
    invoice, with no null invoice_id (invoice_features_history's not_null test). keyed: `relation` (and so `alias`)
    carries customer_key (both tables do), matched first, inside and out: every invoice recomputed is a touched
    customer's (an invoice moved to another customer: both), so only their rows meet the string keys (at 3M invoices /
    30 years the select 0.64 -> 0.51 s, the same rows).
#}
{% macro recomputed_invoice_row(alias, relation, keyed=false) %}
    {% if keyed %}{{ touched_customer_key(alias) }} and {% endif -%}
    ({{ alias }}.tenant_id, {{ alias }}.invoice_id) in (
        select x.tenant_id, x.invoice_id from {{ relation }} as x
        inner join {{ ref('int_touched_customers') }} as t on {{ recomputed_day_match('t', 'x', 'invoice_date') }}
        {%- if keyed %}
        where {{ touched_customer_key('x') }}
        {%- endif %}
        {%- if run_value('changed_since') is not none %}
        union all
        select tenant_id, record_id from {{ ref('int_changed_xero_records') }}
        where stream = 'invoices' and customer_fields_changed
        union all
        select tenant_id, invoice_id from {{ ref('int_sales_invoices') }}
        where {{ reached_since_last_build('fully_paid_on_date') }}
        {%- endif %})
{%- endmacro %}

{# A date after the last build's as_of_date (run value previous_as_of) and on or before this build's: the invoice
   spine and the labels of invoice_features_history follow as_of_date, so what such a date reached is recomputed.
   Needs changed_since (previous_as_of comes with it). #}
{% macro reached_since_last_build(date_column) -%}
    ({{ date_column }} > {{ previous_as_of_date() }} and {{ date_column }} <= {{ as_of_date() }})
{%- endmacro %}

{% macro delete_recomputed_invoices() %}
    {% if is_incremental() %}
    delete from {{ this }} as kept where {{ recomputed_invoice_row('kept', this, keyed=true) }}
    {% endif %}
{% endmacro %}

{% macro only_recomputed_invoices(alias, relation, keyed=false) %}
    {%- if is_incremental() -%}
    and {{ recomputed_invoice_row(alias, relation, keyed) }}
    {%- endif -%}
{% endmacro %}
