{#-
  Xero sends instants as /Date(<milliseconds since epoch>[+-]HHMM)/. The milliseconds are the
  UTC instant (as the xero-python SDK reads them); the offset is informational. Anchored at the start, as the SDK
  matches it: an unanchored search costs 2.6x as much (at 3M payments ~1 s of a full rebuild's staging).
-#}
{% macro xero_timestamp(expr) -%}
    make_timestamp(cast(regexp_extract({{ expr }}, '^/Date\((-?\d+)', 1) as bigint) * 1000)
{%- endmacro %}

{#- Calendar dates: prefer Xero's DateString twin (local date as typed), else the instant's date. -#}
{% macro xero_date(payload, field) -%}
    {{ xero_date_of(payload ~ " ->> '" ~ field ~ "String'", payload ~ " ->> '" ~ field ~ "'") }}
{%- endmacro %}

{#- The same from two already-extracted strings (the DateString twin and the /Date(...)/ value). -#}
{% macro xero_date_of(date_string, date_value) -%}
    coalesce(
        try_cast(left({{ date_string }}, 10) as date),
        cast({{ xero_timestamp(date_value) }} as date)
    )
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_date_string() }}' as date)
{%- endmacro %}

{#- The last finished build's as_of_date (run value previous_as_of; set with changed_since), as SQL. -#}
{% macro previous_as_of_date() -%}
    cast('{{ run_value('previous_as_of') }}' as date)
{%- endmacro %}

{#- The day aging is computed for, as text (YYYY-MM-DD): run value as_of_date, default today (UTC). -#}
{% macro as_of_date_string() -%}
    {{ return(run_value("as_of_date", run_started_at.strftime("%Y-%m-%d")) | string) }}
{%- endmacro %}
