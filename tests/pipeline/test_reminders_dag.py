"""The approval and the sending under `airflow dags test`: a reviewer answers through Airflow's own HITL REST API
(ar_radar.local.reviewer), or nobody does and the scheduler's timeout sweep applies the default (send none)."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from ar_radar.local.airflow_env import airflow_background, airflow_environment, reviewer
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import SmtpSink

from tests.conftest import AS_OF, SANDBOX_CURRENCIES, copy_of, make_settings

pytestmark = pytest.mark.dag


def _run(tmp, airflow_db, answers: list[tuple[str, ...]], extra_env: dict | None = None):
    """One DAG run per answer (the same day each time), each answered by the reviewer; returns what happened."""
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


def _first_customer_email_number(scored_warehouse, tmp_path) -> tuple[int, str]:
    """The number and customer of the first customer email on the day's review page (the data is the sandbox's,
    so the run's drafts are numbered the same: internal notes first, then direct, then light)."""
    from ar_radar.outreach.drafts import draft_reminders
    from ar_radar.outreach.review import draft_index

    settings = copy_of(scored_warehouse, tmp_path / "numbering")
    drafts = draft_reminders(settings.db_path, AS_OF, "numbering", None)
    index = draft_index(settings.db_path, AS_OF)
    emails = sorted((index[(d.tenant_id, d.contact_id)]["number"], d.customer_name) for d in drafts if d.to_customer)
    return emails[0]


def test_an_approved_batch_is_sent_minus_the_excluded_draft_and_a_rerun_sends_nothing_twice(
    tmp_path, airflow_db, scored_warehouse
):
    number, customer = _first_customer_email_number(scored_warehouse, tmp_path)
    results, received, drafts, logged, secrets = _run(
        tmp_path,
        airflow_db,
        [("answer", "--send", "--exclude", str(number))] * 2,  # a re-run, approved the same
    )
    (first, output, after_first), (second, _, after_second) = results
    assert first == 0, output[-4000:]
    assert second == 0
    customers = [m for m in received if m.recipients != ["finance@example.com"]]
    excluded = [row for row in logged if row[2] == "excluded by the reviewer (demo_reviewer)"]
    sent = [row for row in logged if row[1] == "sent"]
    assert len(drafts) >= 6 and len(sent) == len(customers) == len(drafts) - 1
    assert all(row[3] == "demo_reviewer" for row in sent)
    assert after_first == after_second  # the re-run: the finance email and every reminder once only
    assert {(row[0], row[4]) for row in excluded} == {(customer, number)}  # logged by both runs
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
