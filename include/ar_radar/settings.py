"""Where things live and who gets mail: read from the environment, with local defaults."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ar_radar.gate.results_retention import KEEP_DAYS

# include/ar_radar/settings.py -> repository root (editable install or the container's /opt/airflow).
_DEFAULT_HOME = Path(__file__).resolve().parents[2]


def _addresses(name: str, default: str) -> tuple[str, ...]:
    return _split(os.environ.get(name, default))


def _split(addresses: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in addresses.split(",") if a.strip())


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}: set it to one of them or unset it.")
    return value


def _percent(name: str) -> int:
    raw = os.environ.get(name, "0").strip() or "0"
    if not raw.isdigit() or int(raw) > 100:
        raise ValueError(f"{name}={raw!r} must be a whole percentage from 0 to 100.")
    return int(raw)


def _amount_or_off(name: str) -> Decimal | None:
    raw = os.environ.get(name, "").strip()
    if raw.lower() in ("", "off"):
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{name}={raw!r} must be an amount above 0 (e.g. 250), or 'off'.")
    return amount


def _recipients_by_organisation(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ()
    try:
        found = json.loads(raw)
        assert isinstance(found, dict)
        return tuple((str(k), _split(",".join([v] if isinstance(v, str) else v))) for k, v in found.items())
    except (ValueError, AssertionError, AttributeError, TypeError):
        raise ValueError(
            f'{name} must be JSON mapping an organisation (tenant id or name) to addresses, e.g. {{"Acme Ltd": '
            '["ann@acme.example"]}.'
        ) from None


def positive_int(name: str, default: int) -> int:
    """A whole number of at least 1 from the environment variable ``name`` (unset or empty: ``default``)."""
    raw = os.environ.get(name, str(default)).strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r} must be a whole number of at least 1.")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    home: Path
    data_dir: Path
    db_path: Path
    finance_recipients: tuple[str, ...]
    owner_recipients: tuple[str, ...]
    email_from: str
    smtp_conn_id: str = "smtp_default"
    xero_conn_id: str = "xero_default"
    hubspot_conn_id: str = "hubspot_default"
    # Where the GX Data Docs site (expectations/uncommitted/data_docs/local_site) is served, if it is:
    # the alert then links each page; without it the alert attaches the pages of the failed tables.
    data_docs_url: str | None = None
    # Days GX's stored validation results (and their Data Docs pages) are kept; the verdicts are kept for good.
    gx_results_keep_days: int = KEEP_DAYS
    # Reminder drafts: a notice before the due date too (off by default); whether CRM notes and tickets may be sent
    # to a configured model ("send") or stay on this machine ("local"); model calls in flight at once; and where
    # the output folder is served (the queue email then links each draft instead of attaching the review page).
    upcoming_notice: bool = False
    llm_crm_text: str = "send"
    llm_concurrency: int = 16
    review_url: str | None = None
    # Customer reminders: the mailbox they come from and replies go to, one per customer per N business days,
    # and a stable share of customers held out of automated reminders (to measure what reminders change).
    reminder_from: str = ""
    reminder_reply_to: str = ""
    reminder_cap_business_days: int = 5
    holdout_percent: int = 0
    # The auto-send rule (outreach.auto_send): first light reminders of low-risk customers chasing less than this
    # (base currency) go without approval. None, the default: every reminder waits for a person.
    auto_send_under: Decimal | None = None
    # The weekly report's owners per organisation (tenant id or organisation name -> addresses); others get
    # owner_recipients. Set as JSON in AR_RADAR_WEEKLY_RECIPIENTS, e.g. {"Demo Widgets Ltd": ["ann@x.com"]}.
    weekly_recipients: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A Slack incoming-webhook connection: the weekly summaries and data-health alerts also go there (off: None).
    slack_conn_id: str | None = None
    # Set only for a shard (ar_radar.pipeline.shards): the folder every shard shares, AR_RADAR_DATA_DIR, while
    # data_dir is data/shards/<n>. Unsharded, shared_dir is data_dir itself, wherever a caller moves it.
    shared_root: Path | None = None
    shard: object | None = None  # pipeline.shards.Shard when sharded (None: one warehouse holds every organisation)

    @property
    def shared_dir(self) -> Path:
        """What every shard shares: the Xero token store, HubSpot's extracts, the published marts."""
        return self.shared_root or self.data_dir

    def owns(self, tenant_id: str, tenant_name: str | None = None) -> bool:
        """Whether this warehouse drafts and sends for the organisation (always, unless sharded)."""
        return self.shard is None or self.shard.owns(tenant_id, tenant_name)

    def report_recipients(self, tenant_id: str, organisation_name: str) -> tuple[str, ...]:
        found = dict(self.weekly_recipients)
        return found.get(tenant_id) or found.get(organisation_name) or self.owner_recipients

    def send_options(self):  # noqa: ANN201 - outreach.sending.SendOptions (imported lazily: settings is imported first)
        from ar_radar.outreach.sending import SendOptions

        return SendOptions(
            sender=self.reminder_from or self.email_from,
            reply_to=self.reminder_reply_to or self.reminder_from or self.email_from,
            cap_business_days=self.reminder_cap_business_days,
            holdout_percent=self.holdout_percent,
        )

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def state_dir(self) -> Path:
        """This warehouse's Xero checkpoints (kept between runs); what shards share is in shared_state_dir."""
        return self.data_dir / "state"

    @property
    def hubspot_landing_dir(self) -> Path:
        """HubSpot's landing files: one CRM serves every organisation, so every shard loads the same extracts
        (the same folder as landing_dir for one shard)."""
        return self.shared_dir / "landing"

    @property
    def shared_state_dir(self) -> Path:
        """State every shard shares (state_dir itself for one shard): the Xero token store (tokens file mode 600;
        refresh tokens rotate on every use, so two stores of one connection would race into invalid_grant) and
        HubSpot's checkpoints (one CRM: one extraction a day serves every shard)."""
        return self.shared_dir / "state"

    @property
    def output_dir(self) -> Path:
        return self.data_dir / "output"

    @property
    def model_dir(self) -> Path:
        """Trained payment-risk models (joblib), one file per version (models.risk_models lists them)."""
        return self.data_dir / "models"

    @property
    def dbt_project_dir(self) -> Path:
        return self.home / "dbt_project"

    @property
    def gx_root(self) -> Path:
        return self.home / "expectations"

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("AR_RADAR_HOME", _DEFAULT_HOME)).resolve()
        data_dir = Path(os.environ.get("AR_RADAR_DATA_DIR", home / "data")).resolve()
        return cls(
            home=home,
            data_dir=data_dir,
            db_path=Path(os.environ.get("AR_RADAR_DB", data_dir / "ar_radar.duckdb")).resolve(),
            finance_recipients=_addresses("AR_RADAR_FINANCE_RECIPIENTS", "finance@example.com"),
            owner_recipients=_addresses("AR_RADAR_OWNER_RECIPIENTS", "owners@example.com"),
            email_from=os.environ.get("AR_RADAR_EMAIL_FROM", "AR Radar <ar-radar@example.com>"),
            data_docs_url=os.environ.get("AR_RADAR_DATA_DOCS_URL") or None,
            gx_results_keep_days=positive_int("AR_RADAR_GX_RESULTS_KEEP_DAYS", KEEP_DAYS),
            upcoming_notice=_choice("AR_RADAR_UPCOMING_NOTICE", "off", ("on", "off")) == "on",
            llm_crm_text=_choice("AR_RADAR_LLM_CRM_TEXT", "send", ("send", "local")),
            llm_concurrency=positive_int("AR_RADAR_LLM_CONCURRENCY", 16),
            review_url=os.environ.get("AR_RADAR_REVIEW_URL") or None,
            reminder_from=os.environ.get("AR_RADAR_REMINDER_FROM", ""),
            reminder_reply_to=os.environ.get("AR_RADAR_REMINDER_REPLY_TO", ""),
            reminder_cap_business_days=positive_int("AR_RADAR_REMINDER_CAP_BUSINESS_DAYS", 5),
            holdout_percent=_percent("AR_RADAR_HOLDOUT_PERCENT"),
            auto_send_under=_amount_or_off("AR_RADAR_AUTO_SEND_UNDER"),
            weekly_recipients=_recipients_by_organisation("AR_RADAR_WEEKLY_RECIPIENTS"),
            slack_conn_id=os.environ.get("AR_RADAR_SLACK_CONN_ID") or None,
        )
