{#- Words in a CRM note that signal payment trouble or an unhappy customer. A plain word list keeps the
    warehouse offline and explainable; the scoring stage may add a sentiment model on top. -#}
{% macro negative_tone(text) -%}
    regexp_matches(lower(coalesce({{ text }}, '')),
        'tight|overdue|no reply|unhappy|threat|did not arrive|escalate|frustrat|complain|chase')
{%- endmacro %}
