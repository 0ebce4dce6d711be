{#- The one definition of an invoice that counts for AR (int_sales_invoices): a sale (ACCREC), authorised or paid
    (not draft, submitted, voided or deleted). int_touched_customers applies it to a changed invoice's two
    versions. -#}
{% macro is_sales_invoice(invoice_type, status) -%}
    ({{ invoice_type }} = 'ACCREC' and upper({{ status }}) in ('AUTHORISED', 'PAID'))
{%- endmacro %}

{#- An invoice fell overdue on its due date if it was not fully paid by the end of it (int_customer_daily_history's
    overdue rows; int_touched_customers compares it between an invoice's two versions). -#}
{% macro falls_overdue(fully_paid_on, due_on) -%}
    ({{ fully_paid_on }} is null or {{ fully_paid_on }} > {{ due_on }})
{%- endmacro %}
