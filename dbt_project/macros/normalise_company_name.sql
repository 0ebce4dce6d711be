{#- lower case, punctuation out, legal suffixes (ltd, limited, llp, plc, inc, co, group) out. -#}
{% macro normalise_company_name(expr) -%}
    trim(regexp_replace(
        regexp_replace(lower(coalesce({{ expr }}, '')), '[^a-z0-9 ]', ' ', 'g'),
        '\b(ltd|limited|llp|plc|inc|co|group|holdings)\b|\s+', ' ', 'g'
    ))
{%- endmacro %}
