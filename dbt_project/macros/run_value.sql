{#-
    A value that changes from one build to the next: as_of_date (the day aging is computed for; default today,
    UTC), changed_since (the raw watermark of the last finished build) and previous_as_of (that build's
    as_of_date). ar_radar.warehouse.build passes them as environment variables AR_RADAR_<NAME>, and they are read
    only while dbt executes, never while it parses. Why: dbt reuses its parse of the project while the files and
    the --vars stay the same (partial parsing); a --vars value that changes every day made it parse the whole
    project on every build, ~3 s of each. A --vars value still wins (a hand run; a unit test's overrides).
    Returns `default` when neither is set: every customer counts as touched without changed_since.
    (dbt's Python model int_crm_texts needs none: it reads the texts staged after its own newest one.)
-#}
{% macro run_value(name, default=none) %}
    {%- set given = var(name, none) -%}
    {%- if given is not none -%}
        {{ return(given) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- set value = env_var('AR_RADAR_' ~ (name | upper), '') -%}
    {{ return(value if value != '' else default) }}
{% endmacro %}

{#- changed_since as a SQL timestamptz literal, to compare with raw_loaded_at and loaded_at; none without it. -#}
{% macro changed_since_ts() %}
    {%- set since = run_value('changed_since') -%}
    {{ return(none if since is none else "cast('" ~ since ~ "' as timestamptz)") }}
{% endmacro %}
