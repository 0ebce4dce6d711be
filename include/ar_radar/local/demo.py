"""``make demo``: the daily pipeline end to end on the sandbox, with embedded defaults.

Starts the Xero, HubSpot and LLM sandboxes and an SMTP sink (in this process), points Airflow at
SQLite metadata under the demo folder, runs ``airflow dags test ar_radar_daily``, stops what it
started and prints where the queue JSON, the drafts' review page, the DuckDB file and the received
emails are; then runs ``ar_radar_weekly`` for the following Monday (the owners' report, also posted to a local
Slack webhook). The sandbox LLM writes the drafts' prose (``openai_default``); ``--no-model`` leaves it
out and the templates write everything.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from ar_radar import database
from ar_radar.gate.history import health_summary
from ar_radar.local.airflow_env import airflow_background, airflow_cli, airflow_environment, reviewer
from ar_radar.local.reviewer import REVIEWER
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.local.webhook_sink import WebhookSink
from ar_radar.settings import Settings


def run_demo(demo_dir: Path, as_of: date, with_model: bool = True) -> int:
    data_dir, emails_dir, airflow_home = demo_dir / "data", demo_dir / "emails", demo_dir / "airflow"
    # Each demo starts from empty data and inbox (Airflow's metadata database is kept).
    for folder in (data_dir, emails_dir):
        shutil.rmtree(folder, ignore_errors=True)
    airflow_home.mkdir(parents=True, exist_ok=True)
    settings = replace(
        Settings.from_env(),
        data_dir=data_dir,
        db_path=data_dir / "ar_radar.duckdb",
        # customers hear from the business's accounts mailbox, not from AR Radar
        reminder_from="Demo Widgets Accounts <accounts@demowidgets.example>",
        reminder_reply_to="accounts@demowidgets.example",
    )
    print(f"AR Radar demo for {as_of}: sandbox Xero + HubSpot, SMTP sink, Airflow on SQLite in {demo_dir}")
    with Sandbox(as_of=as_of) as box, SmtpSink(emails_dir) as sink, WebhookSink() as slack:
        connections = box.airflow_connections()
        connections["AIRFLOW_CONN_SMTP_DEFAULT"] = sink.airflow_connection()
        # The weekly summary also goes to a (local) Slack channel.
        connections["AIRFLOW_CONN_SLACK_AR_RADAR"] = slack.airflow_connection()
        connections["AR_RADAR_SLACK_CONN_ID"] = "slack_ar_radar"
        if with_model:
            connections.update(box.llm_connection())
        env = airflow_environment(settings, airflow_home, connections)
        print("- airflow db migrate ...")
        migrate = airflow_cli(env, "db", "migrate")
        if migrate.returncode:
            print(migrate.stdout[-3000:], migrate.stderr[-3000:])
            print("airflow db migrate failed; see the output above.")
            return 1
        print("- airflow dags test ar_radar_daily ... (it waits for the reminders' approval)")
        log = demo_dir / "dags_test.log"
        run = airflow_background(env, log, "dags", "test", "ar_radar_daily", as_of.isoformat())
        print(f"- the demo reviewer '{REVIEWER}' approves the batch through Airflow's HITL REST API ...")
        answered = reviewer(env, "answer", "--send")
        if answered.returncode:
            run.kill()  # it would wait for an answer forever
        run.wait(timeout=900)
        output = log.read_text(encoding="utf-8", errors="replace") + answered.stdout + answered.stderr
        log.write_text(output, encoding="utf-8")
        monday = as_of + timedelta(days=7 - as_of.weekday())  # the next Monday: its week holds as_of
        weekly = None
        if run.returncode == 0:
            print(f"- airflow dags test ar_radar_weekly {monday} ... (the owners' report for the week)")
            weekly = airflow_cli(env, "dags", "test", "ar_radar_weekly", monday.isoformat())
            with open(log, "a", encoding="utf-8") as out:
                out.write(weekly.stdout + weekly.stderr)
        if answered.returncode:
            print(answered.stderr[-3000:])
            print("The demo reviewer could not answer the approval; see the output above.")
        received = list(sink.received)
        crm_notes = list(box.hubspot_app.config["created_notes"])
        slack_posts = list(slack.received)
    queue_path = settings.output_dir / f"action_queue_{as_of.isoformat()}.json"
    if run.returncode or answered.returncode or not queue_path.exists() or weekly is None or weekly.returncode:
        print(output[-4000:])
        print(f"The DAG run failed; full log: {demo_dir / 'dags_test.log'}")
        return 1
    summary = json.loads(queue_path.read_text())["summary"]
    overdue = ", ".join(f"{c['base_currency']} {c['overdue_amount_base']:,.2f}" for c in summary["by_currency"])
    print()
    print(
        f"Done. {summary['queued']} customers queued for action ({summary['queued_invoices']} invoices); "
        f"{summary['overdue_invoices']} invoices overdue ({overdue})."
    )
    health = health_summary(settings.db_path, as_of, as_of)
    warnings = json.loads(queue_path.read_text())["data_health_warnings"]
    passed = "passed" if health["days_passed"] else "did not pass"
    print(f"  data health gate  : {passed}, {len(warnings)} warning(s) (listed in the finance email)")
    docs = settings.gx_root / "uncommitted" / "data_docs" / "local_site" / "index.html"
    if docs.exists():  # rendered when a check fails
        print(f"  GX Data Docs      : {docs}")
    print(f"  action queue JSON : {queue_path}")
    with database.connect(settings.db_path, read_only=True) as con:
        tones = dict(
            con.execute(
                "select tone, count(*) from outreach.reminder_drafts where as_of_date = ? group by 1", [as_of]
            ).fetchall()
        )
        writers = dict(
            con.execute(
                "select generator, count(*) from outreach.reminder_drafts where as_of_date = ? group by 1", [as_of]
            ).fetchall()
        )
    print(
        f"  reminder drafts   : {sum(tones.values())} ({', '.join(f'{n} {t}' for t, n in sorted(tones.items()))}; "
        f"written by {', '.join(f'{w} {n}' for w, n in sorted(writers.items()))})"
    )
    print(f"  drafts to review  : {settings.output_dir / f'reminder_drafts_{as_of.isoformat()}.html'}")
    with database.connect(settings.db_path, read_only=True) as con:
        sends = con.execute(
            "select status, count(*) from outreach.reminder_log where as_of_date = ? group by 1 order by 1", [as_of]
        ).fetchall()
        approver = con.execute(
            "select any_value(approved_by) from outreach.reminder_log where as_of_date = ?", [as_of]
        ).fetchone()[0]
    print(
        f"  reminders         : {', '.join(f'{n} {s}' for s, n in sends) or 'none'} (approved by {approver}; "
        "each send and skip with its reason in outreach.reminder_log)"
    )
    print(f"  HubSpot notes     : {len(crm_notes)} (one per reminder sent to a customer with a HubSpot company)")
    previews = settings.output_dir / f"weekly_report_{monday}"
    print(f"  weekly report     : {previews}/ (.eml, .html and charts per organisation; to the owners by email)")
    print(f"  Slack (local)     : {len(slack_posts)} post(s): the weekly summary per organisation")
    print(f"  DuckDB warehouse  : {settings.db_path}")
    print(f"  received emails   : {emails_dir}/ ({len(received)} message(s))")
    for message in received:
        subject = " ".join(str(message.message["Subject"]).split())  # unfolded
        print(f"      to {', '.join(message.recipients)}: {subject}  [{message.path.name}]")
    # (the finance queue first, then each customer's reminder, then the owners' weekly report)
    print(f"  Airflow log       : {demo_dir / 'dags_test.log'}")
    return 0
