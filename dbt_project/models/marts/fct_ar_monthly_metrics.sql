-- Collection metrics per organisation and calendar month, from the first invoice month to the month
-- of as_of_date (which is cut at as_of_date and flagged incomplete). Balances are rebuilt from dated
-- events (invoices issued, payments and credit allocations), so past month ends are what they were
-- then, not what the invoices look like today. Base currency at each invoice's own rate.
with invoices as not materialized (
    -- Unrounded, like the settlements: balances round once, so they reconcile to the cent.
    select tenant_id, invoice_id, invoice_date, due_date, total / nullif(currency_rate, 0) as total_base
    from {{ ref('int_sales_invoices') }}
    where invoice_date <= {{ as_of_date() }}
),

settlements as not materialized (
    -- Of the invoices above: each settlement carries its invoice's dates (no join back to the invoices).
    select tenant_id, invoice_id, kind, settled_on, amount_base, due_date
    from {{ ref('int_invoice_settlements') }}
    where settled_on <= {{ as_of_date() }} and invoice_date <= {{ as_of_date() }}
),

-- Each event changes the AR balance and, once the invoice is past due, the overdue balance. An
-- invoice's unpaid remainder becomes overdue the day after its due date; a settlement reduces the
-- overdue balance from the later of its own date and that day.
ledger as (
    select tenant_id, invoice_date as event_date, total_base as ar_change, 0 as overdue_change,
        total_base as credit_sales, 0 as cash_collected, 0 as amount_falling_due, 0 as collected_within_7_days_of_due
    from invoices
    union all
    select tenant_id, settled_on, -amount_base, 0, 0, case when kind = 'payment' then amount_base else 0 end, 0, 0
    from settlements
    union all
    select tenant_id, due_date + 1, 0, total_base, 0, 0, 0, 0
    from invoices
    where due_date + 1 <= {{ as_of_date() }}
    union all
    select tenant_id, greatest(settled_on, due_date + 1), 0, -amount_base, 0, 0, 0, 0
    from settlements
    where due_date + 1 <= {{ as_of_date() }}
    union all
    -- Amount falling due each month (dated by its due date) and how much of it was paid by its due date + 7 days.
    select tenant_id, due_date, 0, 0, 0, 0, total_base, 0
    from invoices
    where due_date <= {{ as_of_date() }}
    union all
    select tenant_id, due_date, 0, 0, 0, 0, 0, amount_base
    from settlements
    where kind = 'payment' and settled_on <= due_date + 7 and due_date <= {{ as_of_date() }}
),

monthly_changes as (
    select
        tenant_id,
        cast(date_trunc('month', event_date) as date) as month_start,
        sum(ar_change) as ar_change,
        sum(overdue_change) as overdue_change,
        sum(credit_sales) as credit_sales,
        sum(cash_collected) as cash_collected,
        sum(amount_falling_due) as amount_falling_due,
        sum(collected_within_7_days_of_due) as collected_within_7_days_of_due
    from ledger
    group by all
),

months as (
    select t.tenant_id, cast(m.month_start as date) as month_start
    from (
        select tenant_id, min(date_trunc('month', invoice_date)) as first_month
        from invoices
        group by all
    ) as t,
        lateral generate_series(
            t.first_month, date_trunc('month', {{ as_of_date() }}), interval 1 month
        ) as m (month_start)
),

balances as (
    select
        m.tenant_id,
        m.month_start,
        least(last_day(m.month_start), {{ as_of_date() }}) as period_end,
        cast(least(last_day(m.month_start), {{ as_of_date() }}) - m.month_start + 1 as integer) as days_in_period,
        last_day(m.month_start) <= {{ as_of_date() }} as is_complete_month,
        coalesce(c.credit_sales, 0) as credit_sales,
        coalesce(c.cash_collected, 0) as cash_collected,
        sum(coalesce(c.ar_change, 0)) over w as ar_end,
        sum(coalesce(c.overdue_change, 0)) over w as overdue_end,
        coalesce(c.amount_falling_due, 0) as amount_falling_due,
        coalesce(c.collected_within_7_days_of_due, 0) as collected_within_7_days_of_due
    from months as m
    left join monthly_changes as c using (tenant_id, month_start)
    window w as (partition by m.tenant_id order by m.month_start rows between unbounded preceding and current row)
),

with_begin as (
    select
        *,
        coalesce(lag(ar_end) over (partition by tenant_id order by month_start), 0) as ar_begin,
        ar_end - overdue_end as current_end
    from balances
),

