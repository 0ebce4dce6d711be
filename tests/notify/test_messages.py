"""Emails: content, escaping, and sent once through Airflow's SMTP hook to a real SMTP server."""

import json

import pytest
from ar_radar.gate.report import CheckResult, HealthReport
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.notify.messages import data_health_alert, queue_email
from ar_radar.notify.send import send_once


def _invoice(number, amount, days, status="chase"):
    return {
        "invoice_number": number,
        "status": status,
        "currency_code": "EUR",
        "amount_due": amount,
        "due_date": "2026-11-01",
        "days_overdue": days,
        "risk": {
            "probability": 0.71,
            "band": "high",
            "top_factors": [{"label": "Paid 7 of 10 past invoices late", "weight": 0.84}],
            "basis": "Cold start: 57 of this organisation's invoices have a known outcome",
        },
        "predicted_payment": {"date": "2026-12-01", "earliest": "2026-11-25", "latest": "2026-12-07"},
        "model_version": "rules-v1",
    }


def _queue(name="Acme <script>alert(1)</script> Ltd"):
    item = {
        "rank": 1,
        "tenant_id": "tenant-1",
        "customer": {"contact_id": "c-1", "name": name, "relationship_tier": "VIP"},
        "action": {"code": "direct_reminder", "label": "Direct reminder", "reason": "INV-7 is 19 days past due."},
        "flags": ["broken promise: payment was promised for 2026-11-10"],
        "base_currency": "GBP",
        "amount_due_base": 1055.13,
        "invoices": [_invoice("INV-7", 1234.5, 19), _invoice("INV-8", 99.0, 12, "held_for_dispute")],
    }
    return {
        "as_of_date": "2026-11-20",
        "items": [item],
        "data_health_warnings": ["a warning line"],
        "summary": {
            "queued": 1,
            "queued_invoices": 2,
            "overdue_invoices": 2,
            "by_action": {"direct_reminder": 1},
            "by_currency": [
                {
                    "base_currency": "GBP",
                    "organisations": 1,
                    "overdue_amount_base": 1055.13,
                    "open_amount_base": 5000.0,
                    "expected_cash_in_7_days_base": 812.4,
                    "expected_cash_in_30_days_base": 3120.0,
                }
            ],
        },
    }


def test_queue_email_lists_customers_with_their_invoices_and_reasons_and_escapes_crm_text():
    email = queue_email(_queue(), ("finance@example.com",))
    assert email.subject == "AR Radar action queue 2026-11-20: 1 customers to act on, GBP 1,055.13 overdue"
    assert ">INV-7<" in email.html and ">INV-8<" in email.html and "held for dispute" in email.html
    assert "Paid 7 of 10 past invoices late: +0.84" in email.html and "Direct reminder" in email.html
    assert "broken promise: payment was promised for 2026-11-10" in email.html and "(VIP)" in email.html
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "a warning line" in email.html and "not a certainty" in email.html
    assert "GBP 812.40</b> within 7 days" in email.html and "GBP 3,120.00</b> within 30 days" in email.html
    assert "EUR 1,234.50" in email.html  # the invoice's own amount, in its own currency
    assert "rules-v1 prior (cold start)" in email.html and "Cold start: 57 of this organisation" in email.html
    assert "reminder drafts are" not in email.html  # no drafts today: the email does not speak of them


def test_queue_email_links_each_customers_draft(tmp_path):
    page = tmp_path / "reminder_drafts_2026-11-20.html"
    page.write_text("<html></html>")
    queue, attachment = _queue(), tmp_path / "action_queue_2026-11-20.json"
    attachment.write_text("{}")
    drafts = {
        ("tenant-1", "c-1"): {
            "number": 1,
            "anchor": "draft-tenant-1-c-1",
            "subject": "Overdue <invoices>",
            "tone": "direct",
            "generator": "template",
        }
    }
    attached = queue_email(queue, ("finance@example.com",), attachment, drafts, page)
    assert "Draft 1</b>" not in attached.html and "Draft 1: Overdue &lt;invoices&gt;" in attached.html
    assert "in the attached reminder_drafts_2026-11-20.html" in attached.html
    assert attached.attachments == (attachment, page)
    served = queue_email(queue, ("finance@example.com",), attachment, drafts, page, "https://ar.example.com/out/")
    link = 'href="https://ar.example.com/out/reminder_drafts_2026-11-20.html#draft-tenant-1-c-1"'
    assert link in served.html and served.attachments == (attachment,)


