"""The daily pipeline's steps, one function each, as the DAG's tasks call them.

Each step takes plain values, returns a small JSON-able summary (for XCom and logs) and keeps
Airflow out of the pipeline's logic, so every step can be run and tested without a scheduler.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
from datetime import date
from functools import partial
from pathlib import Path

from ar_radar.actions import queue as action_queue
from ar_radar.extract import hubspot, xero
from ar_radar.extract.connections import ApiConnection
from ar_radar.gate import history as gate_history
from ar_radar.gate import incremental as gate_incremental
from ar_radar.gate import validate as gate
from ar_radar.gate.report import GateNotPassed, HealthReport
from ar_radar.notify import chat, messages
from ar_radar.notify.send import deliver, send_once
from ar_radar.outreach import drafts as outreach_drafts
from ar_radar.outreach import llm, payment_links, review
from ar_radar.pipeline import shards
from ar_radar.raw import store as raw_store
from ar_radar.scoring import registry
from ar_radar.scoring import score as scoring
from ar_radar.settings import Settings
from ar_radar.warehouse import build as warehouse
from ar_radar.warehouse import publish

log = logging.getLogger(__name__)


def _batches(batches: list) -> list[dict]:
    return [
        {"entity": b.entity, "tenant_id": b.tenant_id, "records": b.records, "missing_id": b.missing_id}
        for b in batches
    ]


def list_xero_organisations(conn: ApiConnection, settings: Settings) -> list[dict]:
    """The organisations this warehouse extracts: every one the token reaches, or this shard's share."""
    api = xero.XeroApi(conn, xero.token_store_path(conn, settings.shared_state_dir))
    return [o for o in xero.list_tenants(api, conn) if settings.owns(o["tenant_id"], o.get("tenant_name"))]


def organisation_batches(organisations: list[dict], max_map_length: int) -> list[list[dict]]:
    """One batch per organisation, unless there are more than Airflow maps (``max_map_length``): then as few
    batches as that allows, each extracted one organisation after another."""
    size = max(1, math.ceil(len(organisations) / max_map_length))
    return [organisations[i : i + size] for i in range(0, len(organisations), size)]


def extract_xero(conn: ApiConnection, settings: Settings, run_id: str, organisations: list[dict]) -> dict:
    """A batch of organisations (from organisation_batches). An organisation whose day limit is used up keeps its
    checkpoint and resumes next run while the others go on; XeroDayLimitReached only when every one of them hit it."""
    tokens = settings.shared_state_dir
    results = xero.extract_xero(
        conn, settings.landing_dir, run_id, settings.state_dir, tenants=organisations, token_root=tokens
    )
    limited = [r.message for r in results if r.status == "day_limit"]
    if limited and len(limited) == len(results):
        raise xero.XeroDayLimitReached("; ".join(limited))
    for message in limited:
        log.warning("%s", message)
    return {
        "organisations": [
            {"tenant_id": r.tenant_id, "status": r.status, "calls": r.calls, "streams": _batches(r.batches)}
            for r in results
        ],
        "day_limited": limited,
    }


def extract_hubspot(conn: ApiConnection, settings: Settings, run_id: str) -> list[dict]:
    """Every HubSpot object type changed since its checkpoint. Shards share one extraction: the checkpoints and
    landing files are the shared folder's, and a file lock lets one shard extract at a time, so the first of the day
    reads the changes and the others find next to nothing new (each loads every file it has not loaded yet)."""
    # every shard's run has the same run id (scheduled__<date>): its own landing folder keeps the files apart
    folder = run_id if settings.shard is None else f"{run_id}__{settings.shard.name}"
    settings.shared_state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.shared_state_dir / "hubspot.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        batches = hubspot.extract_hubspot(conn, settings.hubspot_landing_dir, folder, settings.shared_state_dir)
    return _batches(batches)


def extract(source: str, conn: ApiConnection, settings: Settings, run_id: str) -> list[dict]:
    """Every organisation of a source in one go (CLI and tests; the DAG maps Xero per organisation)."""
    if source == "hubspot":
        return extract_hubspot(conn, settings, run_id)
    tokens = settings.shared_state_dir
    results = xero.extract_xero(conn, settings.landing_dir, run_id, settings.state_dir, token_root=tokens)
    for result in results:
        if result.status != "complete":
            log.warning("%s", result.message)
    return [b for r in results for b in _batches(r.batches)]


def send_reconnect_alert(settings: Settings, message: str) -> bool:
    email = messages.reconnect_alert(message, settings.owner_recipients)
    return send_once(settings.db_path, email, settings.smtp_conn_id, settings.email_from)


