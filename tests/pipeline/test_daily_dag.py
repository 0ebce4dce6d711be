"""The whole daily DAG under `airflow dags test`: sandbox APIs over HTTP, real dbt, GX, DuckDB, SMTP."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path

import duckdb
import pytest
from ar_radar.local.airflow_env import airflow_background, airflow_environment, reviewer
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import Received, SmtpSink

from tests.conftest import AS_OF, SANDBOX_CURRENCIES, make_settings

pytestmark = pytest.mark.dag


@dataclass
class DagRun:
    returncode: int
    output: str
    states: dict[str, str]
    received: list[Received]
    raw_counts: dict[str, int]


def _states(airflow_home: Path) -> dict[str, str]:
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        run_id = con.execute("select run_id from dag_run order by id desc limit 1").fetchone()[0]
        rows = con.execute("select task_id, map_index, state from task_instance where run_id = ?", [run_id])
        return {task if index < 0 else f"{task}[{index}]": state for task, index, state in rows}


def _email_text(mail: Received) -> str:
    """Headers, body and attachments, decoded (the .eml's body is base64: grep would find nothing)."""
    parts = [str(mail.message)] + [part.get_content() for part in mail.message.walk() if not part.is_multipart()]
    return "\n".join(p if isinstance(p, str) else p.decode(errors="replace") for p in parts)


def _raw_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'raw' "
                "and table_name not in ('load_log', 'missing_fields')"
            ).fetchall()
        ]
        return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def _run(env: dict, airflow_home: Path, sink: SmtpSink, db: Path, conf: dict | None = None) -> DagRun:
    """One `airflow dags test` (with the run's `conf`, if any); when it asks for the reminders' approval, the reviewer
    sends none (the sending is tests/pipeline/test_reminders_dag.py's)."""
    log = airflow_home / f"dags-test-{time.time_ns()}.log"
    options = ("--conf", json.dumps(conf)) if conf else ()
    run = airflow_background(env, log, "dags", "test", *options, "ar_radar_daily", AS_OF.isoformat())
    while run.poll() is None:
        reviewer(env, "answer", "--none", "--wait", "5")
    logs = "\n".join(p.read_text(errors="replace") for p in (airflow_home / "logs").rglob("*") if p.is_file())
    return DagRun(
        run.returncode,
        log.read_text(errors="replace") + logs,
        _states(airflow_home),
        list(sink.received),
        _raw_counts(db),
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, airflow_db):
    """Yields a function running the DAG against a sandbox with the given faults, once per entry of `confs` (each
    run's conf, None for a scheduled run's)."""

    def run(faults: tuple[str, ...] = (), confs=(None,), configure=None, model: bool = False, **sandbox_args):
        tmp = tmp_path_factory.mktemp("e2e")
        settings = make_settings(tmp / "data")
        with (
            Sandbox(
                as_of=AS_OF, organisations=2, base_currencies=SANDBOX_CURRENCIES, faults=faults, **sandbox_args
            ) as box,
            SmtpSink(tmp / "emails") as sink,
        ):
            if configure:
                configure(box)
            connections = {**box.airflow_connections(), "AIRFLOW_CONN_SMTP_DEFAULT": sink.airflow_connection()}
            if model:  # the sandbox LLM as openai_default: drafts' prose through the openai client
                connections.update(box.llm_connection())
            env = airflow_environment(settings, tmp / "airflow", connections)
            (tmp / "airflow").mkdir()
            shutil.copy(airflow_db, tmp / "airflow" / "airflow.db")  # migrated once per session
            runs = [_run(env, tmp / "airflow", sink, settings.db_path, conf) for conf in confs]
            return box, settings, runs, box.secrets()

    return run


@pytest.fixture(scope="module")
def healthy(pipeline):
    """Three runs of the day: the first, a re-run, and a re-run that asks for the full rebuild."""
    return pipeline(confs=(None, None, {"full_refresh": True}), model=True)


