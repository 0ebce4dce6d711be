"""Where things live and who gets mail: read from the environment, with local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# include/ar_radar/settings.py -> repository root (editable install or the container's /opt/airflow).
_DEFAULT_HOME = Path(__file__).resolve().parents[2]


def _addresses(name: str, default: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in os.environ.get(name, default).split(",") if a.strip())


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

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def state_dir(self) -> Path:
        """Checkpoints and the Xero token store (kept between runs; tokens file mode 600)."""
        return self.data_dir / "state"

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
        )
