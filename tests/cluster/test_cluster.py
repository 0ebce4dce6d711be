"""The sharded daily DAG on real Airflow services: PostgreSQL, Redis, the api-server, scheduler, dag-processor,
triggerer and two Celery workers (ar_radar.local.cluster), approved through the REST API, with faults:

* a worker is killed (kill -9 of its process group) while it builds shard 1's warehouse;
* a worker is killed while it sends shard 0's approved reminders (the SMTP server is slow, so mid-batch);
* one organisation of shard 1 has used up its Xero day limit.

Each retry must finish on the other worker with nothing lost and no customer emailed twice, and a limited
organisation must not stop anything else.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import replace

import duckdb
import pytest
from ar_radar.local.cluster import Cluster
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF

pytestmark = pytest.mark.cluster

ORGANISATIONS = 6
PLACED = "Demo Widgets 3 Ltd"  # hashing leaves shard 2 empty for these six: config places one there
LIMITED = "Demo Widgets 5 Ltd"  # hashed to shard 1, beside Demo Widgets 4 Ltd
COMPARED = ("staging.stg_xero__invoices", "marts.fct_ar_aging", "marts.invoice_features_history")


class Faults:
    """Kills, from inside the wait loop: each once, when its task is running on a worker."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.killed: dict[str, str] = {}
        self.sends_seen_at_kill = 0

    def __call__(self, run) -> None:  # noqa: ANN001
        shard_0, shard_1 = self.cluster.dag_ids[0], self.cluster.dag_ids[1]
        if "build" not in self.killed and self._dbt_running(1):
            worker = self.cluster.worker_running(shard_1, run.runs[shard_1], "build_warehouse")
            if worker is not None:
                self._kill(worker, "build")
        if "send" not in self.killed:
            sent = _reminders(self.cluster)
            worker = self.cluster.worker_running(shard_0, run.runs[shard_0], "send_reminders")
            if worker is not None and len(sent) >= 2:
                self.sends_seen_at_kill = len(sent)
                self._kill(worker, "send")

    def _dbt_running(self, shard: int) -> bool:
        """dbt has started running the shard's models and not finished (its log says so): the middle of a build."""
        log = self.cluster.shard_settings(shard).data_dir / "dbt" / "logs" / "dbt.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return " START " in text and not re.search(r"Finished running \d+ ", text)

    def _kill(self, worker, what: str) -> None:  # noqa: ANN001
        worker.kill()
        self.killed[what] = worker.name
        self.cluster.add_worker()  # a replacement comes up, as a restarted machine would


def _reminders(cluster: Cluster) -> list:
    return [m for m in cluster.sink.received if m.message["X-AR-Radar-Kind"] == "reminder"]


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    placed = json.dumps({PLACED: 2})
    with Cluster(
        folder, AS_OF, shards=3, workers=2, organisations=ORGANISATIONS, extra_env={"AR_RADAR_SHARD_OF": placed}
    ) as cluster:
        limited = next(c for c in cluster.sandbox.companies if c.name == LIMITED)
        cluster.sandbox.xero_faults.day_429_tenants.add(limited.tenant_id)
        cluster.sink.handler.delay_seconds = 1.0
        faults = Faults(cluster)
        run = cluster.wait(cluster.trigger_day(), timeout=1800, during=faults)
        yield cluster, run, faults, limited


def test_every_shard_finishes_on_real_services(day):
    cluster, run, faults, _ = day
    assert run.states == dict.fromkeys(cluster.dag_ids, "success"), run.states
    assert run.approvals == 3  # each shard's batch, approved through the REST API
    assert faults.killed.keys() == {"build", "send"}, "a fault run did not catch its task on a worker"


def test_each_organisation_lives_in_exactly_one_shard(day):
    cluster, _, _, limited = day
    names = {}
    for index in range(3):
        with duckdb.connect(str(cluster.shard_settings(index).db_path), read_only=True) as con:
            found = [
                r[0] for r in con.execute("select organisation_name from staging.stg_xero__organisations").fetchall()
            ]
        for name in found:
            assert name not in names, f"{name} in shards {names.get(name)} and {index}"
            names[name] = index
    expected = {c.name for c in cluster.sandbox.companies} - {limited.name}
    assert set(names) == expected
    assert names[PLACED] == 2  # placed by config; the rest by hash