def test_organisations_in_different_base_currencies_are_never_added_up():
    queue = _queue()
    euros = {
        "base_currency": "EUR",
        "organisations": 1,
        "overdue_amount_base": 200.0,
        "open_amount_base": 900.0,
        "expected_cash_in_7_days_base": 50.0,
        "expected_cash_in_30_days_base": 300.0,
    }
    queue["summary"]["by_currency"].append(euros)
    email = queue_email(queue, ("finance@example.com",))
    assert email.subject.endswith("GBP 1,055.13 and EUR 200.00 overdue")
    assert "GBP 1,055.13 past due" in email.html and "EUR 200.00 past due" in email.html
    assert "Organisations in EUR" in email.html and "1,255.13" not in email.html


def _report(page=None):
    failure = CheckResult(
        "stg_xero__invoices",
        "expect_column_values_to_be_between",
        "amount_due",
        "critical",
        False,
        100,
        3,
        3.0,
        "none",
        ["INV-1", "INV-2"],
        advice="Open the example invoices in Xero.",
        passed_last_at="2026-11-18T06:00:00+00:00",
    )
    docs = {"stg_xero__invoices": str(page)} if page else {}
    return HealthReport("run-1", "2026-11-20", "2026-11-20T06:00:00+00:00", [failure], docs)


def test_alert_says_what_where_how_many_since_when_and_what_to_do():
    email = data_health_alert(_report(), ("owners@example.com",), "2026-11-19T06:00:00+00:00")
    assert "1 critical check(s) failed" in email.subject
    for text in ("amount_due", "3 of 100 rows", "INV-1, INV-2", "2026-11-19", "2026-11-18", "What to do"):
        assert text in email.html
    assert "<li>Open the example invoices in Xero.</li>" in email.html
    assert "not available for this run" in email.html and email.attachments == ()


def test_alert_attaches_the_data_docs_page_or_links_the_served_site(tmp_path):
    page = tmp_path / "local_site" / "validations" / "stg_xero__invoices" / "run-1" / "t" / "page.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html>GX</html>")
    attached = data_health_alert(_report(page), ("owners@example.com",), None)
    assert attached.attachments == (page,) and "attached: page.html" in attached.html
    linked = data_health_alert(_report(page), ("owners@example.com",), None, "https://dq.example.com/docs/")
    assert linked.attachments == ()
    assert '<a href="https://dq.example.com/docs/validations/stg_xero__invoices/run-1/t/page.html">' in linked.html


@pytest.fixture
def smtp(monkeypatch):
    with SmtpSink(None) as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.airflow_connection())
        yield sink


def test_send_once_delivers_once_with_attachment(smtp, tmp_path):
    attachment = tmp_path / "action_queue_2026-11-20.json"
    attachment.write_text(json.dumps(_queue()))
    email = queue_email(_queue(), ("finance@example.com", "cfo@example.com"), attachment)
    db = tmp_path / "db.duckdb"
    assert send_once(db, email, "smtp_default", "AR Radar <ar@example.com>") is True
    assert send_once(db, email, "smtp_default", "AR Radar <ar@example.com>") is False
    [received] = smtp.received
    assert sorted(received.recipients) == ["cfo@example.com", "finance@example.com"]
    assert received.message["Subject"] == email.subject
    names = [part.get_filename() for part in received.message.iter_attachments()]
    assert names == ["action_queue_2026-11-20.json"]
