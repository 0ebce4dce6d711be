"""The auto-send rule's conditions, one at a time: only a first, small, low-risk, unflagged light reminder."""

from decimal import Decimal

import pytest
from ar_radar.actions.cases import case_for
from ar_radar.outreach.auto_send import auto_send_reason

from tests.actions.test_cases import _row

LIMIT = Decimal("500")


def _reason(rows, sent=None, limit=LIMIT, flags=()):
    case = case_for(rows, None, sent)
    return auto_send_reason(case, case.tone, list(case.flags) + list(flags), limit)


def test_a_first_small_low_risk_light_reminder_goes_without_approval():
    assert _reason([_row("INV-1", 3)]) == (
        "first light reminder, low risk, 100.00 GBP under the auto-send limit of 500.00 (AR_RADAR_AUTO_SEND_UNDER)"
    )


@pytest.mark.parametrize(
    ("rows", "sent", "limit", "flags"),
    [
        ([_row("INV-1", 3)], None, None, ()),  # the rule is off (the default)
        ([_row("INV-1", 3, band="medium")], None, LIMIT, ()),  # not low risk
        ([_row("INV-1", 3)], {"id-INV-1": 1}, LIMIT, ()),  # not the first reminder
        ([_row("INV-1", 3)], None, Decimal("100"), ()),  # not under the limit (the limit is exclusive)
        ([_row("INV-1", 3)], None, LIMIT, ("CRM text 7 reads like an instruction",)),  # flagged
        ([_row("INV-1", 12)], None, LIMIT, ()),  # the direct tier
        ([_row("INV-1", 12, tier="VIP")], None, LIMIT, ()),  # softened to a light tone, but not the first tier
        ([_row("INV-1", 30)], None, LIMIT, ()),  # escalation: internal
        ([_row("INV-1", 60)], None, LIMIT, ()),  # 45+: owner review, never without a person
        ([_row("INV-1", 3), _row("INV-2", 2, band="high")], None, LIMIT, ()),  # one invoice of it is risky
    ],
)
def test_anything_else_waits_for_a_person(rows, sent, limit, flags):
    assert _reason(rows, sent, limit, flags) is None
