"""Extract Xero accounts-receivable records through the official xero-python SDK.

* Every organisation the credentials reach (``GET /connections``), one at a time or one Airflow
  mapped task each; every record lands with its tenant and its full JSON as Xero sent it (the
  SDK's models drop unknown fields, so responses are read raw with ``_preload_content=False``).
* Incremental: ``If-Modified-Since`` + ``order=UpdatedDateUTC ASC``, a high-water mark per
  organisation and stream saved after every landed page (:mod:`ar_radar.extract.checkpoints`),
  re-read with an overlap. Pages are walked by *keyset* (the next request asks for records modified
  since the newest one seen) rather than by page number, so records that change while we page
  cannot shift unseen records into pages already read.
* Limits per organisation (60 calls a minute, 5 in flight, 5,000 a day) are kept client-side and
  synchronised with ``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining``; a minute-limit 429 waits
  ``Retry-After`` and retries; a day-limit 429 checkpoints the organisation and stops it
  (:class:`XeroDayLimitReached`) while others go on. 5xx and timeouts are retried by the transport a
  bounded number of times with exponential backoff (:mod:`ar_radar.extract.http_retry`).
* VOIDED and DELETED invoices, credit notes and payments, and ARCHIVED contacts, are extracted like
  any other record: downstream treats them as deletions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import HTTPStatusException, RateLimitException
from xero_python.identity import IdentityApi

from ar_radar.extract.checkpoints import CheckpointStore
from ar_radar.extract.connections import ApiConnection
from ar_radar.extract.http_retry import pool_manager
from ar_radar.extract.landing import LandingBatch, write_batch
from ar_radar.extract.rate_limit import Clock, LimitExhausted, RateLimiter, Window, header_int
from ar_radar.extract.xero_auth import TokenStore
from ar_radar.extract.xero_dates import parse_xero_timestamp

log = logging.getLogger(__name__)

XERO_API_URL = "https://api.xero.com/api.xro/2.0"
XERO_IDENTITY_URL = "https://api.xero.com"
PAGE_SIZE = 1000
FALLBACK_PAGE_SIZE = 100
RUN_OVERLAP = timedelta(minutes=5)  # re-read this much before the high-water mark on each run
TIE_OVERLAP = timedelta(seconds=1)  # If-Modified-Since has second granularity
MAX_ATTEMPTS = 6
MINUTE = Window(calls=60, seconds=61)  # a second of margin: Xero's window and ours start apart


@dataclass(frozen=True)
class XeroStream:
    entity: str
    method: str
    collection: str
    id_field: str
    where: str | None
    include_archived: bool = False
    # A list endpoint walked page by page since the checkpoint; /Organisation is one small record, read whole.
    paged: bool = True


STREAMS = (
    # The organisation first: its base currency names every amount in base currency downstream.
    XeroStream("organisations", "get_organisations", "Organisations", "OrganisationID", None, paged=False),
    XeroStream("invoices", "get_invoices", "Invoices", "InvoiceID", 'Type=="ACCREC"'),
    XeroStream("credit_notes", "get_credit_notes", "CreditNotes", "CreditNoteID", 'Type=="ACCRECCREDIT"'),
    XeroStream("payments", "get_payments", "Payments", "PaymentID", 'PaymentType=="ACCRECPAYMENT"'),
    XeroStream("overpayments", "get_overpayments", "Overpayments", "OverpaymentID", 'Type=="RECEIVE-OVERPAYMENT"'),
    XeroStream("prepayments", "get_prepayments", "Prepayments", "PrepaymentID", 'Type=="RECEIVE-PREPAYMENT"'),
    XeroStream("contacts", "get_contacts", "Contacts", "ContactID", None, include_archived=True),
)


class XeroExtractError(RuntimeError):
    """Extraction failed; the message names the organisation, stream and what to do."""


class XeroDayLimitReached(XeroExtractError):
    """Xero's daily call limit for one organisation is used up; its checkpoint is saved."""


def _day_limit(what: str, tenant_id: str | None, retry_after: int | None) -> XeroDayLimitReached:
    wait = f" (retry after {retry_after // 3600} h {retry_after % 3600 // 60} min)" if retry_after else ""
    return XeroDayLimitReached(
        f"{what}: Xero's daily call limit for organisation {tenant_id} is used up{wait}. Its progress is saved; "
        "the next run continues where this one stopped."
    )


class _PageSizeRefused(Exception):
    pass


@dataclass
class OrganisationResult:
    tenant_id: str
    tenant_name: str
    batches: list[LandingBatch] = field(default_factory=list)
    calls: int = 0
    status: str = "complete"  # or "day_limit"
    message: str = ""


