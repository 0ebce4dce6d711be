{#-
    The fields staging parses from the two big Xero streams (json_transform specs, one definition): staging
    parses them, and int_changed_xero_records compares two versions of a record on them, leaving out `without`
    (the fields no model reads), so a new version that changes only those is no change; `only` keeps the named
    top-level fields (macro customer_model_fields).
-#}
{% macro payload_fields(stream, without=[], only=none) %}
    {%- set fields = {
        'invoices': {
            "InvoiceNumber": "VARCHAR", "Type": "VARCHAR", "Status": "VARCHAR",
            "Contact": {"ContactID": "VARCHAR", "Name": "VARCHAR"},
            "Date": "VARCHAR", "DateString": "VARCHAR", "DueDate": "VARCHAR", "DueDateString": "VARCHAR",
            "FullyPaidOnDate": "VARCHAR", "CurrencyCode": "VARCHAR", "CurrencyRate": "VARCHAR",
            "SubTotal": "VARCHAR", "TotalTax": "VARCHAR", "Total": "VARCHAR", "AmountDue": "VARCHAR",
            "AmountPaid": "VARCHAR", "AmountCredited": "VARCHAR", "Reference": "VARCHAR",
            "UpdatedDateUTC": "VARCHAR"
        },
        'payments': {
            "Invoice": {"InvoiceID": "VARCHAR", "Contact": {"ContactID": "VARCHAR"}},
            "PaymentType": "VARCHAR", "Status": "VARCHAR", "Date": "VARCHAR", "DateString": "VARCHAR",
            "Amount": "VARCHAR", "CurrencyRate": "VARCHAR", "UpdatedDateUTC": "VARCHAR"
        }
    }[stream] -%}
    {%- set kept = {} -%}
    {%- for name, kind in fields.items() if name not in without and (only is none or name in only) -%}
        {%- do kept.update({name: kind}) -%}
    {%- endfor -%}
    '{{ tojson(kept) }}'
{%- endmacro %}


{#-
    The fields of the two big Xero streams that the customer models (the two daily histories and
    invoice_features_history, recomputed per customer in int_touched_customers) read, through int_sales_invoices and
    int_invoice_settlements' payment rows: an invoice's customer, number, type, status, dates, currency and total;
    a payment's invoice, status and date. A new version that changes another field (an invoice's AmountDue, a
    payment's Amount: the settlements and the aging read those, every build recomputes them) touches no customer.
-#}
{% macro customer_model_fields(stream) %}
    {{- payload_fields(stream, only={
        'invoices': ['InvoiceNumber', 'Type', 'Status', 'Contact', 'Date', 'DateString', 'DueDate', 'DueDateString',
                     'FullyPaidOnDate', 'CurrencyCode', 'CurrencyRate', 'Total'],
        'payments': ['Invoice', 'Status', 'Date', 'DateString']
    }[stream]) -}}
{%- endmacro %}


{#-
    The fields int_invoice_settlements reads from the two streams: an invoice's customer, dates and rate (and whether
    it is a sales invoice, from Type and Status: macro settlement_fields_changed), a payment's invoice, status, date and
    amount. An invoice paid, or given a new AmountDue or Total, rewrites none of its settlements.
-#}
{% macro settlement_model_fields(stream) %}
    {{- payload_fields(stream, only={
        'invoices': ['Contact', 'Date', 'DateString', 'DueDate', 'DueDateString', 'CurrencyRate'],
        'payments': ['Invoice', 'Status', 'Date', 'DateString', 'Amount']
    }[stream]) -}}
{%- endmacro %}

{# Whether a record's settlements can differ between two of its versions (`old`, `new`: payloads; old null for a new
   record). An invoice's Status matters only as far as it makes the invoice a sales invoice or not (PAID is one). #}
{% macro settlement_fields_changed(stream, old, new) -%}
    ({{ old }} is null
     or json_transform({{ old }}, {{ settlement_model_fields(stream) }})
        is distinct from json_transform({{ new }}, {{ settlement_model_fields(stream) }})
     {%- if stream == 'invoices' %}
     or {{ is_sales_invoice(old ~ " ->> 'Type'", old ~ " ->> 'Status'") }}
        is distinct from {{ is_sales_invoice(new ~ " ->> 'Type'", new ~ " ->> 'Status'") }}
     {%- endif %})
{%- endmacro %}
