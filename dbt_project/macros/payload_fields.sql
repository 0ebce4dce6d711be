{#-
    The fields staging parses from the two big Xero streams (json_transform specs, one definition): staging
    parses them, and int_touched_customers compares two versions of a record on them, leaving out `without`
    (the fields no customer model reads), so a new version that changes only those touches no customer.
-#}
{% macro payload_fields(stream, without=[]) %}
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
    {%- for name, kind in fields.items() if name not in without -%}
        {%- do kept.update({name: kind}) -%}
    {%- endfor -%}
    '{{ tojson(kept) }}'
{%- endmacro %}
