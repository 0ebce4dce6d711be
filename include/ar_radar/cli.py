"""Command line: ``python -m ar_radar <command>`` (see ``--help``)."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import click

from ar_radar.settings import Settings


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


@click.group()
@click.option(
    "--shard",
    type=int,
    envvar="AR_RADAR_SHARD",
    help="With AR_RADAR_SHARDS above 1: the shard whose warehouse and folders a command works on.",
)
@click.pass_context
def main(ctx: click.Context, shard: int | None) -> None:
    """AR Radar: accounts-receivable risk pipeline for Xero and HubSpot."""
    ctx.obj = {"shard": shard}


def _settings() -> Settings:
    """The settings from the environment, pointed at --shard's files when sharded."""
    from ar_radar.pipeline.shards import Shard, ShardConfigError, shard_count

    chosen = (click.get_current_context().find_root().obj or {}).get("shard")
    try:
        if chosen is None:
            if shard_count() > 1:
                raise ShardConfigError(f"AR_RADAR_SHARDS={shard_count()}: say which shard (--shard N).")
            return Settings.from_env()
        return Shard.from_env(chosen).settings(Settings.from_env())
    except ShardConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--seed", default=42, show_default=True, help="Seed of the synthetic demo company.")
@click.option("--as-of", callback=_date, help="Day the demo data ends (default: today).")
@click.option("--organisations", default=1, show_default=True, help="Number of Xero organisations.")
@click.option("--fault", "faults", multiple=True, help="Serve a fault mode (e.g. corrupt_invoices).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--xero-port", default=8801, show_default=True)
@click.option("--hubspot-port", default=8802, show_default=True)
@click.option("--xero-client-id", envvar="AR_RADAR_SANDBOX_XERO_CLIENT_ID", help="Default: random.")
@click.option("--xero-client-secret", envvar="AR_RADAR_SANDBOX_XERO_CLIENT_SECRET", help="Default: random.")
@click.option("--hubspot-token", envvar="AR_RADAR_SANDBOX_HUBSPOT_TOKEN", help="Default: random.")
def sandbox(
    seed: int,
    as_of: date | None,
    organisations: int,
    faults: tuple[str, ...],
    host: str,
    xero_port: int,
    hubspot_port: int,
    xero_client_id: str | None,
    xero_client_secret: str | None,
    hubspot_token: str | None,
) -> None:
    """Serve the Xero and HubSpot sandboxes until interrupted; print the connections to use."""
    from ar_radar.local.sandbox.server import Sandbox

    credentials = {
        k: v
        for k, v in {
            "xero_client_id": xero_client_id,
            "xero_client_secret": xero_client_secret,
            "hubspot_token": hubspot_token,
        }.items()
        if v
    }
    with Sandbox(
        seed=seed,
        as_of=as_of,
        organisations=organisations,
        faults=faults,
        host=host,
        xero_port=xero_port,
        hubspot_port=hubspot_port,
        **credentials,
    ) as box:
        click.echo(f"Xero sandbox on {box.xero_url}, HubSpot sandbox on {box.hubspot_url}")
        click.echo("Export these to point AR Radar at it (credentials are random per start):")
        for name, value in box.airflow_connections().items():
            click.echo(f"export {name}='{value}'")
        _wait_forever()


@main.command("smtp-sink")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=Path("data/emails"), show_default=True)
@click.option("--port", default=8025, show_default=True)
def smtp_sink(folder: Path, port: int) -> None:
    """Run a local SMTP server that writes each received message as an .eml file."""
    from ar_radar.local.smtp_sink import SmtpSink

    with SmtpSink(folder, port=port) as sink:
        click.echo(f"SMTP sink on {sink.host}:{sink.port}, writing to {folder}")
        click.echo(f"export AIRFLOW_CONN_SMTP_DEFAULT='{sink.airflow_connection()}'")
        _wait_forever()


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopped")


