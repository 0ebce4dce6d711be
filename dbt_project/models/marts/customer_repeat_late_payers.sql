-- The repeat late payers (int_repeat_late_payers: 3+ invoices paid late in the 12 calendar months up to as_of_date's
-- month, and their current run of late payments) with their name and what they owe today. A table rebuilt every
-- day: what they owe follows as_of_date for everyone; it joins a few thousand rows.
select
    w.tenant_id,
    w.contact_id,
    c.contact_name,
    {{ as_of_date() }} as as_of_date,
    w.paid_last_12_months,
    w.paid_late_last_12_months,
    round(w.paid_late_last_12_months / w.paid_last_12_months, 4) as share_paid_late_last_12_months,
    w.avg_days_late_last_12_months,
    w.consecutive_late_payments,
    w.last_late_payment_on,
    coalesce(f.open_amount_base, 0) as open_amount_base,
    coalesce(f.overdue_amount_base, 0) as overdue_amount_base
from {{ ref('int_repeat_late_payers') }} as w
left join {{ ref('stg_xero__contacts') }} as c using (tenant_id, contact_id)
left join {{ ref('customer_risk_features') }} as f using (tenant_id, contact_id)