def load_raw(settings: Settings) -> dict:
    """Load every landing file not loaded yet (this run's, and any a failed run left behind); a shard also loads
    the shared HubSpot extracts."""
    results = raw_store.load_landing(settings.db_path, settings.landing_dir)
    if settings.hubspot_landing_dir != settings.landing_dir:
        results += raw_store.load_landing(settings.db_path, settings.hubspot_landing_dir)
    log.info("raw load: %s", {r.table: r.inserted for r in results})
    return {
        "files": len(results),
        "inserted": sum(r.inserted for r in results),
        "missing_id": sum(r.missing_id for r in results),
    }


def build_warehouse(settings: Settings, as_of: date, full_refresh: bool = False) -> dict:
    """Incremental, unless ``full_refresh`` (the run's param) or something else forces a full rebuild."""
    summary = warehouse.build_warehouse(settings, as_of, full_refresh=full_refresh)
    return {
        "passed": summary.passed,
        "warned": summary.warned,
        "warnings": list(summary.warnings),
        "full_refresh": summary.full_refresh,
        "full_refresh_reason": summary.reason,
    }


def check_data_health(settings: Settings, run_id: str, as_of: date) -> dict:
    """Validate, keep the results, and on a critical failure alert the owners (once) and raise
    GateNotPassed naming the failed checks."""
    report = gate_history.add_history(
        settings.db_path,
        gate.validate(
            settings.db_path, settings.gx_root, run_id, as_of, keep_results_days=settings.gx_results_keep_days
        ),
    )
    gate_history.store_report(settings.db_path, report)
    gate_incremental.remember(settings.db_path, run_id, report.row_states, report.raw_counts)
    if not report.passed:
        alert = send_data_health_alert(settings, report)
        sent = "owners alerted" if alert["sent"] else "owners already alerted for these failures today"
        raise GateNotPassed(
            f"Data-health gate failed ({sent}; scoring and the queue are skipped): " + "; ".join(alert["failures"])
        )
    return {
        "passed": True,
        "checks": len(report.checks),
        "warnings": [c.describe() for c in report.warnings],
        "rows_validated": {s.table: f"{s.rows_validated} of {s.rows_in_table} ({s.reason})" for s in report.row_states},
    }


def send_data_health_alert(settings: Settings, report: HealthReport) -> dict:
    last = gate_history.last_passing_run(settings.db_path, report.run_id)
    email = messages.data_health_alert(report, settings.owner_recipients, last, settings.data_docs_url)
    sent = send_once(settings.db_path, email, settings.smtp_conn_id, settings.email_from)
    failures = [c.describe() for c in report.critical_failures]
    text = f"{email.subject}\nLast healthy run: {last or 'none on record'}.\n" + "\n".join(f"- {f}" for f in failures)
    chat.post_once(settings.db_path, settings.slack_conn_id, email.kind, email.dedupe_key, text)
    return {"sent": sent, "subject": email.subject, "failures": failures}


def train_risk_models(settings: Settings, run_id: str, as_of: date) -> list[dict]:
    """The weekly retrain, only if the gate passed this run (else GateNotPassed): each organisation
    whose newest model is a week old (or that has none) gets one trained on its own invoices, if it has enough
    history; scoring then uses its newest model that is not worse than the one before."""
    gate_history.require_passed(settings.db_path, run_id)
    outcomes = registry.train_due(settings.db_path, as_of, settings.model_dir)
    for outcome in outcomes:
        log.info("risk model %s: %s; in use: %s", outcome["tenant_id"], outcome["status"], outcome["in_use"])
    return [{k: v for k, v in o.items() if k != "metrics"} for o in outcomes]


def score_open_invoices(settings: Settings, run_id: str, as_of: date) -> dict:
    """Score open invoices, only if the gate passed this run (else GateNotPassed)."""
    gate_history.require_passed(settings.db_path, run_id)
    scored = scoring.score_open_invoices(settings.db_path, as_of)
    return {
        "scored": len(scored),
        "by_band": scored["risk_band"].value_counts().to_dict(),
        "by_model": scored["model_version"].value_counts().to_dict(),
    }


def publish_marts(settings: Settings, run_id: str, as_of: date) -> dict:
    """This warehouse's marts and scores as Parquet for the practice's reports across shards (gate passed only)."""
    gate_history.require_passed(settings.db_path, run_id)
    folder = shards.published_folder(settings) / (settings.shard.name if settings.shard else "shard-0")
    published = publish.publish_marts(settings.db_path, as_of, folder, settings.owns)
    return {"folder": str(published.folder), "rows": published.rows}


