"""Shared fixtures: a sandbox, and a warehouse built once from it (extract -> raw -> dbt build)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from ar_radar.settings import Settings

AS_OF = date(2026, 11, 20)
# The shared sandbox's two organisations report in different base currencies, so every total is tested
# for never adding pounds to euros.
SANDBOX_CURRENCIES = ("GBP", "EUR")

# Keep any Airflow import in this process away from the developer's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(Path(__file__).parent / ".airflow-home-unused"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["GX_ANALYTICS_ENABLED"] = "False"


def make_settings(tmp: Path) -> Settings:
    return replace(Settings.from_env(), data_dir=tmp, db_path=tmp / "ar_radar.duckdb")


def copy_of(settings: Settings, tmp: Path) -> Settings:
    """A copy of a warehouse file under tmp, for a test that writes to it (the shared one is read-only)."""
    copied = make_settings(tmp)
    copied.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.db_path, copied.db_path)
    return copied


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder holding a slow fixture, built once per test run however many pytest-xdist workers need it.

    The first worker builds it in a folder all workers of the run share, under an exclusive lock; the others
    wait for the lock and find it built. Its contents are deterministic (the sandbox's seeded data), so any
    worker's build is every worker's. Tests must not write into it: they copy what they change."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def sandbox():
    from ar_radar.local.sandbox.server import Sandbox

    with Sandbox(as_of=AS_OF, organisations=2, base_currencies=SANDBOX_CURRENCIES) as box:
        yield box


@pytest.fixture
def sandbox_env(sandbox, monkeypatch):
    """AIRFLOW_CONN_* for the sandbox in this process's environment."""
    for name, value in sandbox.airflow_connections().items():
        monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory) -> Path:
    """A migrated Airflow metadata database (SQLite), made once per session: each DAG run starts from a copy."""
    from ar_radar.local.airflow_env import airflow_cli, airflow_environment

    home = tmp_path_factory.mktemp("airflow-template")
    migrate = airflow_cli(airflow_environment(make_settings(home / "data"), home, {}), "db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return home / "airflow.db"


@pytest.fixture(scope="session")
def warehouse(sandbox, tmp_path_factory):
    """Settings of a DuckDB file holding the sandbox's data, extracted, loaded and built by dbt; built once
    per test run and shared read-only (copy_of it to change it)."""
    from ar_radar.extract.connections import connection_from_env
    from ar_radar.pipeline import daily

    def build(folder: Path) -> None:
        settings = make_settings(folder)
        saved = dict(os.environ)
        os.environ.update(sandbox.airflow_connections())
        try:
            for source in ("xero", "hubspot"):
                daily.extract(source, connection_from_env(f"{source}_default"), settings, "run-1")
            daily.load_raw(settings)
            daily.build_warehouse(settings, AS_OF)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return make_settings(built_once(tmp_path_factory, "warehouse", build))


@pytest.fixture(scope="session")
def scored_warehouse(warehouse, tmp_path_factory):
    """The shared warehouse with the day's scores (the rules prior: no model trained), built once per test run and
    shared read-only: the queue, the drafts and their evidence all start from it (copy_of it to write)."""
    from ar_radar.scoring.score import score_open_invoices

    def build(folder: Path) -> None:
        score_open_invoices(copy_of(warehouse, folder).db_path, AS_OF)

    return make_settings(built_once(tmp_path_factory, "scored_warehouse", build))


@pytest.fixture(scope="module")
def llm():
    """The sandbox's LLM server (a sandbox with no Xero or HubSpot data to speak of), for the official openai client
    over HTTP."""
    from ar_radar.local.sandbox.demo_company import generate_demo_company
    from ar_radar.local.sandbox.server import Sandbox

    with Sandbox(companies=[generate_demo_company(seed=1, n_customers=2, years=1)]) as box:
        yield box


@pytest.fixture
def config(llm, monkeypatch):
    """A connection to the sandbox LLM (2 s timeout), its faults reset."""
    from ar_radar.outreach.llm import load_config

    llm.llm_faults.mode, llm.llm_faults.count, llm.llm_faults.delay_seconds = None, None, 0.0
    llm.llm_faults.slow_seconds, llm.llm_faults.other_name, llm.llm_faults.injection = 5.0, None, ""
    llm.llm_faults.requests.clear()
    for name, value in llm.llm_connection(timeout=2.0).items():
        monkeypatch.setenv(name, value)
    return load_config()
