"""Every figure of the weekly report, per organisation, from the warehouse (each query over all organisations at
once: the report for 200 costs about what it costs for one).

The report is for a day ``as_of`` (the Monday it is sent): "now" is the warehouse's own day (``fct_ar_aging``) and
that day's scores; "this week" is the 7 days before ``as_of``. Amounts are in each organisation's base currency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb

from ar_radar import database
from ar_radar.actions.cases import ACTIONS, customer_cases

TOP = 10  # customers and invoices listed per section


@dataclass
class WeeklyReport:
    tenant_id: str
    organisation_name: str
    base_currency: str
    as_of: date  # the report's day
    data_as_of: date  # the warehouse's day (the last daily build)
    week_start: date
    week_end: date
    outstanding: float = 0.0
    overdue: float = 0.0
    open_invoices: int = 0
    buckets: dict[str, list[dict]] = field(default_factory=dict)  # scheme -> [{bucket, amount, invoices}]
    top_overdue: list[dict] = field(default_factory=list)
    owner_review: list[dict] = field(default_factory=list)
    repeat_late: list[dict] = field(default_factory=list)
    expected_this_week: dict = field(default_factory=dict)
    disputed: list[dict] = field(default_factory=list)
    next_actions: list[dict] = field(default_factory=list)
    reminders: dict = field(default_factory=dict)
    monthly: list[dict] = field(default_factory=list)
    started_on: date | None = None
    forecast: dict | None = None
    weekly_cash: list[dict] = field(default_factory=list)
    holdout: dict | None = None
    health: dict = field(default_factory=dict)
    summary: str = ""
    summary_writer: str = "template"  # or "model:<name>"
    summary_fallback: str | None = None  # why the model's paragraph was not used


def _by_tenant(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row.pop("tenant_id"), []).append(row)
    return grouped


def latest_scored_day(con: duckdb.DuckDBPyConnection, on_or_before: date) -> date | None:
    if not database.has_table(con, "scoring.invoice_risk_scores"):
        return None
    return con.execute(
        "select max(as_of_date) from scoring.invoice_risk_scores where as_of_date <= ?", [on_or_before]
    ).fetchone()[0]


# Every organisation with a record or an invoice (a missing organisation record still gets its report).
ORGANISATIONS = """
    with invoiced as (select tenant_id, any_value(base_currency) as base_currency from marts.fct_ar_aging group by 1)
    select tenant_id, o.organisation_name, coalesce(o.base_currency, i.base_currency) as base_currency
    from staging.stg_xero__organisations o full join invoiced i using (tenant_id)
    order by o.organisation_name, tenant_id
"""
TOTALS = """
    select tenant_id, any_value(as_of_date) as data_as_of, count(*) as open_invoices,
           round(sum(amount_due_base), 2) as outstanding,
           round(coalesce(sum(amount_due_base) filter (where days_overdue > 0), 0), 2) as overdue
    from marts.fct_ar_aging where amount_due_base > 0 group by tenant_id
"""
# Every bucket of both schemes (seed aging_buckets), also the empty ones, in the seed's order.
BUCKETS = """
    with open as (
        select tenant_id, days_overdue, amount_due_base from marts.fct_ar_aging where amount_due_base > 0
    )
    select t.tenant_id, b.scheme, b.bucket, b.sort_order,
           round(coalesce(sum(o.amount_due_base), 0), 2) as amount, count(o.days_overdue) as invoices
    from (select distinct tenant_id from open) t
    cross join reference.aging_buckets b
    left join open o on o.tenant_id = t.tenant_id
        and o.days_overdue between b.min_days_overdue and b.max_days_overdue
    group by all order by t.tenant_id, b.scheme, b.sort_order
"""
TOP_OVERDUE = f"""
    select tenant_id, contact_id, any_value(contact_name) as customer, round(sum(amount_due_base), 2) as overdue,
           count(*) as invoices, max(days_overdue) as oldest_days_overdue
    from marts.fct_ar_aging where days_overdue > 0 and amount_due_base > 0
    group by tenant_id, contact_id
    qualify row_number() over (partition by tenant_id order by sum(amount_due_base) desc, contact_id) <= {TOP}
    order by tenant_id, overdue desc, contact_id
"""
# What each customer had overdue on a past scored day (the trend of the top 10).
OVERDUE_ON = """
    select tenant_id, contact_id, round(sum(amount_due_base), 2) as overdue
    from scoring.invoice_risk_scores where as_of_date = ? and days_overdue > 0 group by all
