"""The HTTP retry policy both SDKs' urllib3 pools use.

The SDKs' default pools use urllib3's default retry, which silently sleeps for whatever a 429's
``Retry-After`` says (hours, for Xero's day limit). We retry only connection errors and
transient 5xx responses, a bounded number of times with exponential backoff, and never sleep
on ``Retry-After``: rate limits are the extractor's decision, not the transport's.
"""

from __future__ import annotations

import urllib3
from urllib3.util.retry import Retry


def bounded_retry() -> Retry:
    return Retry(
        total=5,
        connect=3,
        read=2,
        status=3,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=None,  # HubSpot searches are POSTs and are safe to repeat
        backoff_factor=0.5,
        backoff_max=30,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


def pool_manager(
    num_pools: int = 4, maxsize: int = 5, read_timeout: float = 60.0, **kwargs: object
) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        num_pools=num_pools,
        maxsize=maxsize,
        retries=bounded_retry(),
        timeout=urllib3.Timeout(connect=10, read=read_timeout),
        **kwargs,
    )