countback as (
    -- Countback DSO: walk back from the month, eating each month's sales until the balance is used up.
    select
        m.tenant_id,
        m.month_start,
        sum(
            case
                when b.cum_sales <= m.ar_end then b.days_in_period
                when b.cum_sales - b.credit_sales < m.ar_end
                    then (m.ar_end - (b.cum_sales - b.credit_sales)) / b.credit_sales * b.days_in_period
                else 0
            end
        ) as dso_countback_days
    from with_begin as m
    inner join (
        select
            e.tenant_id,
            e.month_start as as_of_month,
            s.month_start,
            s.days_in_period,
            s.credit_sales,
            sum(s.credit_sales) over (
                partition by e.tenant_id, e.month_start order by s.month_start desc
                rows between unbounded preceding and current row
            ) as cum_sales
        from with_begin as e
        inner join with_begin as s
            on s.tenant_id = e.tenant_id and s.month_start <= e.month_start
    ) as b on b.tenant_id = m.tenant_id and b.as_of_month = m.month_start
    group by all
),

late_by_month as (
    select
        tenant_id,
        contact_id,
        cast(date_trunc('month', fully_paid_on_date) as date) as month_start,
        count(*) as late_payments
    from {{ ref('int_sales_invoices') }}
    where days_paid_late > 0 and fully_paid_on_date <= {{ as_of_date() }} and contact_id is not null
    group by all
),

late_payers as (
    -- One number per customer who ever paid late: the window below sorts on it, faster than on two strings.
    select tenant_id, contact_id, row_number() over () as late_payer
    from (select distinct tenant_id, contact_id from late_by_month)
),

late_trailing as (
    -- Late payments in the 12 calendar months up to each month, per customer who ever paid late
    -- (a dense customer x month grid, so months without a late payment still carry the window).
    select
        m.tenant_id,
        m.month_start,
        sum(coalesce(l.late_payments, 0)) over (
            partition by c.late_payer order by m.month_start rows between 11 preceding and current row
        ) as late_payments_12_months
    from months as m
    inner join late_payers as c using (tenant_id)
    left join late_by_month as l using (tenant_id, contact_id, month_start)
),

repeat_late as (
    select tenant_id, month_start, count(*) as repeat_late_payer_count
    from late_trailing
    where late_payments_12_months >= {{ var('repeat_late_min_count', 3) }}
    group by all
)

select
    b.tenant_id,
    b.month_start,
    b.period_end,
    b.days_in_period,
    b.is_complete_month,
    cast(round(b.ar_begin, 2) as decimal(18, 2)) as ar_begin_base,
    cast(round(b.credit_sales, 2) as decimal(18, 2)) as credit_sales_base,
    cast(round(b.cash_collected, 2) as decimal(18, 2)) as cash_collected_base,
    cast(round(b.ar_end, 2) as decimal(18, 2)) as ar_end_base,
    cast(round(b.overdue_end, 2) as decimal(18, 2)) as overdue_end_base,
    cast(round(b.current_end, 2) as decimal(18, 2)) as current_end_base,
    round(b.ar_end / nullif(b.credit_sales, 0) * b.days_in_period, 1) as dso_standard_days,
    round(c.dso_countback_days, 1) as dso_countback_days,
    round(b.current_end / nullif(b.credit_sales, 0) * b.days_in_period, 1) as best_possible_dso_days,
    round((b.ar_end - b.current_end) / nullif(b.credit_sales, 0) * b.days_in_period, 1)
        as average_days_delinquent,
    round(100 * (b.ar_begin + b.credit_sales - b.ar_end)
        / nullif(b.ar_begin + b.credit_sales - b.current_end, 0), 1) as cei_percent,
    round(100 * b.overdue_end / nullif(b.ar_end, 0), 1) as ar_overdue_percent,
    cast(round(b.amount_falling_due, 2) as decimal(18, 2)) as amount_falling_due_base,
    cast(round(b.collected_within_7_days_of_due, 2) as decimal(18, 2)) as collected_within_7_days_of_due_base,
    round(100 * b.collected_within_7_days_of_due / nullif(b.amount_falling_due, 0), 1)
        as collected_within_7_days_of_due_percent,
    coalesce(r.repeat_late_payer_count, 0) as repeat_late_payer_count,
    org.base_currency
from with_begin as b
left join {{ ref('stg_xero__organisations') }} as org using (tenant_id)
left join countback as c using (tenant_id, month_start)
left join repeat_late as r using (tenant_id, month_start)
