-- Collection metrics per organisation and calendar month, from the first invoice month to the month
-- of as_of_date (which is cut at as_of_date and flagged incomplete). Balances are rebuilt from dated
-- events (int_organisation_monthly_ledger: invoices issued, payments and credit allocations), so past month ends
-- are what they were then, not what the invoices look like today. Base currency at each invoice's own rate.
-- Incremental like the ledger it reads: a build recomputes the organisations in int_touched_organisations from the
-- month of their recompute_from on (a month's row reads only the ledger's months up to it, and those before are
-- kept); their balances and countback still run over all their months. Rebuilt whole, the table cost ~1 s of every
-- daily build at 30 years of history (BENCHMARKS.md). The base currency is not a ledger event: the post-hook
-- sets every kept row's to the organisation's current one.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_recomputed_months() }}",
    post_hook="{{ refresh_base_currency() }}"
) }}
-- depends_on: {{ ref('int_touched_organisations') }}
with recomputed as (
    {{ recomputed_organisations() }}
),

balances as (
    select
        m.tenant_id,
        m.month_start,
        least(last_day(m.month_start), {{ as_of_date() }}) as period_end,
        cast(least(last_day(m.month_start), {{ as_of_date() }}) - m.month_start + 1 as integer) as days_in_period,
        last_day(m.month_start) <= {{ as_of_date() }} as is_complete_month,
        m.credit_sales,
        m.cash_collected,
        sum(m.ar_change) over w as ar_end,
        sum(m.overdue_change) over w as overdue_end,
        m.amount_falling_due,
        m.collected_within_7_days_of_due,
        m.repeat_late_payer_count
        {{- recomputed_month_column('r') }}
    from {{ ref('int_organisation_monthly_ledger') }} as m
    {{ recomputed_organisations_only('m', 'r') }}
    window w as (partition by m.tenant_id order by m.month_start rows between unbounded preceding and current row)
),

with_begin as (
    select
        *,
        coalesce(lag(ar_end) over (partition by tenant_id order by month_start), 0) as ar_begin,
        ar_end - overdue_end as current_end,
        -- the organisation's sales from its first month to the end of this one (countback's walk reads differences)
        sum(credit_sales) over (partition by tenant_id order by month_start rows unbounded preceding) as sales_to_date
    from balances
),

countback as (
    -- Countback DSO: walk back from month m, eating each month's sales until the balance is used up. Before reaching
    -- month s the walk has passed the sales of the months after it (walked_before): month s counts whole while its
    -- sales still fit in ar_end, in part when they pass it, otherwise not at all. Only the months that count are kept
    -- (the filter runs inside the join): a running sum over every pair of a month and an earlier one grew with the
    -- square of the history's months (30 years of 200 organisations: 13M pairs, 7.4 s of a daily build; BENCHMARKS.md).
    select
        tenant_id,
        month_start,
        sum(
            case
                when walked_before + credit_sales <= ar_end then days_in_period
                else (ar_end - walked_before) / credit_sales * days_in_period
            end
        ) as dso_countback_days
    from (
        select m.tenant_id, m.month_start, m.ar_end, s.days_in_period, s.credit_sales,
            m.sales_to_date - s.sales_to_date as walked_before
        from with_begin as m
        inner join with_begin as s on s.tenant_id = m.tenant_id and s.month_start <= m.month_start
        where true {{ from_recomputed_month('m.month_start', 'm.from_month') }}
    ) as walk
    where walked_before + credit_sales <= ar_end or walked_before < ar_end
    group by all
),

cents as (
    -- The amounts as the table shows them, in cents; the ratios are of these. Unrounded, an organisation that collected
    -- everything keeps a balance of +-1e-9 (each event's base amount has 10 decimals), and a ratio of two such
    -- residues is noise: 500 % of nothing overdue (66 organisations after a day that paid every open invoice).
    select
        tenant_id,
        month_start,
        period_end,
        days_in_period,
        is_complete_month,
        cast(round(ar_begin, 2) as decimal(18, 2)) as ar_begin_base,
        cast(round(credit_sales, 2) as decimal(18, 2)) as credit_sales_base,
        cast(round(cash_collected, 2) as decimal(18, 2)) as cash_collected_base,
        cast(round(ar_end, 2) as decimal(18, 2)) as ar_end_base,
        cast(round(overdue_end, 2) as decimal(18, 2)) as overdue_end_base,
        cast(round(current_end, 2) as decimal(18, 2)) as current_end_base,
        cast(round(amount_falling_due, 2) as decimal(18, 2)) as amount_falling_due_base,
        cast(round(collected_within_7_days_of_due, 2) as decimal(18, 2)) as collected_within_7_days_of_due_base,
        repeat_late_payer_count
    from with_begin
    where true {{ from_recomputed_month('month_start', 'from_month') }}
)

select
    b.tenant_id,
    b.month_start,
    b.period_end,
    b.days_in_period,
    b.is_complete_month,
    b.ar_begin_base,
    b.credit_sales_base,
    b.cash_collected_base,
    b.ar_end_base,
    b.overdue_end_base,
    b.current_end_base,
    round(b.ar_end_base / nullif(b.credit_sales_base, 0) * b.days_in_period, 1) as dso_standard_days,
    round(coalesce(c.dso_countback_days, 0), 1) as dso_countback_days,  -- no month reached: 0 days
    round(b.current_end_base / nullif(b.credit_sales_base, 0) * b.days_in_period, 1) as best_possible_dso_days,
    round((b.ar_end_base - b.current_end_base) / nullif(b.credit_sales_base, 0) * b.days_in_period, 1)
        as average_days_delinquent,
    round(100 * (b.ar_begin_base + b.credit_sales_base - b.ar_end_base)
        / nullif(b.ar_begin_base + b.credit_sales_base - b.current_end_base, 0), 1) as cei_percent,
    -- a share of a balance due: none when nothing is due (or the organisation is overpaid)
    case when b.ar_end_base > 0 then round(100 * b.overdue_end_base / b.ar_end_base, 1) end as ar_overdue_percent,
    b.amount_falling_due_base,
    b.collected_within_7_days_of_due_base,
    round(100 * b.collected_within_7_days_of_due_base / nullif(b.amount_falling_due_base, 0), 1)
        as collected_within_7_days_of_due_percent,
    b.repeat_late_payer_count,
    org.base_currency
from cents as b
left join {{ ref('stg_xero__organisations') }} as org using (tenant_id)
left join countback as c using (tenant_id, month_start)
