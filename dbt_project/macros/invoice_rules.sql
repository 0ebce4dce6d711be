{#- The one definition of an invoice that counts for AR (int_sales_invoices): a sale (ACCREC), authorised or paid
    (not draft, submitted, voided or deleted). int_touched_customers applies it to a changed invoice's two
    versions. -#}
{% macro is_sales_invoice(invoice_type, status) -%}
    ({{ invoice_type }} = 'ACCREC' and upper({{ status }}) in ('AUTHORISED', 'PAID'))
{%- endmacro %}

{#- An invoice falls overdue if it is not fully paid by the end of its due date plus var grace_days (default 0), the
    same grace that makes a payment late: an invoice paid late is one that fell overdue, so the overdue count (those
    fallen overdue less those paid late) never keeps an invoice paid within the grace (int_customer_daily_history's
    overdue rows, dated by its grace_end; int_touched_customers compares it between an invoice's two versions). -#}
{% macro falls_overdue(fully_paid_on, due_on) -%}
    ({{ fully_paid_on }} is null or {{ fully_paid_on }} > {{ grace_end(due_on) }})
{%- endmacro %}

{#- The last day an invoice can be paid without falling overdue: its due date plus var grace_days. -#}
{% macro grace_end(due_on) -%}
    {{ due_on }}{{ ' + ' ~ var('grace_days') if var('grace_days') != 0 }}
{%- endmacro %}
