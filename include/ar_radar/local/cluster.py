"""``make cluster-test``: AR Radar on real Airflow services on this machine, without Docker.

Starts PostgreSQL (Airflow's metadata, Celery's results) and Redis (Celery's broker) from Debian's packages (Redis is
installed with apt-get when missing), then Airflow's api-server, scheduler, dag-processor, triggerer and Celery
workers, each its own process group, as docker-compose.yaml runs them. The Xero/HubSpot sandbox and an SMTP sink run
in this process; the workers reach them over HTTP and SMTP. Everything lives under one folder and stops on exit.

    python -m ar_radar.local.cluster [--shards 3] [--workers 2] [--organisations 6] [--dir .cluster]

runs one day of every shard's daily DAG (triggered, approved and checked through the REST API) and prints what
happened. ``tests/cluster/`` drives the same class for the fault runs, ``bench/cluster_scaling.py`` for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import httpx
import psutil

from ar_radar.local.airflow_env import airflow_environment
from ar_radar.local.reviewer import REVIEWER
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.local.smtp_sink import SmtpSink
from ar_radar.settings import Settings

APPROVE = "Send the approved drafts"
FINISHED = {"success", "failed"}


class ClusterError(RuntimeError):
    """A service did not start or a run did not finish; the message names it and its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def program(name: str, debian_package: str) -> str:
    """A server binary from Debian's packages, installed with apt-get if missing (as root, which CI runs as)."""

    def found() -> str | None:
        postgres = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        return shutil.which(name) or (str(postgres[-1]) if postgres else None)

    if found():
        return found()
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", debian_package]
        if subprocess.run(install, env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
    if found():
        return found()
    raise ClusterError(
        f"{name} is not installed: install Debian's {debian_package} (apt-get install {debian_package})."
    )


def _wait(check: object, what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise ClusterError(
        f"{what} was not ready after {timeout:.0f} s" + (f"; its log ({log}) ends:\n{tail}" if tail else "")
    )


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on a free port (trust authentication on 127.0.0.1 only)."""

    folder: Path
    port: int = field(default_factory=free_port)

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses to run as root

    def start(self) -> Postgres:
        initdb, pg_ctl = program("initdb", "postgresql"), program("pg_ctl", "postgresql")
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data, log = self.folder / "data", self.folder / "postgres.log"
        done = subprocess.run(
            [*self._as_owner(), initdb, "-D", str(data), "-U", "airflow", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise ClusterError(f"initdb failed: {done.stderr[-2000:]}")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        started = subprocess.run(
            [*self._as_owner(), pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o", options, "start"],
            capture_output=True,
            text=True,
        )
        if started.returncode:
            raise ClusterError(f"PostgreSQL did not start; see {log}: {started.stderr[-2000:]}")
        psql = program("psql", "postgresql-client")
        subprocess.run(
            [
                psql,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "airflow",
                "-d",
                "postgres",
                "-q",
                "-c",
                "create database airflow",
            ],
            check=True,
            capture_output=True,
        )
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        pg_ctl = program("pg_ctl", "postgresql")
        subprocess.run(
            [*self._as_owner(), pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"], capture_output=True
        )


@dataclass
class Redis:
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> Redis:
        server = program("redis-server", "redis-server")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "redis.log"
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [
                    server,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.folder),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def pong() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")

        _wait(pong, "Redis", 30, log)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _kill_all(processes: list[psutil.Process]) -> None:
    for proc in processes:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=30)


@dataclass
class Service:
    """One Airflow component in its own process group, with every process under it."""

    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def kill(self) -> None:
        """kill -9 of the worker and every process under it, as when its machine is lost. Not only its process
        group: Airflow's task processes start their own sessions and would live on after a group kill."""
        _kill_all(self.tree())
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM (a warm shutdown), then kill -9 of whatever is left of its tree."""
        tree = self.tree()
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        _kill_all(tree)
        if self.process.poll() is None:
            self.process.wait()


class AirflowApi:
    """Airflow's public REST API over HTTP, as the reviewer (simple auth manager) logs in."""

    def __init__(self, base_url: str, airflow_home: Path) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        passwords = airflow_home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())[REVIEWER]
        token = self.http.post("/auth/token", json={"username": REVIEWER, "password": password})
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **params: object) -> dict:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def has_dag(self, dag_id: str) -> bool:
        return self.http.get(f"/api/v2/dags/{dag_id}").status_code == 200

    def unpause(self, dag_id: str) -> None:
        self.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, day: date, run_id: str) -> str:
        body = {"dag_run_id": run_id, "logical_date": f"{day.isoformat()}T06:00:00Z", "conf": {}}
        response = self.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]

    def waiting_approvals(self) -> list[dict]:
        listed = self.get("/api/v2/dags/~/dagRuns/~/hitlDetails", response_received=False, limit=1000)
        return listed["hitl_details"]

    def answer(self, detail: dict, send: bool = True, exclude: str = "") -> dict:
        ti = detail["task_instance"]
        url = (
            f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/"
            f"{ti.get('map_index', -1)}/hitlDetails"
        )
        body = {"chosen_options": [APPROVE if send else "Send none"], "params_input": {"exclude": exclude}}
        response = self.http.patch(url, json=body)
        response.raise_for_status()
        return response.json()