def test_healthy_run_emails_the_queue_to_finance(healthy):
    box, settings, (first, *_), _ = healthy
    assert first.returncode == 0, first.output[-4000:]
    assert set(first.states.values()) <= {"success", "skipped"}
    assert first.states["fail_run_if_a_step_failed"] == "skipped"
    [mail] = first.received
    assert mail.recipients == ["finance@example.com"]
    assert mail.message["Subject"].startswith(f"AR Radar action queue {AS_OF}:")
    html = mail.message.get_body(("html",)).get_content()
    overdue = {n for c in box.companies for n in c.open_overdue_invoice_numbers()}
    paid = {n for c in box.companies for n in c.paid_invoice_numbers()}
    assert overdue and all(f">{n}<" in html for n in overdue)
    # Invoice numbers repeat across the two organisations: only numbers paid in both must be absent.
    paid_everywhere = paid - {n for c in box.companies for n, t in c.truth.items() if t["state"] == "open"}
    assert paid_everywhere and not any(f">{n}<" in html for n in paid_everywhere)
    attachments = {part.get_filename(): part for part in mail.message.iter_attachments()}
    assert set(attachments) == {f"action_queue_{AS_OF}.json", f"reminder_drafts_{AS_OF}.html"}
    queue = json.loads(attachments[f"action_queue_{AS_OF}.json"].get_content())
    assert queue["as_of_date"] == AS_OF.isoformat()
    assert {i["tenant_id"] for i in queue["items"]} == {c.tenant_id for c in box.companies}
    # the run trained each organisation's model, and every queued score carries it and its reasons
    for invoice in (i for item in queue["items"] for i in item["invoices"]):
        assert invoice["model_version"].startswith("gam-") and len(invoice["risk"]["top_factors"]) == 3
        assert invoice["risk"]["basis"].startswith(f"Model {invoice['model_version']}")
    assert len({o["model_versions"] for o in queue["organisations"]}) == 2
    by_currency = {c["base_currency"]: c for c in queue["summary"]["by_currency"]}
    assert sorted(by_currency) == ["EUR", "GBP"]  # one organisation each: never added together
    for c in by_currency.values():
        assert 0 < c["expected_cash_in_7_days_base"] < c["expected_cash_in_30_days_base"] < c["open_amount_base"]
    assert (
        " overdue" in mail.message["Subject"]
        and "GBP " in mail.message["Subject"]
        and " EUR " in mail.message["Subject"]
    )
    assert (settings.output_dir / f"action_queue_{AS_OF}.json").exists()
    assert mail.path.suffix == ".eml" and mail.path.exists()
    # a draft per customer who needs one, its prose by the sandbox LLM, with Xero's payment link,
    # each one named in the email and shown with its evidence on the attached review page
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        drafts = con.execute(
            "select tone, generator, text_body, subject, customer_name from outreach.reminder_drafts "
            "where as_of_date = ?",
            [AS_OF],
        ).fetchall()
    assert drafts and {g for _, g, *_ in drafts} == {"model:sandbox-writer-1"}
    assert all("https://in.xero.com/" in text for tone, _, text, *_ in drafts if tone in ("light", "direct"))
    drafted = [i for i in queue["items"] if i["action"]["code"] in ("light_reminder", "direct_reminder")]
    assert len(drafted) == sum(tone in ("light", "direct") for tone, *_ in drafts)
    page = attachments[f"reminder_drafts_{AS_OF}.html"].get_content()
    page = page if isinstance(page, str) else page.decode()
    for number, (_, _, _, subject, customer) in enumerate(drafts, start=1):
        assert f"Draft {number}: " in html and escape(subject) in html and escape(customer) in page
    assert html.count("Draft ") >= len(drafts) and "Likely cause of the delay" in page


def test_rerun_adds_no_rows_and_sends_no_second_email(healthy):
    _, settings, (first, second, _), _ = healthy
    assert second.returncode == 0, second.output[-4000:]
    assert len(second.received) == 1  # still the one message from the first run
    assert second.raw_counts == first.raw_counts and first.raw_counts["xero_invoices"] > 3000
    with duckdb.connect(str(settings.db_path), read_only=True) as con:  # retrained weekly, not per run
        assert con.execute("select count(*) from models.risk_models").fetchone()[0] == 2


def test_a_run_builds_incrementally_unless_it_asks_for_the_full_rebuild(healthy):
    _, settings, (first, _, full), _ = healthy
    assert full.returncode == 0, full.output[-4000:]
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        builds = con.execute("select full_refresh, finished from ops.warehouse_builds order by built_at").fetchall()
    # the first build is full (nothing built yet), the re-run's incremental, the asked-for one full; all finished
    assert builds == [(True, True), (False, True), (True, True)]
    assert len(full.received) == 1 and full.raw_counts == first.raw_counts  # and it sent nothing again
    assert full.states["build_warehouse"] == "success" and full.states["email_action_queue"] == "success"