def test_one_hubspot_extraction_serves_every_shard(day):
    """One CRM for every organisation: the first shard extracts it, the others only what changed since, and each
    loads all of it."""
    cluster = day[0]
    companies = {c["id"] for company in cluster.sandbox.companies for c in company.hubspot["companies"]}
    for index in range(3):
        with duckdb.connect(str(cluster.shard_settings(index).db_path), read_only=True) as con:
            [(loaded,)] = con.execute("select count(distinct record_id) from raw.hubspot_companies").fetchall()
        assert loaded == len(companies), index
    landed = sorted((cluster.data_dir / "landing").glob("*/hubspot/companies/*/*.jsonl"))
    assert {p.parts[-5].rsplit("__", 1)[1] for p in landed} <= {"shard-0", "shard-1", "shard-2"}
    # each company landed once, by whichever shard came first, not once per shard (3 x 316); the later shards'
    # incremental reads repeat only the records at their checkpoint's overlap
    records = sum(len(p.read_text().splitlines()) for p in landed)
    assert len(companies) <= records <= len(companies) + 2 * 2, records


def test_a_day_limited_organisation_stops_nothing_else(day):
    cluster, run, _, limited = day
    shard_1 = cluster.dag_ids[1]
    extracts = {k: v for k, v in run.tasks(shard_1).items() if k.startswith("extract_xero")}
    states = sorted(t["state"] for t in extracts.values())
    assert states == ["skipped", "success"], extracts
    skipped = next(t for t in extracts.values() if t["state"] == "skipped")
    assert limited.name in (skipped.get("rendered_map_index") or "")
    assert run.states[shard_1] == "success"


def test_a_killed_build_is_retried_and_loses_nothing(day, tmp_path):
    cluster, run, _, _ = day
    build = run.tasks(cluster.dag_ids[1])["build_warehouse"]
    assert build["try_number"] >= 2 and build["state"] == "success"
    settings = cluster.shard_settings(1)
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        builds = con.execute("select finished, full_refresh from ops.warehouse_builds order by built_at").fetchall()
    # each killed attempt (the send's kill may take a retry with it) left its build unfinished; the attempt after
    # an unfinished build rebuilds in full, and the last one finished
    assert builds == [(False, True)] * (build["try_number"] - 1) + [(True, True)], builds
    # nothing lost: the retried warehouse equals a fresh full rebuild of the same raw data
    copy = replace(settings, data_dir=tmp_path, db_path=tmp_path / "ar_radar.duckdb")
    shutil.copy(settings.db_path, copy.db_path)
    build_warehouse(copy, AS_OF, full_refresh=True)
    with duckdb.connect(str(copy.db_path)) as con:
        con.execute(f"attach '{settings.db_path}' as retried (read_only)")
        for table in COMPARED:
            [(rows,)] = con.execute(f"select count(*) from {table}").fetchall()
            [(differ,)] = con.execute(
                f"select count(*) from ((select * from {table} except all select * from retried.{table}) "
                f"union all (select * from retried.{table} except all select * from {table}))"
            ).fetchall()
            assert rows > 0 and differ == 0, f"{table}: {differ} of {rows} rows differ"


def test_a_killed_send_emails_no_customer_twice(day):
    cluster, run, faults, _ = day
    send = run.tasks(cluster.dag_ids[0])["send_reminders"]
    assert send["try_number"] >= 2 and send["state"] == "success"
    received = Counter(m.message["X-AR-Radar-Key"] for m in _reminders(cluster))
    assert received and max(received.values()) == 1, [k for k, n in received.items() if n > 1]
    logged: dict[str, str] = {}
    for index in range(3):
        with duckdb.connect(str(cluster.shard_settings(index).db_path), read_only=True) as con:
            rows = con.execute("select send_key, status from outreach.reminder_log where send_key is not null")
            shard_rows = rows.fetchall()
        # a send task has at most one email in flight when its worker dies: it stays "sending", never sent again
        assert sum(status == "sending" for _, status in shard_rows) <= 1, index
        for key, status in shard_rows:
            assert key not in logged, f"send key {key} logged twice"  # one row per email, whatever the retries
            logged[key] = status
    assert set(received) <= set(logged)  # no email went out unlogged
    assert all(logged[k] in ("sent", "sending") for k in received)
    assert {k for k, s in logged.items() if s == "sent"} <= set(received)
    assert faults.sends_seen_at_kill >= 2


def test_the_practice_overview_reads_every_shard(day):
    from ar_radar.pipeline.shards import published_folder
    from ar_radar.weekly_report.practice import practice_overview

    cluster, _, _, limited = day
    overview = practice_overview(published_folder(cluster.shard_settings(0)))
    shards = {r["organisation_name"]: r["shard"] for r in overview.rows}
    assert set(shards) == {c.name for c in cluster.sandbox.companies} - {limited.name}
    assert shards[PLACED] == "shard-2" and all(r["open_invoices"] > 0 for r in overview.rows)