def build_action_queue(settings: Settings, run_id: str, as_of: date) -> str:
    """The action queue, with the gate's warnings for this run in its footer."""
    report = gate_history.require_passed(settings.db_path, run_id)
    queue = action_queue.build_action_queue(settings.db_path, as_of, [c.describe() for c in report.warnings])
    return str(action_queue.write_action_queue(queue, settings.output_dir))


def draft_reminders(
    settings: Settings, run_id: str, as_of: date, xero_conn: ApiConnection | None, model: llm.LlmConfig | None
) -> dict:
    """One reminder draft per customer who needs one, only if the gate passed this run (else GateNotPassed);
    with the model when one is configured, from the templates otherwise."""
    gate_history.require_passed(settings.db_path, run_id)
    links = payment_links.xero_payment_links(xero_conn, settings.shared_state_dir) if xero_conn else (lambda t, i: None)
    options = outreach_drafts.DraftOptions.from_settings(settings)
    drafts = outreach_drafts.draft_reminders(settings.db_path, as_of, run_id, model, links, options=options)
    page = review.write_review_page(settings.db_path, as_of, settings.output_dir)
    link = f"{settings.review_url.rstrip('/')}/{page.name}" if settings.review_url else None
    return {
        **outreach_drafts.tally(drafts, model),
        "review_page": str(page),
        "approval_body": review.approval_body(settings.db_path, as_of, link),
    }


def send_reminders(
    settings: Settings,
    run_id: str,
    as_of: date,
    approval_result: dict | None,
    xero_conn: ApiConnection,
    hubspot_conn: ApiConnection | None,
) -> dict:
    """The approved reminders, each after a last-moment check against Xero (and HubSpot), sent once."""
    from ar_radar.outreach.sending import Approval

    return _send(settings, run_id, as_of, Approval.from_hitl(approval_result), xero_conn, hubspot_conn)


def send_auto_reminders(
    settings: Settings, run_id: str, as_of: date, xero_conn: ApiConnection, hubspot_conn: ApiConnection | None
) -> dict:
    """The drafts the auto-send rule let through (none unless finance turned it on), with the same checks."""
    from ar_radar.outreach.sending import Approval

    return _send(settings, run_id, as_of, Approval.auto_send_rule(), xero_conn, hubspot_conn)


def _send(
    settings: Settings,
    run_id: str,
    as_of: date,
    approval: object,
    xero_conn: ApiConnection,
    hubspot_conn: ApiConnection | None,
) -> dict:
    from ar_radar.extract.xero import XeroApi, token_store_path
    from ar_radar.outreach import crm_activity, sending

    gate_history.require_passed(settings.db_path, run_id)
    xero_api = XeroApi(xero_conn, token_store_path(xero_conn, settings.shared_state_dir))
    crm = crm_activity.CrmActivity(hubspot_conn) if hubspot_conn else None

    outcomes = sending.send_reminders(
        settings.db_path,
        as_of,
        run_id,
        approval,
        settings.send_options(),
        partial(deliver, settings.smtp_conn_id),
        xero_api.invoices_by_id,
        crm.changed_since if crm else None,
        crm.note_on_company if crm else None,
    )
    by_status: dict[str, int] = {}
    for out in outcomes:
        by_status[out.status] = by_status.get(out.status, 0) + 1
    return {"approval": approval.decision, "approved_by": approval.by, "by_status": by_status}


def queue_path(settings: Settings, as_of: date) -> Path:
    return settings.output_dir / action_queue.file_name(as_of.isoformat())


def email_action_queue(settings: Settings, queue_path: str, approval_url: str | None = None) -> dict:
    """The queue to finance, linking each customer's draft on the day's review page (attached, or linked when the
    output folder is served). Without drafts (their task failed) the queue still goes, saying nothing of them."""
    path = Path(queue_path)
    queue = json.loads(path.read_text(encoding="utf-8"))
    page = settings.output_dir / review.page_name(queue["as_of_date"])
    page = page if page.exists() else None
    drafts = review.draft_index(settings.db_path, queue["as_of_date"]) if page else {}
    email = messages.queue_email(
        queue, settings.finance_recipients, path, drafts, page, settings.review_url, approval_url if drafts else None
    )
    sent = send_once(settings.db_path, email, settings.smtp_conn_id, settings.email_from)
    return {"sent": sent, "subject": email.subject, "queued": queue["summary"]["queued"], "drafts_linked": len(drafts)}
