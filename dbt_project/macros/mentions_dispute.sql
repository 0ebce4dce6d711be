{#- Words in a HubSpot note or ticket that say an invoice is contested (the one definition: tickets and
    notes both use it, and a dispute ticket naming an invoice holds it in int_invoice_disputes). -#}
{% macro mentions_dispute(text) -%}
    regexp_matches(lower(coalesce({{ text }}, '')),
        'disput|refuse|wrong|incorrect|already paid|overcharg|not received|damaged|queried')
{%- endmacro %}