@main.command()
@click.argument("source", type=click.Choice(["xero", "hubspot"]))
@click.option("--db", "db_path", type=click.Path(path_type=Path), required=True, help="DuckDB file to load into.")
def extract(source: str, db_path: Path) -> None:
    """Extract SOURCE using AIRFLOW_CONN_XERO_DEFAULT / AIRFLOW_CONN_HUBSPOT_DEFAULT and load it into --db.

    Landing files are kept in a ``landing/`` folder beside the DuckDB file.
    """
    from ar_radar.extract.connections import ConnectionConfigError, connection_from_env
    from ar_radar.pipeline import daily
    from ar_radar.raw import store as raw_store

    db_path = db_path.resolve()
    settings = replace(_settings(), db_path=db_path, data_dir=db_path.parent)
    run_id = f"cli__{datetime.now().strftime('%Y%m%dT%H%M%S')}__{uuid.uuid4().hex[:6]}"
    try:
        conn = connection_from_env(f"{source}_default")
        batches = daily.extract(source, conn, settings, run_id)
        results = raw_store.load_landing(settings.db_path, settings.landing_dir)
    except (ConnectionConfigError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    for batch in batches:
        click.echo(f"{source} {batch['entity']} ({batch['tenant_id']}): {batch['records']} records")
    click.echo(f"loaded {sum(r.inserted for r in results)} new record versions into {settings.db_path}")


@main.command("build-warehouse")
@click.option("--as-of", callback=_date, help="Run date (default: today).")
@click.option("--full-refresh", is_flag=True, help="Parse every raw version again (weekly, or after a fix).")
def build_warehouse_command(as_of: date | None, full_refresh: bool) -> None:
    """``dbt build`` of the warehouse in AR_RADAR_DB: incremental (only records with a new raw version are parsed,
    only the customers they touch are recomputed) unless --full-refresh, or the dbt project changed, the last
    build did not finish, or the day is earlier than the last build's."""
    from ar_radar.warehouse.build import WarehouseBuildError, build_warehouse

    settings = _settings()
    if not settings.db_path.exists():
        raise click.ClickException(f"No warehouse at {settings.db_path}: set AR_RADAR_DB (load raw data first).")
    try:
        summary = build_warehouse(settings, as_of or date.today(), full_refresh=full_refresh)
    except WarehouseBuildError as exc:
        raise click.ClickException(str(exc)) from None
    kind = f"full rebuild ({summary.reason})" if summary.full_refresh else "incremental"
    click.echo(f"{kind}: {summary.passed} nodes passed, {summary.warned} warned")


@main.command("dbt-docs")
@click.option("--as-of", callback=_date, help="Run date (default: today).")
def dbt_docs(as_of: date | None) -> None:
    """Generate dbt's documentation site for the warehouse in AR_RADAR_DB."""
    from ar_radar.warehouse.build import generate_docs

    target = generate_docs(_settings(), as_of or date.today())
    click.echo(f"dbt docs written to {target}; serve with: python -m http.server --directory {target}")


@main.command("gx-bootstrap")
def gx_bootstrap() -> None:
    """Rewrite the committed GX suites, validation definitions and checkpoints from expectations/checks.yml."""
    from ar_radar.gate.suites import bootstrap

    settings = _settings()
    bootstrap(settings.gx_root)
    click.echo(f"wrote suites, validation definitions and checkpoints under {settings.gx_root}")


@main.command("check-data-health")
@click.option("--as-of", callback=_date, help="Run date (default: today).")
@click.option("--full", is_flag=True, help="Validate every row, not only the rows changed since the last run.")
def check_data_health_command(as_of: date | None, full: bool) -> None:
    """Run the data-health gate on the warehouse in AR_RADAR_DB and keep its results (no alert is sent).

    Keyed tables are validated where their rows changed since the last run unless --full (weekly, or after
    changing a check by hand); either way the results equal a full validation's."""
    from datetime import datetime

    from ar_radar.gate import history, incremental
    from ar_radar.gate.validate import validate

    settings = _settings()
    if not settings.db_path.exists():
        raise click.ClickException(f"No warehouse at {settings.db_path}: set AR_RADAR_DB (build it first).")
    run_id = f"manual__{datetime.now().strftime('%Y%m%dT%H%M%S')}"
    report = history.add_history(
        settings.db_path,
        validate(
            settings.db_path,
            settings.gx_root,
            run_id,
            as_of or date.today(),
            full,
            keep_results_days=settings.gx_results_keep_days,
        ),
    )
    history.store_report(settings.db_path, report)
    incremental.remember(settings.db_path, run_id, report.row_states, report.raw_counts)
    for state in report.row_states:
        click.echo(
            f"{state.table}: validated {state.rows_validated:,} of {state.rows_in_table:,} rows ({state.reason})"
        )
    for count in report.raw_counts:
        click.echo(f"raw {count.stream}: {count.records:,} records ({count.how})")
    for check in report.critical_failures + report.warnings:
        click.echo(f"{check.severity}: {check.describe()}")
    click.echo(f"run {run_id}: {'passed' if report.passed else 'FAILED'}, {len(report.checks)} checks")


@main.command()
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Invoice history.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--folds", default=5, show_default=True, help="Rolling test windows over the later half of the history.")
@click.option("--grace-days", default=0, show_default=True, help="Paid more than this many days after due = late.")
def backtest(csv_path: str, as_json: bool, folds: int, grace_days: int) -> None:
    """How the payment-risk model would have done on an invoice history CSV.

    Columns: customer_id, invoice_id, invoice_date, due_date (YYYY-MM-DD), amount, paid_date (empty if
    unpaid); optional: disputed, currency, billing_channel, country. Columns that give the outcome away
    (days_late, status, ...) are refused.
    """
    import json

    from ar_radar.scoring.backtest import run_backtest
    from ar_radar.scoring.history_csv import HistoryFormatError, csv_features, read_history
    from ar_radar.warehouse.build import WarehouseBuildError

    try:
        history, optional = read_history(csv_path)
        report = run_backtest(csv_features(history, optional, grace_days), optional, folds, grace_days)
    except (HistoryFormatError, WarehouseBuildError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"{report['invoices_scored']:,} paid invoices scored in {folds} rolling windows; "
        f"{report['late_share']:.1%} paid more than {grace_days} day(s) late"
    )
    rows = {"model": report, **report["baselines"], **report["variants"]}
    click.echo(f"{'':32}{'ROC-AUC':>9}{'PR-AUC':>9}{'Brier':>8}{'MAE days':>10}")
    for name, m in rows.items():
        click.echo(f"{name:32}{m['roc_auc']:>9.3f}{m['pr_auc']:>9.3f}{m['brier']:>8.3f}{m['mae_days']:>10.1f}")
    click.echo("calibration (predicted probability bin: invoices, mean predicted, observed late share)")
    for row in report["calibration"]:
        click.echo(f"  {row['bin']}: {row['invoices']:>7,}  {row['mean_predicted']:.3f}  {row['observed_late']:.3f}")


@main.command("export-history")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_history(csv_path: Path) -> None:
    """Write the warehouse's invoice history (AR_RADAR_DB) in the backtest's CSV format.

    Ids carry their organisation; amounts are in base currency. No dispute column: the warehouse knows when a
    dispute was raised, and a CSV column "ever disputed" would leak the outcome into the backtest."""
    from ar_radar.scoring.features import warehouse_history
    from ar_radar.scoring.history_csv import REQUIRED

    history, _ = warehouse_history(_settings().db_path)
    history = history.rename(columns={"currency_code": "currency"})[[*REQUIRED, "currency"]]
    for column in ("invoice_date", "due_date", "paid_date"):
        history[column] = history[column].dt.strftime("%Y-%m-%d")
    history.to_csv(csv_path, index=False)
    click.echo(f"wrote {len(history):,} invoices to {csv_path}")


@main.command("train-model")
@click.option("--as-of", callback=_date, help="Train on what was known at the start of this day (default: today).")
def train_model(as_of: date | None) -> None:
    """Train each organisation's payment-risk model on the warehouse's history now (the DAG does it weekly),
    backtest it, and record it (models.risk_models)."""
    from ar_radar.scoring.registry import train_due

    settings = _settings()
    for outcome in train_due(settings.db_path, as_of or date.today(), settings.model_dir, force=True):
        click.echo(f"{outcome['tenant_id']}: {outcome['status']}")
        if m := outcome.get("metrics"):
            click.echo(
                f"  {outcome['version']}: backtest ROC-AUC {m['roc_auc']:.3f}, Brier {m['brier']:.3f}, "
                f"MAE {m['mae_days']:.1f} days on {m['invoices_scored']:,} invoices"
            )
            if crm := m.get("crm_signals"):
                click.echo(
                    f"  CRM signals {'kept' if crm['kept'] else 'left out'}: ROC-AUC {crm['with']['roc_auc']:.3f} "
                    f"with them, {crm['without']['roc_auc']:.3f} without; Brier {crm['with']['brier']:.3f} "
                    f"with, {crm['without']['brier']:.3f} without"
                )
        click.echo(f"  in use: {outcome['in_use'] or 'rules-v1 (cold start)'}")


@main.command("draft-reminders")
@click.option("--as-of", callback=_date, help="Draft for the scores of this day (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the drafts as one JSON array.")
def draft_reminders(as_of: date | None, as_json: bool) -> None:
    """Draft one reminder per customer who needs one, from the scores in AR_RADAR_DB, keep them
    (outreach.reminder_drafts) and print them. A model writes the prose when AIRFLOW_CONN_OPENAI_DEFAULT is set
    (else templates); payment links come from Xero when AIRFLOW_CONN_XERO_DEFAULT is set. Nothing is sent."""
    import json

    from ar_radar.extract.connections import ConnectionConfigError, connection_from_env
    from ar_radar.outreach import drafts as outreach_drafts
    from ar_radar.outreach import llm, payment_links, review

    settings = _settings()
    as_of = as_of or date.today()
    model = llm.load_config()
    links = lambda tenant_id, invoice_id: None  # noqa: E731 - no Xero connection: drafts carry no link
    try:
        links = payment_links.xero_payment_links(connection_from_env(settings.xero_conn_id), settings.shared_state_dir)
    except ConnectionConfigError:
        pass
    options = outreach_drafts.DraftOptions.from_settings(settings)
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    drafts = outreach_drafts.draft_reminders(settings.db_path, as_of, run_id, model, links, options=options)
    page = review.write_review_page(settings.db_path, as_of, settings.output_dir)
    if as_json:
        click.echo(json.dumps(outreach_drafts.as_json(drafts), ensure_ascii=False, default=str))
        return
    click.echo(f"{len(drafts)} draft(s) for {as_of}; writer: {'model ' + model.model if model else 'templates'}")
    click.echo(f"review page: {page}")
    for draft in drafts:
        to = ", ".join(draft.recipients) or ("(internal)" if not draft.to_customer else "(no email address)")
        click.echo(f"\n[{draft.tone}] {draft.customer_name} -> {to}  ({draft.generator}, {draft.language})")
        if draft.fallback_reason and model:
            click.echo(f"  fell back: {draft.fallback_reason}; {'; '.join(draft.guardrails)}")
        for flag in draft.flags:
            click.echo(f"  flag: {flag}")
        cause = draft.summary.get("cause", "unknown")
        cited = ", ".join(draft.summary.get("evidence") or []) or "no evidence"
        click.echo(f"  likely cause: {cause.replace('_', ' ')} ({cited})")
        click.echo(f"Subject: {draft.subject}")
        click.echo(draft.text)


@main.command("opt-out")
@click.option("--tenant", "tenant_id", required=True, help="Xero organisation id.")
@click.option("--contact", "contact_id", required=True, help="Xero ContactID of the customer.")
@click.option("--note", default="", help="Who asked, when.")
@click.option("--undo", is_flag=True, help="Lift the opt-out.")
def opt_out(tenant_id: str, contact_id: str, note: str, undo: bool) -> None:
    """Stop (or resume) automated reminders to a customer (table outreach.opt_outs in AR_RADAR_DB)."""
    from ar_radar.outreach.sending import opt_out as record

    record(_settings().db_path, tenant_id, contact_id, note, undo)
    click.echo(f"{'resumed' if undo else 'opted out'}: {tenant_id} / {contact_id}")


@main.command("health-history")
@click.option("--days", default=7, show_default=True, help="How many days back from --until.")
@click.option("--until", callback=_date, help="Last day (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def health_history(days: int, until: date | None, as_json: bool) -> None:
    """How healthy the data was: days the gate passed, and each check that failed, how often and when last."""
    import json
    from datetime import timedelta

    from ar_radar.gate.history import health_summary

    end = until or date.today()
    summary = health_summary(_settings().db_path, end - timedelta(days=days - 1), end)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    passed, checked = summary["days_passed"], summary["days_checked"]
    click.echo(f"{summary['start']} to {summary['end']}: gate passed {passed} of {checked} day(s) checked")
    for day in summary.get("daily", []):
        click.echo(f"  {day['date']}  {'passed' if day['passed'] else 'FAILED'}")
    for f in summary["failing"]:
        where = f"{f['table']}.{f['column']}" if f["column"] else f["table"]
        click.echo(
            f"  {f['severity']:8} {where}: {f['check']} failed on {f['days_failed']} day(s), last {f['last_failed']}"
        )


@main.command("weekly-report")
@click.option("--as-of", callback=_date, help="The report's day, usually a Monday (default: today).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder for the preview.")
def weekly_report(as_of: date | None, out_dir: Path) -> None:
    """Write each organisation's weekly report (.eml, its HTML and PNGs) without sending it (database: AR_RADAR_DB)."""
    from ar_radar.outreach import llm
    from ar_radar.pipeline.weekly import weekly_reports
    from ar_radar.weekly_report.message import write_preview

    day = as_of or date.today()
    settings = _settings()
    if not settings.db_path.exists():
        raise click.ClickException(f"No warehouse at {settings.db_path}: set AR_RADAR_DB or run the daily DAG first.")
    # The summary's sentences come from the model when AIRFLOW_CONN_OPENAI_DEFAULT is set, as in the DAG.
    for report, email, html in weekly_reports(settings, day, model=llm.load_config()):
        path = write_preview(email, html, out_dir, report.organisation_name.replace("/", "-"))
        click.echo(f"{report.organisation_name}: {path} (to {email['To']})")
        click.echo(f"  {report.summary}")


@main.command("create-pools")
def create_pools_command() -> None:
    """Create or resize the Airflow pools the daily DAGs use (run where Airflow's metadata database is reachable,
    as the compose file's init step does)."""
    from ar_radar.pipeline.pools import create_pools

    for spec in create_pools():
        click.echo(f"pool {spec.name}: {spec.slots} slots ({spec.description})")


@main.command("practice-overview")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write it here.")
def practice_overview_command(csv_path: Path | None) -> None:
    """Every organisation of every shard side by side, from the Parquet files each shard's daily run publishes."""
    from ar_radar.pipeline.shards import published_folder
    from ar_radar.weekly_report.practice import NothingPublished, practice_overview

    try:
        overview = practice_overview(published_folder(Settings.from_env()))
    except NothingPublished as exc:
        raise click.ClickException(str(exc)) from None
    if csv_path:
        csv_path.write_text(overview.csv(), encoding="utf-8")
    for row in overview.rows:
        click.echo(
            f"{row['shard']}  {row['organisation_name']}: {row['open_invoices']} open, "
            f"{row['open_ar_base']:,.2f} {row['base_currency']} ({row['overdue_percent']}% overdue), "
            f"high risk {row['high_risk_ar_base']:,.2f}, DSO {row['dso_last_month']} (as of {row['as_of_date']})"
        )


@main.command()
@click.option("--as-of", callback=_date, help="Run date (default: today).")
@click.option("--dir", "demo_dir", type=click.Path(path_type=Path), default=Path(".demo"), show_default=True)
@click.option("--no-model", is_flag=True, help="Leave the sandbox LLM out: the templates write every draft.")
def demo(as_of: date | None, demo_dir: Path, no_model: bool) -> None:
    """Run the daily DAG once on the sandbox with a local SMTP sink; print where the results are."""
    from ar_radar.local.demo import run_demo

    sys.exit(run_demo(demo_dir.resolve(), as_of or date.today(), with_model=not no_model))
