{#-
  Xero identifies organisations, contacts, invoices, payments, credit notes and over/prepayments by GUIDs
  (`format: uuid` in its OpenAPI spec). The warehouse keeps them as DuckDB UUIDs, 16 bytes, not 36-character
  strings: at a million invoices that took a full rebuild from 37.3 s to 28.7 s (BENCHMARKS.md, issue 17's
  twenty-sixth pass), every join, window and write downstream being on ids. A strict cast: an id that is not a GUID
  did not come from Xero as it is, and stops the build at the model that read it, naming the value (raw keeps the
  record as sent; ar_radar.warehouse.build says how to find it). DuckDB gives a UUID to Python as uuid.UUID; Python
  reads ids as text (ar_radar.database.frame and rows).
-#}
{% macro xero_id(expr) -%}
    cast({{ expr }} as uuid)
{%- endmacro %}
