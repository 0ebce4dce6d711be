"""The auto-send rule: which first, small, low-risk reminders may go without a person's approval.

Off unless finance sets ``AR_RADAR_AUTO_SEND_UNDER`` (an amount in the organisation's base currency). A draft then
goes without approval only when every one of these holds; anything else waits for the reviewer as usual:

- it is a light reminder in the first collections tier (1-7 days overdue; a softened firmer tier does not count),
  and no tier from escalation up (22+ days, 45+ owner review) can ever qualify;
- it is the first reminder for each of its invoices, and each of them has a low payment risk;
- the amount it chases, in the base currency, is under the limit;
- nothing flagged it (broken promise, an instruction found in CRM text, a relationship tier, invoices held back).

A draft that qualifies still passes every check a reviewed one does before it goes (opt-out, holdout, frequency
cap, Xero and HubSpot at that moment, the send key), and its log row says ``approval = auto``.
"""

from __future__ import annotations

from decimal import Decimal

from ar_radar.actions.cases import Case

RULE = "AR_RADAR_AUTO_SEND_UNDER"
BY = f"auto-send rule ({RULE})"


def auto_send_reason(case: Case, tone: str, flags: list[str], under: Decimal | None) -> str | None:
    """Why this customer's draft may go without approval, or None when a person must approve it."""
    chased = case.chased
    if under is None or tone != "light" or case.reminder_tier != "light" or not chased or flags:
        return None
    if any(int(i["days_overdue"]) > 7 for i in chased):  # the first tier only; 45+ never, whatever the seed says
        return None
    if any(i["risk_band"] != "low" or int(i.get("reminders_sent") or 0) > 0 for i in chased):
        return None
    total = sum(Decimal(str(i["amount_due_base"])) for i in chased)
    if total >= under:
        return None
    return (
        f"first light reminder, low risk, {total:.2f} {case.base_currency} under the auto-send limit of "
        f"{under:.2f} ({RULE})"
    )
