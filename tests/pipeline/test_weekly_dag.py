"""The weekly report under `airflow dags test`: the day's warehouse after a real gate, a real SMTP server, one
email per organisation to its owners whose figures are recomputed here with independent SQL; a re-run sends
nothing twice; after a failed gate the owners get the held-back note instead."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import duckdb
import pytest
from ar_radar.gate.report import GateNotPassed
from ar_radar.local.airflow_env import airflow_cli, airflow_environment
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.local.webhook_sink import WebhookSink
from ar_radar.pipeline import daily

from tests.conftest import AS_OF, copy_of

pytestmark = pytest.mark.dag

MONDAY = date(2026, 11, 23)  # the report day after the warehouse's day (Friday 2026-11-20)
CHART_CIDS = ("aging", "trend", "cash")


def _weekly_run(settings, tmp, airflow_db, sink, extra_env=None) -> None:
    env = airflow_environment(settings, tmp / "airflow", {"AIRFLOW_CONN_SMTP_DEFAULT": sink.airflow_connection()})
    env.update(extra_env or {})
    (tmp / "airflow").mkdir(exist_ok=True)
    if not (tmp / "airflow" / "airflow.db").exists():
        shutil.copy(airflow_db, tmp / "airflow" / "airflow.db")
    done = airflow_cli(env, "dags", "test", "ar_radar_weekly", MONDAY.isoformat())
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def _money(currency: str, amount) -> str:
    return f"{currency} {float(amount):,.2f}"


# Independent of the report's code: day ranges written out here, not read from the seed.
INDEPENDENT = """
    select o.tenant_id, o.organisation_name, o.base_currency,
           round(sum(a.amount_due_base), 2) as outstanding,
           round(sum(a.amount_due_base) filter (where a.days_overdue between 1 and 7), 2) as d1_7,
           round(sum(a.amount_due_base) filter (where a.days_overdue between 8 and 21), 2) as d8_21,
           round(sum(a.amount_due_base) filter (where a.days_overdue between 22 and 45), 2) as d22_45,
           round(sum(a.amount_due_base) filter (where a.days_overdue > 45), 2) as d45,
           round(sum(a.amount_due_base) filter (where a.days_overdue between 61 and 90), 2) as d61_90
    from marts.fct_ar_aging a join staging.stg_xero__organisations o using (tenant_id)
    where a.amount_due_base > 0 group by all order by 2
"""
TOP = """
    select contact_name, round(sum(amount_due_base), 2) from marts.fct_ar_aging
    where tenant_id = ? and days_overdue > 0 and amount_due_base > 0
    group by contact_id, contact_name order by 2 desc, contact_id limit 10
"""
EXPECTED = """
    select count(*), round(coalesce(sum(amount_due_base), 0), 2) from scoring.invoice_risk_scores
    where tenant_id = ? and as_of_date = ? and predicted_payment_date >= ? and predicted_payment_date < ?
