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
