-- Each scheme's buckets, in order, must start below any due date, end above any, and leave no gap
-- or overlap between neighbours. Returns the offending buckets.
with ordered as (
    select
        *,
        lag(max_days_overdue) over (partition by scheme order by min_days_overdue) as previous_max,
        row_number() over (partition by scheme order by min_days_overdue) as position,
        count(*) over (partition by scheme) as buckets
    from {{ ref('aging_buckets') }}
)

select *
from ordered
where (position = 1 and min_days_overdue > -3650)
   or (position = buckets and max_days_overdue < 36500)
   or (position > 1 and min_days_overdue <> previous_max + 1)
   or min_days_overdue > max_days_overdue
