"""How long GX's copies of the gate's results are kept: older ones are pruned at the start of each gate run.

Each run stores one GX validation result per checked table (``expectations/uncommitted/validations/``, ten a day)
and renders the Data Docs page of each failed table. GX lists every stored result whenever it renders Data Docs,
so without a limit each failing run grows slower with the years of runs before it, and the folder bigger. The
verdicts themselves stay for good in ``ops.data_health_runs`` / ``ops.data_health_checks`` (``gate.history``);
only GX's JSON copies go. Their Data Docs pages go with them: GX deletes a page whose result is gone the next
time it renders the site.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

KEEP_DAYS = 90  # the default of AR_RADAR_GX_RESULTS_KEEP_DAYS


def prune(context: object, keep_days: int, now: datetime) -> int:
    """Delete the stored validation results of runs that started more than ``keep_days`` before ``now``.

    Returns how many this call deleted. A result whose run time GX cannot tell is kept.
    """
    store = context.validation_results_store
    cutoff = now - timedelta(days=keep_days)
    deleted = 0
    for key in store.list_keys():
        if key.run_id.run_time is None or key.run_id.run_time >= cutoff:
            continue
        try:
            deleted += bool(store.remove_key(key))
        except FileNotFoundError:  # shards share the GX project: another shard's gate deleted it first
            continue
    if deleted:
        log.info("deleted %d GX validation results of runs before %s (kept: %d days)", deleted, cutoff, keep_days)
    return deleted
