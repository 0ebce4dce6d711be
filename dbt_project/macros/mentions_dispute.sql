{#- Words in a HubSpot note or ticket that say an invoice is contested (the one definition, var dispute_words:
    tickets and notes both use it, a dispute ticket naming an invoice holds it in int_invoice_disputes, and the
    last-moment check before a reminder is sent reads the same var). -#}
{% macro mentions_dispute(text) -%}
    regexp_matches(lower(coalesce({{ text }}, '')), '{{ var("dispute_words") }}')
{%- endmacro %}