class MemorySampler:
    """The peak resident memory of each worker's process tree (the worker and the tasks it runs), sampled."""

    def __init__(self, services: list[Service], every: float = 0.5) -> None:
        self.services, self.every = services, every
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for service in self.services:
                self.peaks[service.name] = max(self.peaks.get(service.name, 0), service.rss_bytes())
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class DayRun:
    """One day of every shard: each DAG run's state, its task instances and how long it took."""

    day: date
    runs: dict[str, str]  # dag id -> run id
    states: dict[str, str] = field(default_factory=dict)
    task_instances: dict[str, list[dict]] = field(default_factory=dict)
    seconds: float = 0.0
    approvals: int = 0

    def tasks(self, dag_id: str) -> dict[str, dict]:
        """Each task instance by ``task`` or ``task[map_index]``."""
        return {
            t["task_id"] if t.get("map_index", -1) < 0 else f"{t['task_id']}[{t['map_index']}]": t
            for t in self.task_instances[dag_id]
        }

    def queue_latencies(self) -> list[float]:
        """Seconds from queued to started, for every task instance that ran."""
        out = []
        for instances in self.task_instances.values():
            for t in instances:
                if t.get("queued_when") and t.get("start_date"):
                    queued = datetime.fromisoformat(t["queued_when"].replace("Z", "+00:00"))
                    started = datetime.fromisoformat(t["start_date"].replace("Z", "+00:00"))
                    out.append((started - queued).total_seconds())
        return out


