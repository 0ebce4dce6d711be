"""Airflow pools the daily DAGs run their tasks in, sized to what they share: Xero's per-app limit and memory.

Shards run side by side, so what bounds them is shared by all: every organisation's extract uses the one Xero app
(10,000 calls a minute across organisations, each at most 60 a minute), and every DuckDB-heavy task may take its
connection's memory cap. ``python -m ar_radar create-pools`` creates or resizes them (the compose file's init
step and the cluster test run it); without them the scheduler would leave these tasks waiting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ar_radar.settings import positive_int

XERO_APP_CALLS_PER_MINUTE = 10_000  # Xero's limit per app, across every organisation it reaches
PROCESS_OVERHEAD_BYTES = 1 << 30  # Python, dbt or GX beside DuckDB's capped memory
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}

XERO_POOL = "ar_radar_xero_api"
WAREHOUSE_POOL = "ar_radar_warehouse"


@dataclass(frozen=True)
class PoolSpec:
    name: str
    slots: int
    description: str


def size_in_bytes(text: str) -> int:
    """'3GB', '512MiB' (DuckDB's memory_limit forms) in bytes."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    unit = found and found.group(2).lower()
    if not found or unit not in UNITS:
        raise ValueError(f"{text!r} is not a size such as 3GB or 512MiB.")
    return int(float(found.group(1)) * UNITS[unit])


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def pool_specs() -> list[PoolSpec]:
    """The pools and their sizes: ``AR_RADAR_XERO_POOL_SLOTS`` and ``AR_RADAR_WAREHOUSE_POOL_SLOTS`` override."""
    from ar_radar import database  # here, not at the top: the DAG files import the pool names while parsing
    from ar_radar.extract.xero import MINUTE as XERO_ORGANISATION_MINUTE

    xero_default = XERO_APP_CALLS_PER_MINUTE // XERO_ORGANISATION_MINUTE.calls  # 166 organisations at full speed
    per_task = size_in_bytes(database.memory_limit()) + PROCESS_OVERHEAD_BYTES
    warehouse_default = max(1, machine_memory_bytes() // per_task)
    return [
        PoolSpec(
            XERO_POOL,
            positive_int("AR_RADAR_XERO_POOL_SLOTS", xero_default),
            f"Xero extracts at once: {XERO_APP_CALLS_PER_MINUTE} calls a minute per app / "
            f"{XERO_ORGANISATION_MINUTE.calls} per organisation",
        ),
        PoolSpec(
            WAREHOUSE_POOL,
            positive_int("AR_RADAR_WAREHOUSE_POOL_SLOTS", warehouse_default),
            f"DuckDB-heavy tasks at once: memory / ({database.memory_limit()} DuckDB cap + 1 GiB); "
            "in a cluster, set it to the sum over the workers",
        ),
    ]


def create_pools() -> list[PoolSpec]:
    """Create or resize the pools in Airflow's metadata database (needs its connection, as any Airflow CLI)."""
    from airflow.models.pool import Pool

    specs = pool_specs()
    for spec in specs:
        Pool.create_or_update_pool(spec.name, spec.slots, spec.description, include_deferred=False)
    return specs
