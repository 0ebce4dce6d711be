"""What to do about each customer today: one case per customer, the one decision the queue and the drafts share.

A customer's invoices that need attention today (``scoring.invoice_risk_scores``) are grouped, and each gets a
status: ``chase`` (overdue), ``held_for_dispute`` (named in an open dispute ticket: never chased), ``promised``
(covered by a pending promise to pay: not chased until the promised day plus a grace) or ``upcoming`` (not yet
due, medium or high risk, due within ``UPCOMING_DAYS``).

The action follows the collections tier (seed ``aging_buckets``, column ``reminder_tier``) of the oldest invoice
being chased: ``light_reminder`` (1-7 days), ``direct_reminder`` (8-21), ``escalation_note`` (22-45: an internal
note to the account owner) and ``owner_review`` (45+: never sent without an owner's review). A customer with
nothing to chase is ``hold_for_dispute``, ``await_promise`` or ``upcoming_due``. A broken promise makes the tone one
step firmer (light to direct) and is flagged; a relationship tier (VIP) makes it one step softer. An invoice that
already had ``MAX_REMINDERS_PER_INVOICE`` reminders sent (``outreach.reminder_log``) goes to owner review instead of
another email, whatever its age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb

from ar_radar import database
from ar_radar.actions import promises
from ar_radar.wording import count

UPCOMING_DAYS = 7  # a risky invoice due within a week gets a check-in before its due date
PROMISE_LOOKBACK_DAYS = 30  # promises logged longer ago than this no longer hold anything
SOFTER_TIERS = ("VIP",)  # relationship tiers that soften the tone
MAX_REMINDERS_PER_INVOICE = 3  # after this many emails about one invoice, a person decides what comes next

ACTIONS = {
    # code: (label, priority: lower first)
    "hold_for_dispute": ("Resolve the dispute", 0),
    "owner_review": ("Owner review", 1),
    "escalation_note": ("Ask the account owner", 2),
    "direct_reminder": ("Direct reminder", 3),
    "light_reminder": ("Light reminder", 4),
    "await_promise": ("Await promised payment", 5),
    "upcoming_due": ("Check in before due", 6),
}
ACTION_OF_TIER = {
    "light": "light_reminder",
    "direct": "direct_reminder",
    "escalation_note": "escalation_note",
    "owner_review": "owner_review",
    "upcoming": "upcoming_due",
}
TONE_STEPS = ("light", "direct")  # the customer-facing tones, softest first


@dataclass
class Case:
    tenant_id: str
    contact_id: str
    customer_name: str
    base_currency: str
    invoices: list[dict]  # rows of scoring.invoice_risk_scores, each with "status"; oldest first
    action: str
    reason: str
    reminder_tier: str | None  # the tier of the oldest chased invoice (None: nothing to chase)
    tone: str | None  # light/direct after the promise and relationship adjustments; else the tier itself
    relationship_tier: str | None = None
    language: str | None = None
    country: str | None = None
    emails: list[str] = field(default_factory=list)  # the billing email, then the persons Xero copies
    hubspot_company_id: str | None = None
    promise: dict | None = None  # {note_id, noted_at, promised_for, phrase, status}
    opted_out: bool = False  # no customer reminders (seed, HubSpot property; outreach.opt_outs is Python's)
    flags: list[str] = field(default_factory=list)

    @property
    def chased(self) -> list[dict]:
        return [i for i in self.invoices if i["status"] == "chase"]

    @property
    def oldest_days_overdue(self) -> int:
        return max(int(i["days_overdue"]) for i in self.invoices)


SCORES = """
    select s.*, p.language, p.country, p.relationship_tier, p.billing_emails, p.opted_out
    from scoring.invoice_risk_scores s
    left join marts.customer_outreach_profiles p using (tenant_id, contact_id)
    where s.as_of_date = ? and s.contact_id is not null and (s.tenant_id = ? or ? is null)
    order by s.tenant_id, s.contact_id, s.due_date, s.invoice_number
