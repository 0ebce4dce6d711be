"""How many CPU threads one task may use, and a bound on every library that would take them all.

Airflow runs tasks side by side. scikit-learn's gradient boosting (OpenMP), BLAS and DuckDB each start one
thread per core by default; two such tasks on a 2-core machine thrash (a 2,000-row fit went from 1.4 s to
48 s beside one busy process). Every CPU-heavy step runs inside ``bounded()`` or opens DuckDB through
``ar_radar.database.connect``, which both use ``task_threads()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ar_radar.settings import positive_int


def task_threads() -> int:
    """``AR_RADAR_THREADS``, else half the machine's cores (at least one): room for a second task beside."""
    return positive_int("AR_RADAR_THREADS", max(1, (os.cpu_count() or 2) // 2))


@contextmanager
def bounded() -> Iterator[int]:
    """Inside this block OpenMP and BLAS pools (scikit-learn, numpy) use at most ``task_threads()``."""
    from threadpoolctl import threadpool_limits

    threads = task_threads()
    with threadpool_limits(limits=threads):
        yield threads
