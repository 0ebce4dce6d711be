"""Sending approved reminders: the last-moment checks against the Xero and HubSpot sandboxes (official SDKs over
HTTP), a real SMTP server, the audit log, and never a second email."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pytest
from ar_radar import database
from ar_radar.extract.connections import connection_from_env
from ar_radar.extract.xero import XeroApi, token_store_path
from ar_radar.local.sandbox.hubspot_api import add_object, remove_object
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.outreach import sending
from ar_radar.outreach.crm_activity import CrmActivity
from ar_radar.outreach.drafts import DraftOptions, draft_reminders
from ar_radar.outreach.review import approval_body

from tests.conftest import AS_OF, SANDBOX_CURRENCIES, copy_of

OPTIONS = sending.SendOptions(
    sender="Demo Widgets Accounts <accounts@demowidgets.example>",
    reply_to="accounts@demowidgets.example",
    smtp_retry_wait_seconds=0.01,
)


@pytest.fixture(scope="module")
def box():
    """A sandbox of its own (same seed, so the warehouse's ids): these tests change invoices in it."""
    with Sandbox(as_of=AS_OF, organisations=2, base_currencies=SANDBOX_CURRENCIES) as sandbox, SmtpSink() as sink:
        sandbox.sink = sink
        yield sandbox


@pytest.fixture(scope="module")
def drafted(scored_warehouse, tmp_path_factory):
    """The warehouse with today's template drafts, drafted once for the module (each test works on a copy)."""
    settings = copy_of(scored_warehouse, tmp_path_factory.mktemp("drafted"))
    draft_reminders(settings.db_path, AS_OF, "run-d", None, lambda t, i: f"https://in.xero.com/{i[:8]}")
    return settings


@pytest.fixture
def world(box, drafted, tmp_path, monkeypatch):
    """A copy of the drafted warehouse, and the functions the send step uses, wired to the sandboxes."""
    for name, value in box.airflow_connections().items():
        monkeypatch.setenv(name, value)
    settings = copy_of(drafted, tmp_path)
    xero_conn = connection_from_env("xero_default")
    xero = XeroApi(xero_conn, token_store_path(xero_conn, tmp_path / "state"))
    crm = CrmActivity(connection_from_env("hubspot_default"))
    box.sink.handler.received.clear()
    box.hubspot_app.config["created_notes"].clear()

    def deliver(message):
        with smtplib.SMTP(box.sink.host, box.sink.port) as client:
            client.send_message(message)

    def send(approval, options=OPTIONS):
        return sending.send_reminders(
            settings.db_path,
            AS_OF,
            "run-s",
            approval,
            options,
            deliver,
            xero.invoices_by_id,
            crm.changed_since,
            crm.note_on_company,
        )

    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        emails = con.execute(
            "select tenant_id, contact_id, customer_name, invoices from outreach.reminder_drafts "
            "where as_of_date = ? and tone in ('light', 'direct') order by customer_name",
            [AS_OF],
        ).fetchall()
    return settings, send, [(t, c, n, json.loads(i)) for t, c, n, i in emails]


NUMBERED = """
    select customer_name, row_number() over () from (select customer_name from outreach.reminder_drafts
    where as_of_date = ? order by case tone when 'owner_review' then 0 when 'escalation_note' then 1
    when 'direct' then 2 when 'light' then 3 else 4 end, customer_name, tenant_id, contact_id)
"""
CHASED_BASE = """
    select sum(amount_due_base) from scoring.invoice_risk_scores where as_of_date = ? and invoice_id in
    (select unnest(cast(invoices as json[])) ->> 'invoice_id' from outreach.reminder_drafts
     where as_of_date = ? and customer_name = ?)
"""

SENT_TODAY = "select approval, approved_by from outreach.reminder_log where status = 'sent' and as_of_date = ?"


def _query(settings, sql: str, params: list) -> list[tuple]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _log(settings) -> list[tuple]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(
            "select customer_name, status, reason, approved_by from outreach.reminder_log order by logged_at"
        ).fetchall()


def _approve(**kw) -> sending.Approval:
    return sending.Approval("send", by="dana", at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC), **kw)