"""


def test_one_report_per_organisation_with_the_warehouses_figures_and_nothing_twice(
    tmp_path, airflow_db, scored_warehouse
):
    settings = copy_of(scored_warehouse, tmp_path / "data")
    with duckdb.connect(str(settings.db_path)) as con:  # CRM and customer text is untrusted: escaped in HTML
        con.execute(
            "update marts.fct_ar_aging set contact_name = '<script>alert(1)</script> Ltd' "
            "where contact_id = (select contact_id from marts.fct_ar_aging where days_overdue > 0 "
            "group by contact_id order by sum(amount_due_base) desc limit 1)"
        )
    daily.check_data_health(settings, "gate-run", AS_OF)  # the real gate: it passes on the sandbox's data
    with SmtpSink(tmp_path / "emails") as sink, WebhookSink() as slack:
        chat = {"AIRFLOW_CONN_SLACK_AR_RADAR": slack.airflow_connection(), "AR_RADAR_SLACK_CONN_ID": "slack_ar_radar"}
        _weekly_run(settings, tmp_path, airflow_db, sink, chat)
        first = list(sink.received)
        _weekly_run(settings, tmp_path, airflow_db, sink, chat)  # a re-run of the same week
        assert len(sink.received) == len(first)
    # the summaries in Slack too, once each, saying what the emails say
    assert sorted(m["text"].split("\n")[0] for m in slack.received) == sorted(
        " ".join(str(m.message["Subject"]).split()) for m in first
    )
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        organisations = con.execute(INDEPENDENT).fetchall()
        tops = {t: con.execute(TOP, [t]).fetchall() for t, *_ in organisations}
        expected = {
            t: con.execute(EXPECTED, [t, AS_OF, AS_OF, AS_OF + timedelta(days=7)]).fetchone() for t, *_ in organisations
        }
    assert len(first) == len(organisations) == 2
    for tenant, name, currency, outstanding, d1_7, d8_21, d22_45, d45, d61_90 in organisations:
        [mail] = [m for m in first if m.message["X-AR-Radar-Key"] == f"{tenant}:{MONDAY}"]
        assert mail.recipients == ["owners@example.com"] and name in mail.message["Subject"]
        text = mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = mail.message.get_body(("html",)).get_content()
        assert f"Owed to you: {_money(currency, outstanding)}" in text
        for bucket, amount in (("1-7", d1_7), ("8-21", d8_21), ("22-45", d22_45), ("45+", d45), ("61-90", d61_90)):
            assert re.search(
                rf"^  {re.escape(bucket)}\s+\d+ invoices?\s+{re.escape(_money(currency, amount or 0))}$", text, re.M
            ), bucket
        listed = re.findall(r"^  (.+): (\w{3} [\d,]+\.\d\d), (1 invoice|\d+ invoices), oldest", text, re.M)
        assert [(c, m) for c, m, _ in listed] == [(c, _money(currency, a)) for c, a in tops[tenant]]
        count, amount = expected[tenant]
        assert not re.search(r"\b1 (invoices|open invoices|customers|days)\b", text)  # one of a thing is singular
        invoices = "1 invoice" if count == 1 else f"{count} invoices"
        assert f"Expected in this week: {_money(currency, amount)} ({invoices})" in text
        # the months' DSO, countback, CEI and % overdue: numbers, or n/a where a ratio has no base (never "None")
        months = re.findall(r"^  \w{3} \d{4}: (.+)$", text, re.M)
        number = r"(n/a|-?[\d,]+\.\d)"
        assert months and all(re.fullmatch(rf"{number}(, {number}){{3}}", m) for m in months), months
        # each sentence after the months on its own line (the template's blocks once ran them together)
        started = r"(AR Radar started on \d{4}-\d\d-\d\d\.\n)?"
        forecast = r"(No forecast from a week ago yet\.|Last week's forecast: .+ collected\.)"
        assert re.search(rf"^IS IT WORKING.*\n(  .+\n)+{started}{forecast}\n\nWhat is", text, re.M)
        # the charts: inline PNGs by Content-ID, each referenced by the HTML with alt text
        images = {
            p["Content-ID"].strip("<>"): p.get_content()
            for p in mail.message.walk()
            if p.get_content_type() == "image/png"
        }
        assert {cid.split("-")[0] for cid in images} == set(CHART_CIDS)
        for cid, png in images.items():
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and f'src="cid:{cid}"' in html
        assert re.findall(r'<img src="cid:[^"]+" alt="[^"]{20,}"', html)
        assert "<script>" not in html
    assert any(
        "&lt;script&gt;alert(1)&lt;/script&gt; Ltd" in m.message.get_body(("html",)).get_content() for m in first
    )
    previews = list((settings.output_dir / f"weekly_report_{MONDAY}").glob("*.eml"))
    assert len(previews) == 2


def test_after_a_failed_gate_the_owners_get_the_held_back_note_once(
    tmp_path, airflow_db, scored_warehouse, monkeypatch
):
    settings = copy_of(scored_warehouse, tmp_path / "data")
    with duckdb.connect(str(settings.db_path)) as con:  # a model bug: negative amounts due (critical)
        con.execute(
            "update marts.fct_ar_aging set amount_due = -5 "
            "where invoice_id in (select invoice_id from marts.fct_ar_aging order by 1 limit 2)"
        )
    with SmtpSink(tmp_path / "emails") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.airflow_connection())
        with pytest.raises(GateNotPassed):
            daily.check_data_health(settings, "gate-run", AS_OF)
        alerts = len(sink.received)
        _weekly_run(settings, tmp_path, airflow_db, sink)
        _weekly_run(settings, tmp_path, airflow_db, sink)
        notes = sink.received[alerts:]
    assert len(notes) == 2  # one per organisation, once
    for note in notes:
        assert "report held back (data-health check failed)" in note.message["Subject"]
        body = note.message.get_content()
        assert f"latest data-health check ({AS_OF}, run gate-run) failed" in body
        assert f"AR Radar data-health alert ({AS_OF})" in body