def test_no_secret_reaches_logs_or_emails(healthy):
    _, _, runs, secrets = healthy
    assert len(secrets) >= 3
    emails = "\n".join(_email_text(m) for m in runs[0].received)
    assert "INV-" in emails  # decoded: a secret in the body would show
    for secret in secrets:
        for run in runs:
            assert secret not in run.output
        assert secret not in emails


@pytest.fixture(scope="module")
def broken(pipeline):
    """Corrupt invoices (negative amounts, no currency) and an API change (Total sent as text), at once."""

    def change_schema(box):
        box.xero_faults.drift = "change_type"

    return pipeline(faults=("corrupt_invoices",), configure=change_schema)


def test_gate_failure_shows_the_gate_failed_and_the_rest_skipped(broken):
    _, _, [run], _ = broken
    assert run.returncode != 0
    assert run.states["check_data_health"] == "failed"
    for task in (
        "train_risk_models",
        "score_open_invoices",
        "build_action_queue",
        "email_action_queue",
        "draft_reminders",
    ):
        assert run.states[task] == "skipped", task
    assert run.states["fail_run_if_a_step_failed"] == "failed"  # the run is red, not green-with-skips
    assert "Data-health gate failed" in run.output and "owners alerted" in run.output


def test_gate_failure_alerts_owners_once_with_every_failed_check(broken):
    _, settings, [run], _ = broken
    [mail] = run.received  # one alert for the run, however many checks failed
    assert mail.recipients == ["owners@example.com"]
    assert "data-health alert" in mail.message["Subject"]
    html = mail.message.get_body(("html",)).get_content()
    for text in ("amount_due", "currency_code", "xero_invoices.Total: expected number, arrived as VARCHAR"):
        assert text in html, text
    assert "What to do" in html and "Open the example invoices in Xero" in html and "staging model" in html
    attached = {part.get_filename() for part in mail.message.iter_attachments()}
    assert {"ar_radar_frames-stg_xero__invoices.html", "ar_radar_frames-source_schema.html"} <= attached
    assert not (settings.output_dir / f"action_queue_{AS_OF}.json").exists()
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        scored = con.execute("select count(*) from duckdb_tables() where schema_name = 'scoring'").fetchone()[0]
    assert scored == 0


def test_gate_failure_keeps_the_raw_data_as_served(broken):
    box, settings, [run], _ = broken
    served = {i["InvoiceID"]: float(i["AmountDue"]) for c in box.companies for i in c.invoices if i["Type"] == "ACCREC"}
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        landed = dict(
            con.execute("select record_id, (payload->>'AmountDue')::double from raw.xero_invoices").fetchall()
        )
    assert landed == served  # including the corrupt (negative) amounts: nothing dropped or "fixed"
    assert any(v < 0 for v in landed.values())
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        types = con.execute("select distinct json_type(payload->'Total') from raw.xero_invoices").fetchall()
    assert types == [("VARCHAR",)]  # the changed type is kept as Xero sent it


def test_a_day_limited_organisation_is_skipped_and_the_others_are_queued(pipeline):
    def block_first(box):
        box.xero_faults.day_429_tenants.add(box.companies[0].tenant_id)

    box, settings, [run], _ = pipeline(configure=block_first)
    assert run.returncode == 0, run.output[-4000:]
    assert sorted(v for k, v in run.states.items() if k.startswith("extract_xero[")) == ["skipped", "success"]
    assert run.states["load_raw"] == run.states["email_action_queue"] == "success"
    [mail] = run.received
    queue = json.loads(next(mail.message.iter_attachments()).get_content())
    assert {i["tenant_id"] for i in queue["items"]} == {box.companies[1].tenant_id}


def test_a_dead_refresh_token_stops_xero_and_asks_the_owners_to_reconnect(pipeline):
    def forget_token(box):  # Xero no longer knows the connection's refresh token (revoked, or rotated away)
        box.xero_app.config["refresh_tokens"].pop("stale-refresh-token")

    box, settings, [run], secrets = pipeline(configure=forget_token, xero_refresh_token="stale-refresh-token")
    assert run.states["list_xero_organisations"] == "failed"
    assert run.states["email_action_queue"] == "skipped"
    assert run.states["fail_run_if_a_step_failed"] == "failed"
    [mail] = run.received
    assert mail.recipients == ["owners@example.com"] and "reconnect Xero" in mail.message["Subject"]
    text = _email_text(mail)
    assert "Reconnect Xero" in text and "invalid_grant" in text
    assert not any(secret in text for secret in secrets)