IDS_PER_CALL = 50  # invoice ids in one GET /Invoices?IDs= (the URL stays well under Xero's limit)


class XeroApi:
    """The SDK clients of one Xero connection, with token handling, limits and error translation."""

    def __init__(self, conn: ApiConnection, token_path: Path, clock: Clock | None = None) -> None:
        self.conn = conn
        self.clock = clock or Clock()
        self._access: str | None = None
        config = Configuration(oauth2_token=OAuth2Token(client_id=conn.login, client_secret=conn.password))
        self.api_client = ApiClient(config, oauth2_token_getter=self._sdk_token, oauth2_token_saver=lambda t: None)
        self.api_client.rest_client.pool_manager = pool_manager(ca_certs=certifi.where())
        # Passed on every call: the SDK sends timeout=None otherwise, which overrides the pool's default.
        self.timeout = (10.0, float(conn.extra.get("timeout_seconds", 60)))
        self.tokens = TokenStore(conn, self.api_client, token_path)
        self.accounting = AccountingApi(self.api_client, base_url=conn.extra.get("api_url", XERO_API_URL))
        self.identity = IdentityApi(self.api_client, base_url=conn.extra.get("identity_url", XERO_IDENTITY_URL))
        self._limiters: dict[str, RateLimiter] = {}
        self.page_size = int(conn.extra.get("page_size", PAGE_SIZE))

    def _sdk_token(self) -> dict:
        # expires_at None: the SDK never refreshes by itself; TokenStore does, locked and persisted.
        return {
            "access_token": self._access,
            "token_type": "Bearer",
            "scope": [],
            "expires_in": None,
            "expires_at": None,
            "refresh_token": None,
            "id_token": None,
        }

    def limiter(self, tenant_id: str) -> RateLimiter:
        if tenant_id not in self._limiters:
            self._limiters[tenant_id] = RateLimiter((MINUTE,), in_flight=5, clock=self.clock, daily=5000)
        return self._limiters[tenant_id]

    def authenticate(self) -> None:
        """Make sure there is a valid access token (refreshing through the token store if needed)."""
        if self._access is None:
            self._access = self.tokens.access_token()

    def _call(self, tenant_id: str | None, what: str, fn: Callable[[], tuple]) -> tuple[dict | list, dict]:
        """One API call under the organisation's limits; returns (parsed JSON, headers)."""
        limiter = self.limiter(tenant_id or "_identity")
        self.authenticate()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with limiter.slot():
                    response, _status, headers = fn()
                    body = json.loads(response.data)
            except LimitExhausted:  # our count or Xero's X-DayLimit-Remaining says the day is used up
                raise _day_limit(what, tenant_id, None) from None
            except RateLimitException as exc:
                headers = exc.headers or {}
                retry_after = header_int(headers, "Retry-After") or 60
                problem = (exc.rate_limit or "").lower()
                if problem.startswith("day"):
                    raise _day_limit(what, tenant_id, retry_after) from None
                log.warning(
                    "%s: Xero %s rate limit, waiting %d s (attempt %d)", what, problem or "minute", retry_after, attempt
                )
                limiter.pause(retry_after)
                continue
            except HTTPStatusException as exc:
                if exc.status == 401 and attempt < MAX_ATTEMPTS:
                    log.info("%s: access token rejected, refreshing", what)
                    self._access = self.tokens.access_token(stale=self._access)
                    continue
                if exc.status == 400 and b"pageSize" in (exc.body or b""):
                    raise _PageSizeRefused() from None
                raise XeroExtractError(
                    f"{what} failed with HTTP {exc.status} {exc.reason}. Re-run the task; if it persists check "
                    "the connection's api_url and the app's scopes."
                ) from None
            except ValueError:
                raise XeroExtractError(
                    f"{what}: Xero answered with something that is not JSON. Re-run the "
                    "task; if it persists check the connection's api_url."
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise XeroExtractError(
                    f"{what}: Xero did not answer ({type(exc).__name__}) after retries with "
                    "backoff. Re-run the task later; progress so far is saved."
                ) from None
            limiter.observe(
                header_int(headers, "X-MinLimit-Remaining"), MINUTE, header_int(headers, "X-DayLimit-Remaining")
            )
            return body, headers
        raise XeroExtractError(f"{what}: still rate limited after {MAX_ATTEMPTS} attempts; re-run later.")

    def tenants(self) -> list[dict]:
        body, _ = self._call(
            None,
            "Xero /connections",
            lambda: self.identity.get_connections(
                _preload_content=False, _return_http_data_only=False, _request_timeout=self.timeout
            ),
        )
        what = "Xero /connections"
        if not isinstance(body, list) or not all(isinstance(c, dict) and c.get("tenantId") for c in body):
            raise XeroExtractError(
                f"{what}: the answer is not the documented list of connections, each with a tenantId "
                f"(got {_shape(body)}). Check the connection's extra.identity_url points at Xero's identity API."
            )
        return [
            {"tenant_id": str(c["tenantId"]), "tenant_name": c.get("tenantName", "")}
            for c in body
            if (c.get("tenantType") or "ORGANISATION") == "ORGANISATION"
        ]

    def online_invoice_url(self, tenant_id: str, invoice_id: str) -> str:
        """The customer's online invoice, where they can see and pay it (GET /Invoices/{id}/OnlineInvoice), under
        the organisation's limits. Raises XeroExtractError (e.g. for a draft or voided invoice)."""
        what = f"Xero online invoice {invoice_id} for organisation {tenant_id}"
        body, _ = self._call(
            tenant_id,
            what,
            lambda: self.accounting.get_online_invoice(
                tenant_id,
                invoice_id,
                _preload_content=False,
                _return_http_data_only=False,
                _request_timeout=self.timeout,
            ),
        )
        urls = [o.get("OnlineInvoiceUrl") for o in body.get("OnlineInvoices") or [] if isinstance(o, dict)]
        if not urls or not urls[0]:
            raise XeroExtractError(f"{what}: the answer has no OnlineInvoiceUrl (got {_shape(body)}).")
        return str(urls[0])

    def invoices_by_id(self, tenant_id: str, invoice_ids: list[str]) -> list[dict]:
        """The invoices with these ids as Xero has them now (GET /Invoices?IDs=..., IDS_PER_CALL a call), under the
        organisation's limits: the last-moment check before a reminder is sent."""
        found: list[dict] = []
        for start in range(0, len(invoice_ids), IDS_PER_CALL):
            batch = invoice_ids[start : start + IDS_PER_CALL]
            what = f"Xero invoices by id ({len(batch)}) for organisation {tenant_id}"
            body, _ = self._call(
                tenant_id,
                what,
                lambda batch=batch: self.accounting.get_invoices(
                    tenant_id,
                    i_ds=batch,
                    _preload_content=False,
                    _return_http_data_only=False,
                    _request_timeout=self.timeout,
                ),
            )
            invoices = body.get("Invoices") if isinstance(body, dict) else None
            if not isinstance(invoices, list):
                raise XeroExtractError(f"{what}: the answer has no Invoices list (got {_shape(body)}).")
            found.extend(i for i in invoices if isinstance(i, dict))
        return found

    def page(self, tenant_id: str, stream: XeroStream, since: datetime | None, page: int) -> dict:
        method = getattr(self.accounting, stream.method)
        kwargs: dict = {"_preload_content": False, "_return_http_data_only": False, "_request_timeout": self.timeout}
        if stream.paged:
            kwargs.update(order="UpdatedDateUTC ASC", page=page, page_size=self.page_size)
        if stream.where:
            kwargs["where"] = stream.where
        if stream.include_archived:
            # The spec's boolean is `true`; the SDK would send Python's `True`, which a strict server refuses.
            kwargs["include_archived"] = "true"
        if since is not None and stream.paged:
            kwargs["if_modified_since"] = since.astimezone(UTC).replace(tzinfo=None)
        where = f" page {page}" if stream.paged else ""
        what = f"Xero {stream.collection}{where} for organisation {tenant_id}"
        try:
            body, _ = self._call(tenant_id, what, lambda: method(tenant_id, **kwargs))
        except _PageSizeRefused:
            if self.page_size == FALLBACK_PAGE_SIZE:
                raise XeroExtractError(f"{what}: Xero refused pageSize {FALLBACK_PAGE_SIZE}.") from None
            log.warning("%s: pageSize %d refused, falling back to %d", what, self.page_size, FALLBACK_PAGE_SIZE)
            self.page_size = FALLBACK_PAGE_SIZE
            return self.page(tenant_id, stream, since, page)
        records = body.get(stream.collection) if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise XeroExtractError(
                f"{what}: the answer is not the documented {{{stream.collection!r}: [records]}} object "
                f"(got {_shape(body)}). Nothing of it was landed; check the connection's extra.api_url."
            )
        return body


def _shape(body: object) -> str:
    """What an answer looks like, without its content (which may hold customer data)."""
    if isinstance(body, dict):
        return "an object with keys " + ", ".join(sorted(map(str, body))[:8])
    if isinstance(body, list):
        kinds = sorted({type(item).__name__ for item in body})
        return f"a list of {len(body)} ({', '.join(kinds) or 'empty'})"
    return f"a {type(body).__name__}"


def list_tenants(api: XeroApi, conn: ApiConnection) -> list[dict]:
    """Every organisation the token reaches, optionally narrowed by ``extra.tenant_ids``."""
    tenants = api.tenants()
    wanted = conn.extra.get("tenant_ids")
    if wanted:
        tenants = [t for t in tenants if t["tenant_id"] in set(wanted)]
    if not tenants:
        raise XeroExtractError(
            f"Connection '{conn.conn_id}' reaches no Xero organisation; connect one in Xero (or fix extra.tenant_ids)."
        )
    return tenants


def sync_stream(
    api: XeroApi, tenant_id: str, stream: XeroStream, landing_root: Path, run_id: str, checkpoints: CheckpointStore
) -> LandingBatch:
    """Land every record of one stream changed since its checkpoint; checkpoint after each page."""
    mark = checkpoints.get("xero", tenant_id, stream.entity)
    since = mark - RUN_OVERLAP if mark else None
    page, part, records_total, missing_total, batch = 1, 0, 0, 0, None
    seen: set[tuple] = set()  # (id, UpdatedDateUTC) already landed by this run: the overlaps repeat some
    while True:
        body = api.page(tenant_id, stream, since, page)
        fetched = body.get(stream.collection, [])
        records = []
        for record in fetched:
            key = (record.get(stream.id_field), record.get("UpdatedDateUTC"))
            if key not in seen:
                seen.add(key)
                records.append(record)
        part += 1
        batch = write_batch(
            landing_root,
            run_id,
            "xero",
            stream.entity,
            tenant_id,
            ((r.get(stream.id_field), r.get("UpdatedDateUTC"), r) for r in records),
            part=part,
        )
        records_total += batch.records
        missing_total += batch.missing_id
        stamps = [t for t in (parse_xero_timestamp(r.get("UpdatedDateUTC")) for r in fetched) if t]
        if stamps:
            checkpoints.advance("xero", tenant_id, stream.entity, max(stamps))
        if int((body.get("pagination") or {}).get("pageCount") or 1) <= page or not fetched:
            break
        next_since = max(stamps) - TIE_OVERLAP if stamps else None
        if next_since is None or (since is not None and next_since <= since):
            page += 1  # a whole page inside one second: walk on by page number within it
        else:
            since, page = next_since, 1
    return LandingBatch("xero", stream.entity, tenant_id, batch.path.parent, records_total, missing_total)


def extract_organisation(
    api: XeroApi, tenant: dict, landing_root: Path, run_id: str, checkpoints: CheckpointStore
) -> OrganisationResult:
    result = OrganisationResult(tenant["tenant_id"], tenant.get("tenant_name", ""))
    limiter = api.limiter(tenant["tenant_id"])
    before = limiter.calls_made
    try:
        for stream in STREAMS:
            batch = sync_stream(api, tenant["tenant_id"], stream, landing_root, run_id, checkpoints)
            result.batches.append(batch)
            log.info(
                "xero %s: %d records for organisation %s (%s)",
                stream.entity,
                batch.records,
                result.tenant_name,
                result.tenant_id,
            )
    except XeroDayLimitReached as exc:
        result.status, result.message = "day_limit", str(exc)
        log.warning("%s", exc)
    result.calls = limiter.calls_made - before
    return result


def extract_xero(
    conn: ApiConnection,
    landing_root: Path,
    run_id: str,
    state_root: Path | None = None,
    clock: Clock | None = None,
    tenants: list[dict] | None = None,
    token_root: Path | None = None,
) -> list[OrganisationResult]:
    """Extract every AR stream of ``tenants`` (default: every organisation the token reaches). Checkpoints live
    under ``state_root``; the token store under ``token_root`` (default the same), which shards share."""
    state_root = state_root or landing_root.parent / "state"
    api = XeroApi(conn, token_store_path(conn, token_root or state_root), clock)
    tenants = tenants or list_tenants(api, conn)
    checkpoints = CheckpointStore(state_root)
    return [extract_organisation(api, t, landing_root, run_id, checkpoints) for t in tenants]


def token_store_path(conn: ApiConnection, state_root: Path) -> Path:
    """``extra.token_store`` if the connection names one, else a file under the state folder."""
    named = conn.extra.get("token_store")
    return Path(named) if named else state_root / "tokens" / f"{conn.conn_id}.json"