"""
OWNER_REVIEW = """
    select tenant_id, invoice_number, contact_name as customer, round(amount_due_base, 2) as amount, days_overdue
    from scoring.invoice_risk_scores
    where as_of_date = ? and reminder_tier = 'owner_review' and dispute_ticket_id is null
    order by tenant_id, amount_due_base desc, invoice_number
"""
DISPUTED = """
    select s.tenant_id, s.invoice_number, s.contact_name as customer, round(s.amount_due_base, 2) as amount,
           s.days_overdue, s.dispute_ticket_id as ticket, any_value(d.ticket_subject) as ticket_subject
    from scoring.invoice_risk_scores s
    left join intermediate.int_invoice_disputes d
        on d.tenant_id = s.tenant_id and d.invoice_id = s.invoice_id and d.ticket_id = s.dispute_ticket_id
    where s.as_of_date = ? and s.dispute_ticket_id is not null
    group by all order by s.tenant_id, amount desc, s.invoice_number
"""
REPEAT_LATE = f"""
    select tenant_id, contact_name as customer, paid_late_last_12_months as paid_late, paid_last_12_months as paid,
           share_paid_late_last_12_months as share_late, consecutive_late_payments as in_a_row,
           round(overdue_amount_base, 2) as overdue
    from marts.customer_repeat_late_payers
    qualify row_number() over (partition by tenant_id order by paid_late_last_12_months desc, contact_id) <= {TOP}
    order by tenant_id, paid_late desc, customer
"""
# Invoices the scores expect paid in the coming week (predicted date), and the amount-weighted chance of payment
# within 7 days (scoring.cash_forecast's figure).
EXPECTED = """
    select tenant_id,
           count(*) filter (where predicted_payment_date between ? and ?) as invoices,
           round(coalesce(sum(amount_due_base) filter (where predicted_payment_date between ? and ?), 0), 2)
               as amount,
           round(sum(paid_within_7d * amount_due_base), 2) as weighted_7d
    from scoring.invoice_risk_scores where as_of_date = ? group by tenant_id
"""
MONTHLY = """
    select tenant_id, month_start, is_complete_month, dso_standard_days, dso_countback_days, cei_percent,
           ar_overdue_percent, collected_within_7_days_of_due_percent
    from marts.fct_ar_monthly_metrics where month_start >= ? order by tenant_id, month_start
"""
# The forecast made on a scored day against what was then paid in the 7 days from it, on the invoices it scored.
FORECAST = """
    with scored as (
        select tenant_id, invoice_id, amount_due_base, paid_within_7d
        from scoring.invoice_risk_scores where as_of_date = ?
    ),
    paid as (
        select tenant_id, invoice_id, sum(amount_base) as paid
        from intermediate.int_invoice_settlements
        where kind = 'payment' and settled_on between ? and ? group by all
    )
    -- least() skips nulls: an unpaid invoice must count 0, not its amount.
    select s.tenant_id, round(sum(s.paid_within_7d * s.amount_due_base), 2) as expected,
           round(sum(least(coalesce(p.paid, 0), s.amount_due_base)), 2) as collected, count(*) as invoices,
           count(p.paid) as invoices_paid
    from scored s left join paid p using (tenant_id, invoice_id) group by s.tenant_id
"""
COLLECTED = """
    select tenant_id, round(coalesce(sum(amount_base), 0), 2) as collected
    from intermediate.int_invoice_settlements where kind = 'payment' and settled_on between ? and ? group by all