@dataclass
class Cluster:
    """Postgres, Redis, Airflow's services and ``workers`` Celery workers, the sandbox and an SMTP sink."""

    folder: Path
    as_of: date
    shards: int = 3
    workers: int = 2
    concurrency: int = 2
    organisations: int = 6
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        self.home = self.folder / "airflow"
        self.settings = Settings.from_env()
        self._stack = ExitStack()

    # -- start and stop ------------------------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.home.mkdir(parents=True)
        self.data_dir = self.folder / "data"
        # Postgres runs as its own user, who cannot enter a root-only temporary folder: its files go in /tmp.
        pg_folder = Path(tempfile.mkdtemp(prefix="ar-radar-pg-"))
        self._stack.callback(shutil.rmtree, pg_folder, True)
        self.postgres = Postgres(pg_folder).start()
        self._stack.callback(self.postgres.stop)
        self.redis = Redis(self.folder / "redis").start()
        self._stack.callback(self.redis.stop)
        self.sandbox = self._stack.enter_context(
            Sandbox(as_of=self.as_of, organisations=self.organisations, base_currencies=("GBP", "EUR"))
        )
        self.sink = self._stack.enter_context(SmtpSink(self.folder / "emails"))
        self.api_port = free_port()
        self.env = self._environment()
        self._airflow("db", "migrate", timeout=900)
        done = subprocess.run(
            [sys.executable, "-m", "ar_radar", "create-pools"], env=self.env, capture_output=True, text=True
        )
        if done.returncode:
            raise ClusterError(f"create-pools failed: {done.stderr[-2000:]}")
        self._stack.callback(self._stop_services)
        self.start_service("api-server", "api-server", "--port", str(self.api_port))
        for name in ("scheduler", "dag-processor", "triggerer"):
            self.start_service(name, name)
        for n in range(1, self.workers + 1):
            self.start_worker(n)
        base = f"http://127.0.0.1:{self.api_port}"
        passwords = self.home / "simple_auth_manager_passwords.json.generated"
        _wait(
            lambda: passwords.exists() and httpx.get(f"{base}/api/v2/version", timeout=5).status_code == 200,
            "the api-server",
            240,
            self.services["api-server"].log,
        )
        self.api = AirflowApi(base, self.home)
        _wait(
            lambda: all(self.api.has_dag(d) for d in self.dag_ids),
            "the shards' DAGs",
            300,
            self.services["dag-processor"].log,
        )
        for dag_id in self.dag_ids:
            self.api.unpause(dag_id)

    def _environment(self) -> dict[str, str]:
        settings = Settings(
            home=self.settings.home,
            data_dir=self.data_dir,
            db_path=self.data_dir / "ar_radar.duckdb",
            finance_recipients=("finance@practice.example",),
            owner_recipients=("owners@practice.example",),
            email_from="AR Radar <ar-radar@practice.example>",
            reminder_from="Accounts <accounts@practice.example>",
            reminder_reply_to="accounts@practice.example",
        )
        connections = self.sandbox.airflow_connections()
        connections["AIRFLOW_CONN_SMTP_DEFAULT"] = self.sink.airflow_connection()
        env = airflow_environment(settings, self.home, connections)
        database = self.postgres.url
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__PARALLELISM": "32",
                # A killed worker's tasks are found within seconds, not the default 5 minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AR_RADAR_SHARDS": str(self.shards),
                "AR_RADAR_DAILY_SCHEDULE": "none",  # the test triggers each day itself
                "AR_RADAR_THREADS": "1",
            }
        )
        env.pop("AR_RADAR_DB")  # each shard's file is data/shards/<n>/ar_radar.duckdb, not one set path
        env.update(self.extra_env)
        return env

    def _airflow(self, *args: str, timeout: int = 300) -> None:
        airflow = Path(sys.executable).with_name("airflow")
        done = subprocess.run([str(airflow), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise ClusterError(f"airflow {' '.join(args)} failed: {(done.stdout + done.stderr)[-3000:]}")

    def start_service(self, name: str, *args: str) -> Service:
        airflow = Path(sys.executable).with_name("airflow")
        log = self.folder / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as out:
            process = subprocess.Popen(
                [str(airflow), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.services[name] = Service(name, process, log)
        return self.services[name]

    def start_worker(self, n: int) -> Service:
        return self.start_service(
            f"worker-{n}",
            "celery",
            "worker",
            "--concurrency",
            str(self.concurrency),
            "--celery-hostname",
            f"worker{n}@%h",
        )

    def add_worker(self) -> Service:
        """One more Celery worker (numbered after every worker started so far, dead ones included)."""
        return self.start_worker(1 + sum(name.startswith("worker-") for name in self.services))

    def workers_alive(self) -> list[Service]:
        return [s for name, s in self.services.items() if name.startswith("worker-") and s.alive()]

    def _stop_services(self) -> None:
        for service in self.services.values():
            service.stop()

    # -- what runs ------------------------------------------------------------------------------------------------

    @property
    def dag_ids(self) -> list[str]:
        from ar_radar.pipeline.shards import Shard

        return [Shard(i, self.shards).dag_id for i in range(self.shards)]

    def trigger_day(self, day: date | None = None, label: str = "day") -> DayRun:
        day = day or self.as_of
        runs = {d: self.api.trigger(d, day, f"{label}-{day}-{d}") for d in self.dag_ids}
        return DayRun(day, runs)

    def wait(self, run: DayRun, timeout: float = 1800, approve: bool = True, during: object = None) -> DayRun:
        """Until every shard's run finished, approving each shard's reminders as their requests appear.
        ``during(run)`` is called each poll (a fault run kills a worker from it)."""
        start, deadline = time.monotonic(), time.monotonic() + timeout
        answered: set[str] = set()
        while time.monotonic() < deadline:
            for detail in self.api.waiting_approvals():
                key = f"{detail['task_instance']['dag_id']}/{detail['task_instance']['dag_run_id']}"
                if key not in answered and detail["task_instance"]["dag_run_id"] in run.runs.values():
                    self.api.answer(detail, send=approve)
                    answered.add(key)
            run.states = {d: self.api.run_state(d, r) for d, r in run.runs.items()}
            if during is not None:
                during(run)
            if all(s in FINISHED for s in run.states.values()):
                break
            time.sleep(2)
        run.seconds = time.monotonic() - start
        run.approvals = len(answered)
        run.task_instances = {d: self.api.task_instances(d, r) for d, r in run.runs.items()}
        if not all(s in FINISHED for s in run.states.values()):
            raise ClusterError(f"runs not finished after {timeout:.0f} s: {run.states}")
        return run

    def worker_running(self, dag_id: str, run_id: str, task_id: str) -> Service | None:
        """The worker whose process tree runs this task instance now (by the pid Airflow recorded)."""
        for ti in self.api.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["state"] == "running" and ti.get("pid"):
                for worker in self.workers_alive():
                    if any(p.pid == ti["pid"] for p in worker.tree()):
                        return worker
        return None

    def shard_settings(self, index: int) -> Settings:
        from ar_radar.pipeline.shards import Shard

        base = Settings(
            home=self.settings.home,
            data_dir=self.data_dir,
            db_path=self.data_dir / "ar_radar.duckdb",
            finance_recipients=(),
            owner_recipients=(),
            email_from="",
        )
        return Shard(index, self.shards).settings(base)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ar_radar.local.cluster")
    parser.add_argument("--dir", type=Path, default=Path(".cluster"))
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--organisations", type=int, default=6)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    args = parser.parse_args()
    # A plain kill (SIGTERM) still stops every service this started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Cluster(args.dir, args.as_of, args.shards, args.workers, organisations=args.organisations) as cluster:
        print(
            f"cluster up in {args.dir}: Postgres :{cluster.postgres.port}, Redis :{cluster.redis.port}, "
            f"api-server :{cluster.api_port}, {args.workers} Celery workers"
        )
        run = cluster.wait(cluster.trigger_day())
        for dag_id, state in run.states.items():
            print(f"{dag_id}: {state}")
        print(f"{run.seconds:.0f} s, {run.approvals} approvals answered, {len(cluster.sink.received)} emails received")
    sys.exit(0 if all(s == "success" for s in run.states.values()) else 1)


if __name__ == "__main__":
    main()
