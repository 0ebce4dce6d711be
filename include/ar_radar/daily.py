"""The daily pipeline's steps, one function each, as the DAG's tasks call them.

Each step takes plain values, returns a small JSON-able summary (for XCom and logs) and keeps
Airflow out of the pipeline's logic, so every step can be run and tested without a scheduler.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

from ar_radar import action_queue, data_health, notify, raw_store, risk_score, warehouse
from ar_radar.connections import ApiConnection
from ar_radar.extract.hubspot import extract_hubspot
from ar_radar.extract.xero import extract_xero
from ar_radar.landing import safe_name
from ar_radar.settings import Settings

log = logging.getLogger(__name__)


def extract(source: str, conn: ApiConnection, settings: Settings, run_id: str) -> list[dict]:
    extractor = {"xero": extract_xero, "hubspot": extract_hubspot}[source]
    batches = extractor(conn, settings.landing_dir, run_id)
    return [
        {"entity": b.entity, "tenant_id": b.tenant_id, "records": b.records, "missing_id": b.missing_id}
        for b in batches
    ]


def load_raw(settings: Settings, run_id: str) -> dict:
    results = raw_store.load_landing(settings.db_path, settings.landing_dir / safe_name(run_id))
    log.info("raw load: %s", {r.table: r.inserted for r in results})
    return {
        "files": len(results),
        "inserted": sum(r.inserted for r in results),
        "missing_id": sum(r.missing_id for r in results),
    }


def build_warehouse(settings: Settings, as_of: date) -> dict:
    summary = warehouse.build_warehouse(settings, as_of)
    return {"passed": summary.passed, "warned": summary.warned, "warnings": list(summary.warnings)}


def check_data_health(settings: Settings, run_id: str, as_of: date) -> dict:
    report = data_health.validate(settings.db_path, settings.gx_root, run_id, as_of)
    data_health.store_report(settings.db_path, report)
    return report.to_dict()


def send_data_health_alert(settings: Settings, report_dict: dict) -> dict:
    report = data_health.HealthReport.from_dict(report_dict)
    last = data_health.last_passing_run(settings.db_path, report.run_id)
    email = notify.data_health_alert(report, settings.owner_recipients, last)
    sent = notify.send_once(settings.db_path, email, settings.smtp_conn_id, settings.email_from)
    return {"sent": sent, "subject": email.subject, "failures": [c.describe() for c in report.critical_failures]}


def score(settings: Settings, as_of: date) -> dict:
    scored = risk_score.score_open_invoices(settings.db_path, as_of)
    return {"scored": len(scored), "by_band": scored["risk_band"].value_counts().to_dict()}


def build_queue(settings: Settings, as_of: date, report_dict: dict) -> str:
    warnings = [c.describe() for c in data_health.HealthReport.from_dict(report_dict).warnings]
    queue = action_queue.build_action_queue(settings.db_path, as_of, warnings)
    return str(action_queue.write_action_queue(queue, settings.output_dir))


def email_queue(settings: Settings, queue_path: str) -> dict:
    path = Path(queue_path)
    queue = json.loads(path.read_text(encoding="utf-8"))
    email = notify.queue_email(queue, settings.finance_recipients, path)
    sent = notify.send_once(settings.db_path, email, settings.smtp_conn_id, settings.email_from)
    return {"sent": sent, "subject": email.subject, "queued": queue["summary"]["queued"]}