"""


def _no_reminders() -> dict:
    return {"drafted": 0, "approved": 0, "sent": 0, "failed": 0, "skipped": 0, "skip_reasons": []}


def _reminders(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, dict]:
    """Per organisation: customer emails drafted, approved (by a person or the auto-send rule), sent, failed and
    skipped in the week, the skips grouped by reason."""
    found: dict[str, dict] = {}

    def entry(tenant: str) -> dict:
        return found.setdefault(tenant, _no_reminders())

    if database.has_table(con, "outreach.reminder_drafts"):
        for tenant, n in con.execute(
            "select tenant_id, count(*) from outreach.reminder_drafts where as_of_date between ? and ? "
            "and tone in ('light', 'direct', 'upcoming') group by all",
            [start, end],
        ).fetchall():
            entry(tenant)["drafted"] = n
    if database.has_table(con, "outreach.reminder_log"):
        # A re-run logs a skip again: each customer and day counts once, at its last word.
        rows = con.execute(
            """select tenant_id, status, reason, approval from outreach.reminder_log
               where as_of_date between ? and ? and status <> 'duplicate'
               qualify row_number() over (partition by tenant_id, contact_id, as_of_date order by
                   case status when 'sent' then 0 when 'sending' then 1 when 'failed' then 2 else 3 end,
                   logged_at desc) = 1""",
            [start, end],
        ).fetchall()
        reasons: dict[str, dict[str, int]] = {}
        for tenant, status, reason, approval in rows:
            e = entry(tenant)
            if status == "sent":
                e["sent"] += 1
            elif status == "failed":
                e["failed"] += 1
            elif status == "skipped":
                e["skipped"] += 1
                kind = skip_reason(reason or "")
                reasons.setdefault(tenant, {})[kind] = reasons.get(tenant, {}).get(kind, 0) + 1
            if approval in ("send", "auto") and not (reason or "").startswith("excluded by the reviewer"):
                e["approved"] += 1
        for tenant, counts in reasons.items():
            entry(tenant)["skip_reasons"] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return found


SKIP_KINDS = (
    ("changed in Xero", "paid or changed in Xero before sending"),
    ("HubSpot ticket", "disputed in HubSpot after drafting"),
    ("HubSpot note", "disputed or promised in HubSpot after drafting"),
    ("excluded by the reviewer", "left out by the reviewer"),
    ("the reviewer", "the reviewer sent none"),
    ("no approval", "no approval before the timeout"),
    ("frequency cap", "frequency cap"),
    ("in the holdout", "holdout"),
    ("the customer opted out", "opted out"),
    ("no email address", "no email address"),
)


def skip_reason(reason: str) -> str:
    """A skip's logged reason as one of a few kinds (the log keeps the full text)."""
    for start, kind in SKIP_KINDS:
        if reason.startswith(start):
            return kind
    if "already had" in reason:
        return "reminded 3 times: owner review"
    return "other"


def _next_actions(con: duckdb.DuckDBPyConnection, scored_on: date, tenant_id: str) -> list[dict]:
    """One organisation's cases of the day (actions.cases, the queue's own decision) counted by action (one
    organisation at a time: the cases hold every scored invoice in memory)."""
    found: dict[str, dict] = {}
    for case in customer_cases(con, scored_on, tenant_id):
        row = found.setdefault(
            case.action,
            {"action": ACTIONS[case.action][0], "customers": 0, "amount": 0.0, "priority": ACTIONS[case.action][1]},
        )
        row["customers"] += 1
        row["amount"] = round(row["amount"] + sum(float(i["amount_due_base"]) for i in case.invoices), 2)
    return sorted(found.values(), key=lambda r: r["priority"])