def test_approved_reminders_go_once_with_their_headers_and_a_note_in_hubspot(world, box):
    settings, send, emails = world
    assert len(emails) >= 6
    outcomes = send(_approve())
    assert {o.status for o in outcomes} == {"sent"} and len(outcomes) == len(emails)
    received = list(box.sink.handler.received)
    # a note on each customer's HubSpot company (customers without a CRM company get none)
    notes = box.hubspot_app.config["created_notes"]
    assert len(received) == len(emails) and sorted(notes) == sorted(
        o.hubspot_note_id for o in outcomes if o.hubspot_note_id
    )
    assert len(notes) >= len(emails) - 3
    message = received[0].message
    assert message["From"] == OPTIONS.sender and message["Reply-To"] == OPTIONS.reply_to
    assert (
        message["List-Unsubscribe"]
        == "<mailto:accounts@demowidgets.example?subject=Unsubscribe%20from%20payment%20reminders>"
    )
    assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}
    assert all(o.xero_check and all(c["ok"] for c in o.xero_check) for o in outcomes)
    # to the Xero billing email and the contact persons Xero copies on invoices, never the others (generator truth)
    people = {
        c["ContactID"]: (c["EmailAddress"], c.get("ContactPersons", [])) for x in box.companies for c in x.contacts
    }
    by_key = {m.message["X-AR-Radar-Key"]: m.message for m in received}
    copied = 0
    for out in outcomes:
        billing, persons = people[out.contact_id]
        to = [a.strip() for a in by_key[out.send_key]["To"].split(",")]
        assert to[0] == billing and set(to) == {billing} | {p["EmailAddress"] for p in persons if p["IncludeInEmails"]}
        copied += len(to) > 1
    assert copied >= 1
    # the same day again (a retried or re-run task): nothing twice, whatever the approval says
    again = send(_approve())
    assert {o.status for o in again} == {"duplicate"} and len(box.sink.handler.received) == len(emails)
    log = _log(settings)
    assert len(log) == len(emails) and {(s, a) for _, s, _, a in log} == {("sent", "dana")}
    assert all(r.startswith("approved by dana at 2026-11-20 09:30 UTC") for _, _, r, _ in log)


def test_a_payment_a_dispute_an_opt_out_and_an_exclusion_each_stop_one_email(world, box):
    settings, send, emails = world
    (t1, _, paid_name, paid_invoices), (t2, c2, disputed_name, disputed_invoices) = emails[0], emails[1]
    t3, c3, opted_name, _ = emails[2]
    excluded_name = emails[3][2]
    # a payment lands in Xero after approval
    company = next(c for c in box.companies if c.tenant_id == t1)
    record = next(i for i in company.invoices if i["InvoiceID"] == paid_invoices[0]["invoice_id"])
    saved = dict(record)
    record.update(Status="PAID", AmountDue=Decimal("0"), UpdatedDateUTC=datetime.now(UTC))
    # a dispute ticket is opened in HubSpot after drafting, naming the invoice
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [company_id] = con.execute(
            "select hubspot_company_id from marts.customer_outreach_profiles where tenant_id = ? and contact_id = ?",
            [t2, c2],
        ).fetchone()
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ticket = {
        "id": "99000001",
        "properties": {
            "hs_object_id": "99000001",
            "createdate": now,
            "hs_lastmodifieddate": now,
            "subject": f"Invoice {disputed_invoices[0]['number']} disputed",
            "content": "Customer says the quantity is wrong <script>alert(1)</script>",
        },
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
        "_associations": {"companies": [company_id]},
    }
    add_object(box.hubspot_app, "tickets", ticket)
    sending.opt_out(settings.db_path, t3, c3, "asked on the phone")
    numbers = dict(_query(settings, NUMBERED, [AS_OF]))
    try:
        outcomes = {o.customer_name: o for o in send(_approve(excluded=frozenset({numbers[excluded_name]})))}
    finally:
        record.clear()
        record.update(saved)
        remove_object(box.hubspot_app, "tickets", ticket)
    assert outcomes[paid_name].status == "skipped"
    approved = Decimal(paid_invoices[0]["amount_due"])
    assert outcomes[paid_name].reason == (
        f"changed in Xero since approval: {paid_invoices[0]['number']} PAID, amount due 0.00 (approved {approved:.2f})"
    )
    assert (
        outcomes[disputed_name].status == "skipped" and "since drafting disputes it" in outcomes[disputed_name].reason
    )
    assert outcomes[opted_name].reason == "the customer opted out of reminders"
    assert outcomes[excluded_name].reason == "excluded by the reviewer (dana)"
    sent = [o for o in outcomes.values() if o.status == "sent"]
    assert len(sent) == len(emails) - 4 and len(box.sink.handler.received) == len(sent)
    recipients = {r for m in box.sink.handler.received for r in m.recipients}
    assert not recipients & {r for o in outcomes.values() if o.status != "sent" for r in o.recipients}
    log = {name: (status, reason) for name, status, reason, _ in _log(settings)}
    assert log[paid_name][0] == "skipped" and log[excluded_name][1] == "excluded by the reviewer (dana)"


