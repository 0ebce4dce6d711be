"""Settings from the environment: the drafts' switches, and a clear error for a value that means nothing."""

from decimal import Decimal

import pytest
from ar_radar.outreach.drafts import DraftOptions
from ar_radar.settings import Settings


def test_drafting_defaults_and_switches(monkeypatch):
    names = (
        "AR_RADAR_UPCOMING_NOTICE",
        "AR_RADAR_LLM_CRM_TEXT",
        "AR_RADAR_LLM_CONCURRENCY",
        "AR_RADAR_AUTO_SEND_UNDER",
    )
    for name in names:
        monkeypatch.delenv(name, raising=False)
    assert DraftOptions.from_settings(Settings.from_env()) == DraftOptions(False, True, 16, None)  # auto-send off
    monkeypatch.setenv("AR_RADAR_UPCOMING_NOTICE", "ON")
    monkeypatch.setenv("AR_RADAR_LLM_CRM_TEXT", "local")
    monkeypatch.setenv("AR_RADAR_LLM_CONCURRENCY", "4")
    monkeypatch.setenv("AR_RADAR_AUTO_SEND_UNDER", "250.50")
    assert DraftOptions.from_settings(Settings.from_env()) == DraftOptions(True, False, 4, Decimal("250.50"))
    monkeypatch.setenv("AR_RADAR_AUTO_SEND_UNDER", "off")
    assert Settings.from_env().auto_send_under is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AR_RADAR_LLM_CRM_TEXT", "maybe", "AR_RADAR_LLM_CRM_TEXT='maybe' is not one of send, local"),
        ("AR_RADAR_UPCOMING_NOTICE", "yes", "AR_RADAR_UPCOMING_NOTICE='yes' is not one of on, off"),
        ("AR_RADAR_LLM_CONCURRENCY", "0", "AR_RADAR_LLM_CONCURRENCY='0' must be a whole number of at least 1"),
        ("AR_RADAR_AUTO_SEND_UNDER", "-5", "AR_RADAR_AUTO_SEND_UNDER='-5' must be an amount above 0"),
        ("AR_RADAR_AUTO_SEND_UNDER", "yes", "AR_RADAR_AUTO_SEND_UNDER='yes' must be an amount above 0"),
        ("AR_RADAR_GX_RESULTS_KEEP_DAYS", "-1", "AR_RADAR_GX_RESULTS_KEEP_DAYS='-1' must be a whole number"),
    ],
)
def test_a_meaningless_value_is_refused_by_name(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Settings.from_env()


def test_gx_results_are_kept_90_days_unless_set(monkeypatch):
    monkeypatch.delenv("AR_RADAR_GX_RESULTS_KEEP_DAYS", raising=False)
    assert Settings.from_env().gx_results_keep_days == 90
    monkeypatch.setenv("AR_RADAR_GX_RESULTS_KEEP_DAYS", "30")
    assert Settings.from_env().gx_results_keep_days == 30