def build_reports(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    health: dict,
    started_on: date | None = None,
    only: set[str] | None = None,
) -> list[WeeklyReport]:
    """One report per organisation (or those in ``only``) for the week before ``as_of`` (``health``:
    gate.history.health_summary of it)."""

    def wanted(tenant: str) -> bool:
        return only is None or tenant in only

    week_start, week_end = as_of - timedelta(days=7), as_of - timedelta(days=1)
    totals = {r.pop("tenant_id"): r for r in database.rows(con, TOTALS)}
    scored_on = latest_scored_day(con, as_of)
    started_on = started_on or _first_day(con)
    reports = []
    buckets = _by_tenant(database.rows(con, BUCKETS))
    top = _by_tenant(database.rows(con, TOP_OVERDUE))
    repeat = _by_tenant(database.rows(con, REPEAT_LATE))
    monthly = _by_tenant(database.rows(con, MONTHLY, [date(as_of.year - 1, as_of.month, 1)]))
    reminders = _reminders(con, week_start, week_end)
    owner_review = disputed = expected = last_week = {}
    forecast: dict = {}
    if scored_on is not None:
        owner_review = _by_tenant(database.rows(con, OWNER_REVIEW, [scored_on]))
        disputed = _by_tenant(database.rows(con, DISPUTED, [scored_on]))
        window = [scored_on, scored_on + timedelta(days=6)]
        expected = {r.pop("tenant_id"): r for r in database.rows(con, EXPECTED, [*window, *window, scored_on])}
        week_ago = latest_scored_day(con, scored_on - timedelta(days=7))
        if week_ago is not None:
            last_week = {
                (r["tenant_id"], r["contact_id"]): r["overdue"] for r in database.rows(con, OVERDUE_ON, [week_ago])
            }
            made = [week_ago, week_ago, week_ago + timedelta(days=6)]
            forecast = {r.pop("tenant_id"): {**r, "made_on": week_ago} for r in database.rows(con, FORECAST, made)}
    weekly_cash = _weekly_cash(con, as_of)
    for org in database.rows(con, ORGANISATIONS):
        tenant = org["tenant_id"]
        if not wanted(tenant):
            continue
        t = totals.get(tenant, {})
        report = WeeklyReport(
            tenant,
            org["organisation_name"] or tenant,
            org["base_currency"] or "",
            as_of,
            t.get("data_as_of") or scored_on or as_of,
            week_start,
            week_end,
            outstanding=float(t.get("outstanding") or 0),
            overdue=float(t.get("overdue") or 0),
            open_invoices=int(t.get("open_invoices") or 0),
            started_on=started_on,
            health=health,
        )
        for row in buckets.get(tenant, []):
            report.buckets.setdefault(row["scheme"], []).append(
                {"bucket": row["bucket"], "amount": float(row["amount"]), "invoices": row["invoices"]}
            )
        for row in top.get(tenant, []):
            before = last_week.get((tenant, row["contact_id"])) if last_week else None
            row["last_week"] = float(before) if before is not None else None
            row["trend"] = _trend(float(row["overdue"]), row["last_week"], bool(last_week))
            report.top_overdue.append(row)
        report.owner_review = owner_review.get(tenant, [])
        report.disputed = disputed.get(tenant, [])
        report.repeat_late = repeat.get(tenant, [])
        report.expected_this_week = expected.get(tenant, {"invoices": 0, "amount": 0.0, "weighted_7d": 0.0})
        report.next_actions = _next_actions(con, scored_on, tenant) if scored_on else []
        report.reminders = reminders.get(tenant, _no_reminders())
        report.monthly = monthly.get(tenant, [])
        report.forecast = forecast.get(tenant)
        report.weekly_cash = weekly_cash.get(tenant, [])
        reports.append(report)
    return reports


def _trend(now: float, before: float | None, known: bool) -> str:
    if not known:
        return "no scores a week ago"
    if before is None:
        return "new this week"
    if now > before:
        return f"up {now - before:,.2f}"
    if now < before:
        return f"down {before - now:,.2f}"
    return "unchanged"


def _first_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day AR Radar started on this warehouse: its first data-health run (else its first scores)."""
    for table, sql in (
        ("ops.data_health_runs", "select min(as_of_date) from ops.data_health_runs"),
        ("scoring.invoice_risk_scores", "select min(as_of_date) from scoring.invoice_risk_scores"),
    ):
        if database.has_table(con, table) and (day := con.execute(sql).fetchone()[0]) is not None:
            return day
    return None


WEEKS_OF_CASH = 8


def _weekly_cash(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, list[dict]]:
    """Per organisation and each of the last 8 weeks (Monday to Sunday before ``as_of``): what the scores of the
    week's first day expected in within 7 days (None without scores that day) and what was collected."""
    weeks = []
    for back in range(WEEKS_OF_CASH, 0, -1):
        start = as_of - timedelta(days=7 * back)
        collected = {
            r["tenant_id"]: float(r["collected"])
            for r in database.rows(con, COLLECTED, [start, start + timedelta(days=6)])
        }
        expected: dict[str, float] = {}
        if database.has_table(con, "scoring.invoice_risk_scores"):
            expected = {t: float(v) for t, v in con.execute(EXPECTED_ON, [start]).fetchall()}
        weeks.append((start, expected, collected))
    tenants = {t for _, e, c in weeks for t in (*e, *c)}
    return {
        tenant: [{"week_start": s, "expected": e.get(tenant), "collected": c.get(tenant, 0.0)} for s, e, c in weeks]
        for tenant in tenants
    }


EXPECTED_ON = """
    select tenant_id, round(sum(paid_within_7d * amount_due_base), 2)
    from scoring.invoice_risk_scores where as_of_date = ? group by all
"""


def as_json(report: WeeklyReport) -> str:
    from dataclasses import asdict

    return json.dumps(asdict(report), default=str, indent=2)
