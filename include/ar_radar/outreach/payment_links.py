"""The customer's payment link: Xero's online invoice, read through the SDK within the organisation's limits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ar_radar.extract import xero
from ar_radar.extract.connections import ApiConnection

log = logging.getLogger(__name__)


def xero_payment_links(conn: ApiConnection, token_root: Path) -> Callable[[str, str], str | None]:
    """A function (tenant_id, invoice_id) -> the online invoice URL, or None when Xero cannot give one (the
    draft then carries no link; the reason is logged)."""
    api = xero.XeroApi(conn, xero.token_store_path(conn, token_root))

    def link(tenant_id: str, invoice_id: str) -> str | None:
        try:
            return api.online_invoice_url(tenant_id, invoice_id)
        except xero.XeroExtractError as exc:
            log.warning("no payment link for invoice %s: %s", invoice_id, exc)
            return None

    return link
