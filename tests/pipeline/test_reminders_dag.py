"""The approval and the sending under `airflow dags test`: a reviewer answers through Airflow's own HITL REST API
(ar_radar.local.reviewer), or nobody does and the scheduler's timeout sweep applies the default (send none)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pytest
from ar_radar.local.airflow_env import airflow_background, airflow_environment, reviewer
from ar_radar.local.sandbox.hubspot_api import add_object
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import SmtpSink

from tests.conftest import AS_OF, SANDBOX_CURRENCIES, copy_of, make_settings

pytestmark = pytest.mark.dag


def _run(tmp, airflow_db, answers: list[tuple[str, ...]], extra_env: dict | None = None, meanwhile=None):
    """One DAG run per answer (the same day each time), each answered by the reviewer; returns what happened.
    meanwhile(box, request): called in the first run once the approval request waits (after drafting, before the
    answer and the sending), with the request as the REST API shows it to the reviewer."""
    settings = make_settings(tmp / "data")
    with (
        Sandbox(as_of=AS_OF, organisations=2, base_currencies=SANDBOX_CURRENCIES) as box,
        SmtpSink(tmp / "emails") as sink,
    ):
        connections = {**box.airflow_connections(), "AIRFLOW_CONN_SMTP_DEFAULT": sink.airflow_connection()}
        env = {**airflow_environment(settings, tmp / "airflow", connections), **(extra_env or {})}
        (tmp / "airflow").mkdir()
        shutil.copy(airflow_db, tmp / "airflow" / "airflow.db")
        results = []
        for number, answer in enumerate(answers):
            log = tmp / f"run-{number}.log"
            run = airflow_background(env, log, "dags", "test", "ar_radar_daily", AS_OF.isoformat())
            if meanwhile and number == 0:
                shown = reviewer(env, "wait")
                assert shown.returncode == 0, shown.stderr[-3000:]
                meanwhile(box, json.loads(shown.stdout.strip().splitlines()[-1]))  # after any log lines
            answered = reviewer(env, *answer)
            if answered.returncode:
                run.kill()
            run.wait(timeout=900)
            assert answered.returncode == 0, answered.stderr[-3000:]
            results.append((run.returncode, log.read_text(errors="replace"), len(sink.received)))
        received = list(sink.received)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        drafts = con.execute(
            "select customer_name, recipients from outreach.reminder_drafts "
            "where as_of_date = ? and tone in ('light', 'direct')",
            [AS_OF],
        ).fetchall()
        logged = con.execute(
            "select customer_name, status, reason, approved_by, draft_number from outreach.reminder_log "
            "order by logged_at"
        ).fetchall()
    return results, received, drafts, logged, box.secrets()


def _customer_emails(scored_warehouse, tmp_path) -> list[dict]:
    """The day's customer emails in review-page order, with their numbers (the data is the sandbox's, so the run's
    drafts are numbered the same: internal notes first, then direct, then light)."""
    from ar_radar.outreach.drafts import draft_reminders
    from ar_radar.outreach.review import draft_index

    settings = copy_of(scored_warehouse, tmp_path / "numbering")
    drafts = draft_reminders(settings.db_path, AS_OF, "numbering", None)
    index = draft_index(settings.db_path, AS_OF)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        companies = dict(
            con.execute(
                "select tenant_id || contact_id, hubspot_company_id from marts.customer_outreach_profiles"
            ).fetchall()
        )
    emails = [
        {
            "number": index[(d.tenant_id, d.contact_id)]["number"],
            "customer": d.customer_name,
            "tenant_id": d.tenant_id,
            "invoices": d.invoices,
            "company_id": companies.get(d.tenant_id + d.contact_id),
        }
        for d in drafts
        if d.to_customer
    ]
    return sorted(emails, key=lambda e: e["number"])


def _pay_in_xero(box, tenant_id: str, invoice_id: str) -> None:
    company = next(c for c in box.companies if c.tenant_id == tenant_id)
    record = next(i for i in company.invoices if i["InvoiceID"] == invoice_id)
    record.update(Status="PAID", AmountDue=Decimal("0"), UpdatedDateUTC=datetime.now(UTC))


def _dispute_in_hubspot(box, company_id: str, invoice_number: str) -> None:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    properties = {"hs_object_id": "99000002", "createdate": now, "hs_lastmodifieddate": now}
    properties |= {"subject": f"Invoice {invoice_number} disputed", "content": "The price is not what we agreed."}
    ticket = {"id": "99000002", "properties": properties, "createdAt": now, "updatedAt": now, "archived": False}
    add_object(box.hubspot_app, "tickets", ticket | {"_associations": {"companies": [company_id]}})


def test_an_approved_batch_is_sent_minus_the_excluded_the_paid_and_the_disputed_and_a_rerun_sends_nothing_twice(
    tmp_path, airflow_db, scored_warehouse
):
    emails = _customer_emails(scored_warehouse, tmp_path)
    excluded = emails[0]
    single = [e for e in emails[1:] if len(e["invoices"]) == 1]
    paid = single[0]
    disputed = next(e for e in single[1:] if e["company_id"])
    shown = []

    def after_drafting_before_sending(box, request):
        shown.append(request)
        _pay_in_xero(box, paid["tenant_id"], paid["invoices"][0]["invoice_id"])
        _dispute_in_hubspot(box, disputed["company_id"], disputed["invoices"][0]["number"])

    results, received, drafts, logged, secrets = _run(
        tmp_path,
        airflow_db,
        [("answer", "--send", "--exclude", str(excluded["number"]))] * 2,  # a re-run, approved the same
        meanwhile=after_drafting_before_sending,
    )
    (first, output, after_first), (second, _, after_second) = results
    assert first == 0, output[-4000:]
    assert second == 0
    # the reviewer saw every customer email of the batch, numbered as on the review page
    assert f"**{len(emails)} customer reminder(s)**" in shown[0]["body"]
    assert f"{excluded['number']}. **" in shown[0]["body"]
    customers = [m for m in received if m.recipients != ["finance@example.com"]]
    reasons = {row[0]: row[2] for row in logged if row[1] != "sent"}
    sent = [row for row in logged if row[1] == "sent"]
    assert len(emails) >= 6 and len(sent) == len(customers) == len(emails) - 3
    assert reasons[excluded["customer"]] == "excluded by the reviewer (demo_reviewer)"
    number = paid["invoices"][0]["number"]
    assert reasons[paid["customer"]].startswith(f"changed in Xero since approval: {number} PAID, amount due 0.00")
    assert reasons[disputed["customer"]] == "HubSpot ticket 99000002 since drafting disputes it: resolve it first"
    assert not {paid["customer"], disputed["customer"], excluded["customer"]} & {row[0] for row in sent}
    assert all(row[3] == "demo_reviewer" for row in sent)
    # the re-run: the paid invoice and the disputed one are no longer drafted, and nothing goes twice
    assert {name for name, _ in drafts} == {e["customer"] for e in emails} - {paid["customer"], disputed["customer"]}
    assert after_first == after_second  # the finance email and every reminder once only
    excluded_rows = [row for row in logged if row[2] == "excluded by the reviewer (demo_reviewer)"]
    assert {(row[0], row[4]) for row in excluded_rows} == {(excluded["customer"], excluded["number"])}  # both runs
    texts = "\n".join(str(m.message) for m in received) + output
    assert not [s for s in secrets if s in texts]
    for message in customers:
        assert (
            message.message["List-Unsubscribe"]
            and "View and pay online" in message.message.get_body(("html",)).get_content()
        )


def test_no_answer_before_the_timeout_sends_nothing(tmp_path, airflow_db):
    results, received, drafts, logged, _ = _run(
        tmp_path, airflow_db, [("sweep-timeouts",)], {"AR_RADAR_APPROVAL_TIMEOUT_HOURS": "0.0003"}
    )
    [(code, output, _)] = results
    assert code == 0, output[-4000:]
    assert [m.recipients for m in received] == [["finance@example.com"]]  # the queue only
    assert drafts and {(status, reason) for _, status, reason, *_ in logged} == {
        ("skipped", "no approval before the timeout: nothing is sent")
    }