"""
PROMISES = """
    select m.tenant_id, m.contact_id, p.note_id, p.noted_at, p.promised_for, p.promise_phrase
    from intermediate.int_payment_promises p
    join intermediate.int_customer_matches m on m.hubspot_company_id = p.company_id
    where cast(p.noted_at as date) between ? and ? and (m.tenant_id = ? or ? is null)
    order by p.noted_at
"""


def _latest_promises(
    con: duckdb.DuckDBPyConnection, as_of: date, tenant_id: str | None = None
) -> dict[tuple[str, str], dict]:
    latest: dict[tuple[str, str], dict] = {}
    since = as_of - timedelta(days=PROMISE_LOOKBACK_DAYS)
    for row in database.rows(con, PROMISES, [since, as_of, tenant_id, tenant_id]):
        latest[(row["tenant_id"], row["contact_id"])] = row  # ordered by noted_at: the last one wins
    return latest


def _status(row: dict, promise: dict | None) -> str | None:
    overdue = int(row["days_overdue"])
    if row.get("dispute_ticket_id"):
        return "held_for_dispute"
    if overdue > 0:
        # A pending promise covers what was due by the promised day.
        if promise and promise["status"] == "pending" and row["due_date"] <= promise["promised_for"]:
            return "promised"
        return "chase"
    if row["risk_band"] in ("medium", "high") and -overdue <= UPCOMING_DAYS:
        return "upcoming"
    return None


def _tone(tier: str, broken_promise: bool, softer: bool) -> str:
    if tier not in TONE_STEPS:
        return tier
    step = TONE_STEPS.index(tier) + int(broken_promise) - int(softer)
    return TONE_STEPS[min(max(step, 0), len(TONE_STEPS) - 1)]


def case_for(rows: list[dict], promise: dict | None, reminders_sent: dict[str, int] | None = None) -> Case | None:
    """The case of one customer's scored open invoices (oldest first), or None when nothing is due today.
    ``reminders_sent``: reminders already sent per invoice id."""
    if promise is not None:
        promise = {
            "note_id": promise["note_id"],
            "noted_at": promise["noted_at"],
            "promised_for": promise["promised_for"],
            "phrase": promise["promise_phrase"],
            "status": promise.get("status") or "pending",
        }
    invoices = []
    for row in rows:
        status = _status(row, promise)
        if status is not None:
            invoices.append(
                {**row, "status": status, "reminders_sent": (reminders_sent or {}).get(row["invoice_id"], 0)}
            )
    if not invoices:
        return None
    first = rows[0]
    broken = bool(promise and promise["status"] == "broken")
    softer = (first.get("relationship_tier") or "").upper() in SOFTER_TIERS
    chased = [i for i in invoices if i["status"] == "chase"]
    flags = []
    if chased:
        oldest = max(chased, key=lambda i: int(i["days_overdue"]))
        tier = oldest["reminder_tier"]
        action = ACTION_OF_TIER[tier]
        overdue = count(int(oldest["days_overdue"]), "day")
        reason = f"Oldest unpaid invoice {oldest['invoice_number']} is {overdue} past due"
        reason += f" (tier {oldest['collections_bucket']})."
        tone = _tone(tier, broken, softer)
        worn = [i for i in chased if i["reminders_sent"] >= MAX_REMINDERS_PER_INVOICE]
        if worn and tier != "owner_review":
            tier, tone, action = "owner_review", "owner_review", "owner_review"
            reason = (
                f"{', '.join(i['invoice_number'] for i in worn)} already had {MAX_REMINDERS_PER_INVOICE} reminders "
                f"without payment: a person decides what comes next, not another email. {reason}"
            )
        if broken:
            flags.append(f"broken promise: payment was promised for {promise['promised_for'].isoformat()}")
        if softer and tier in TONE_STEPS and action != "owner_review":
            flags.append(f"relationship tier {first['relationship_tier']}: softer tone")
    elif any(i["status"] == "held_for_dispute" for i in invoices):
        held = [i for i in invoices if i["status"] == "held_for_dispute"]
        tier, tone, action = None, None, "hold_for_dispute"
        tickets = ", ".join(sorted({str(i["dispute_ticket_id"]) for i in held}))
        reason = f"Disputed in HubSpot ticket {tickets}: resolve the dispute before chasing payment."
    elif any(i["status"] == "promised" for i in invoices):
        tier, tone, action = None, None, "await_promise"
        reason = (
            f"Promised payment for {promise['promised_for'].isoformat()} (note {promise['note_id']}): not chased "
            f"until {(promise['promised_for'] + timedelta(days=promises.PROMISE_GRACE_DAYS)).isoformat()}."
        )
    else:
        soonest = min(invoices, key=lambda i: -int(i["days_overdue"]))
        tier, tone, action = "upcoming", "upcoming", "upcoming_due"
        reason = (
            f"{soonest['invoice_number']} is due in {count(-int(soonest['days_overdue']), 'day')} with "
            f"{soonest['risk_band']} risk: check in before the due date."
        )
    if chased and any(i["status"] == "held_for_dispute" for i in invoices):
        flags.append("some invoices are held for a dispute and left out of the reminder")
    if chased and any(i["status"] == "promised" for i in invoices):
        flags.append("some invoices are covered by a promise to pay and left out of the reminder")
    return Case(
        tenant_id=first["tenant_id"],
        contact_id=first["contact_id"],
        customer_name=first["contact_name"],
        base_currency=first["base_currency"],
        invoices=invoices,
        action=action,
        reason=reason,
        reminder_tier=tier,
        tone=tone,
        relationship_tier=first.get("relationship_tier"),
        language=first.get("language"),
        country=first.get("country"),
        emails=list(first.get("billing_emails") or []),
        hubspot_company_id=first.get("hubspot_company_id"),
        promise=promise,
        flags=flags,
        opted_out=bool(first.get("opted_out")),
    )


def reminders_sent(con: duckdb.DuckDBPyConnection, before: date, tenant_id: str | None = None) -> dict[str, int]:
    """Reminders sent per invoice id before a day, of one organisation or all (``outreach.reminder_log``; none in
    a fresh warehouse)."""
    if not database.has_table(con, "outreach.reminder_log"):
        return {}
    found = con.execute(
        """select invoice ->> 'invoice_id', count(*)
           from (select unnest(cast(invoices as json[])) as invoice
                 from outreach.reminder_log
                 where status = 'sent' and as_of_date < ? and (tenant_id = ? or ? is null))
           group by all""",
        [before, tenant_id, tenant_id],
    ).fetchall()
    return dict(found)


def customer_cases(con: duckdb.DuckDBPyConnection, as_of: date, tenant_id: str | None = None) -> list[Case]:
    """Every customer (of one organisation, or of all) with something to do today, most urgent action first."""
    rows = database.rows(con, SCORES, [as_of, tenant_id, tenant_id])
    latest = _latest_promises(con, as_of, tenant_id)  # one organisation's only, when asked for one
    sent = reminders_sent(con, as_of, tenant_id)
    by_customer: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_customer.setdefault((row["tenant_id"], row["contact_id"]), []).append(row)
    cases = []
    for key, own in by_customer.items():
        promise = latest.get(key)
        if promise is not None:
            promise = {**promise, "status": promises.status(promise["promised_for"], as_of)}
        case = case_for(own, promise, sent)
        if case is not None:
            cases.append(case)
    # Most urgent action first; within one, the most money expected to come late.
    cases.sort(key=lambda c: (ACTIONS[c.action][1], -_expected_late(c)))
    return cases


def _expected_late(case: Case) -> float:
    return sum(i["risk_probability"] * float(i["amount_due_base"]) for i in case.invoices)