@pytest.mark.parametrize(
    ("approval", "reason"),
    [
        (sending.Approval("timeout"), "no approval before the timeout: nothing is sent"),
        (sending.Approval("none", by="dana"), "the reviewer (dana) chose to send none"),
    ],
)
def test_no_approval_sends_nothing_and_says_so(world, box, approval, reason):
    settings, send, emails = world
    outcomes = send(approval)
    assert {(o.status, o.reason) for o in outcomes} == {("skipped", reason)}
    assert not box.sink.handler.received and len(_log(settings)) == len(emails)


def test_an_smtp_refusal_is_retried(world, box):
    settings, send, emails = world
    box.sink.handler.refuse_next = 1
    first = send(_approve())
    assert {o.status for o in first} == {"sent"} and len(box.sink.handler.received) == len(emails)


def test_a_lasting_smtp_refusal_is_logged_failed_and_a_rerun_sends_it(world, box):
    settings, send, emails = world
    box.sink.handler.refuse_next = 3 * len(emails)  # every attempt of every message
    failed = send(_approve())
    assert {o.status for o in failed} == {"failed"} and "SMTP refused after 3 attempts" in failed[0].reason
    box.sink.handler.refuse_next = 0
    retried = send(_approve())  # not delivered before: safe to send now
    assert {o.status for o in retried} == {"sent"} and len(box.sink.handler.received) == len(emails)


def test_a_crash_between_smtp_and_the_log_never_sends_again(world, box):
    settings, send, emails = world
    tenant, contact, _, invoices = emails[0]
    key = sending.send_key(tenant, contact, AS_OF, [i["invoice_id"] for i in invoices])
    with database.connect(settings.db_path, read_only=False) as con:  # as a crash leaves it: "sending"
        database.ensure(con, "outreach.reminder_log")
        con.execute(
            "insert into outreach.reminder_log (as_of_date, send_key, tenant_id, contact_id, status) "
            "values (?, ?, ?, ?, 'sending')",
            [AS_OF, key, tenant, contact],
        )
    outcomes = send(_approve())
    [held] = [o for o in outcomes if o.send_key == key]
    assert held.status == "duplicate" and "already sending" in held.reason
    assert len(box.sink.handler.received) == len(emails) - 1


def test_the_holdout_and_the_frequency_cap(world, box):
    settings, send, emails = world
    everyone = sending.SendOptions(OPTIONS.sender, OPTIONS.reply_to, holdout_percent=100)
    held = send(_approve(), everyone)
    assert {o.reason for o in held} == {"in the holdout (100 % of customers get no automated reminder)"}
    with database.connect(settings.db_path, read_only=False) as con:  # a reminder went two business days ago
        database.ensure(con, "outreach.reminder_log")
        con.execute("delete from outreach.reminder_log")
        con.executemany(
            "insert into outreach.reminder_log (as_of_date, tenant_id, contact_id, status) values "
            "('2026-11-18', ?, ?, 'sent')",
            [[t, c] for t, c, *_ in emails],
        )
    capped = send(_approve())
    assert {o.reason for o in capped} == {
        "frequency cap: a reminder went on 2026-11-18, within 5 business days"
    } and not box.sink.handler.received


def test_the_reviewers_answer_is_read_strictly():
    answer = {
        "chosen_options": [sending.SEND_ALL],
        "params_input": {"exclude": "3, 7 12"},
        "responded_by_user": {"id": "dana", "name": "Dana"},
        "responded_at": "2026-11-20T09:30:00+00:00",
    }
    approval = sending.Approval.from_hitl(answer)
    assert (approval.decision, approval.excluded, approval.by) == ("send", {3, 7, 12}, "Dana")
    assert sending.Approval.from_hitl({**answer, "chosen_options": [sending.SEND_NONE]}).decision == "none"
    assert sending.Approval.from_hitl({**answer, "responded_by_user": None}).decision == "timeout"  # the defaults
    assert sending.Approval.from_hitl(None).decision == "timeout"
    with pytest.raises(ValueError, match="exclude must list draft numbers"):
        sending.Approval.from_hitl({**answer, "params_input": {"exclude": "all of them"}})


def test_the_approval_request_shows_crm_and_customer_text_inert(world):
    settings, _, _ = world
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            "update outreach.reminder_drafts set customer_name = '<script>alert(1)</script> [x](http://evil) Ltd'"
        )
    body = approval_body(settings.db_path, AS_OF)
    assert "<script>" not in body and "&lt;script&gt;" in body and "[x](http" not in body
    assert "\\[x\\]\\(http://evil\\)" in body.replace("\\:", ":")


def test_the_auto_send_rule_sends_only_first_small_low_risk_reminders_and_the_reviewer_gets_the_rest(world, box):
    settings, send, emails = world
    # Three unflagged light reminders made low risk; one of them was already reminded once (not a first reminder).
    with duckdb.connect(str(settings.db_path)) as con:
        light = con.execute(
            "select customer_name, tenant_id, contact_id, invoices from outreach.reminder_drafts where as_of_date = ? "
            "and tone = 'light' and tier = 'light' and flags = '[]' order by customer_name limit 3",
            [AS_OF],
        ).fetchall()
        assert len(light) == 3
        for _, tenant, contact, _ in light:
            con.execute(
                "update scoring.invoice_risk_scores set risk_band = 'low', risk_probability = 0.1 "
                "where as_of_date = ? and tenant_id = ? and contact_id = ?",
                [AS_OF, tenant, contact],
            )
        database.ensure(con, "outreach.reminder_log")
        con.execute(
            "insert into outreach.reminder_log (as_of_date, tenant_id, contact_id, status, invoices) "
            "values ('2026-11-02', ?, ?, 'sent', ?)",
            [light[2][1], light[2][2], light[2][3]],
        )
    options = DraftOptions(auto_send_under=Decimal("1000000"))
    assert not [d for d in draft_reminders(settings.db_path, AS_OF, "run-off", None) if d.auto_send]  # off: none
    drafts = draft_reminders(settings.db_path, AS_OF, "run-auto", None, options=options)
    automatic = {d.customer_name for d in drafts if d.auto_send}
    assert automatic == {light[0][0], light[1][0]}
    body = approval_body(settings.db_path, AS_OF)
    assert "Sent without approval under the auto-send rule (AR_RADAR_AUTO_SEND_UNDER): 2, numbered" in body
    assert f"**{len(emails) - 2} customer reminder(s)**" in body
    # nobody answered: only the rule's drafts go, after the same checks; the rest wait for a person
    auto = send(sending.Approval.auto_send_rule())
    assert {o.customer_name for o in auto} == automatic and {o.status for o in auto} == {"sent"}
    assert all(o.reason.startswith("sent without approval under the auto-send rule") for o in auto)
    timed_out = send(sending.Approval("timeout"))
    assert len(timed_out) == len(emails) - 2 and {o.status for o in timed_out} == {"skipped"}
    assert len(box.sink.handler.received) == 2
    logged = _query(settings, SENT_TODAY, [AS_OF])
    assert logged == [("auto", "auto-send rule (AR_RADAR_AUTO_SEND_UNDER)")] * 2
    # the limit is on the amount chased in the base currency, and exclusive: at the larger one, only the smaller goes
    amounts = sorted(_query(settings, CHASED_BASE, [AS_OF, AS_OF, name])[0][0] for name, *_ in light[:2])
    limit = DraftOptions(auto_send_under=amounts[1])
    smaller = draft_reminders(settings.db_path, AS_OF, "run-small", None, options=limit)
    assert len([d for d in smaller if d.auto_send]) == (1 if amounts[0] < amounts[1] else 0)
