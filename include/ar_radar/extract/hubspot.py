"""Extract HubSpot CRM objects through the official hubspot-api-client SDK.

* Incremental through the search API on ``hs_lastmodifieddate``, keyset-paged on (timestamp, object
  id): each request asks for records at or after the newest timestamp seen (never an ``after``
  offset, so edits during paging shift nothing and the 10,000-result cap is never reached), and a
  page that is all one timestamp is finished in ``hs_object_id`` order, so thousands of records
  sharing one timestamp are neither lost nor looped over. Each run re-reads a lookback before its
  high-water mark, because new writes reach the search index late.
* Associations (contact, deal, ticket, note to company) come from the v4 batch endpoint and are
  stored in the record under ``associations`` in the v3 shape. Archived (deleted) objects are listed
  with ``archived=true`` and landed as deletions.
* Limits: 100 requests per 10 s and 5 searches a second, kept client-side; a 429 (HubSpot often
  sends no ``Retry-After``) waits and retries, POST searches included.
* Records are read as raw JSON (``_preload_content=False``) so no property is lost; properties
  travel in the search body, not the URL, so long property lists cannot hit a 414.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import urllib3
from hubspot import HubSpot

from ar_radar.extract.checkpoints import CheckpointStore
from ar_radar.extract.connections import ApiConnection, ConnectionConfigError
from ar_radar.extract.http_retry import bounded_retry
from ar_radar.extract.landing import LandingBatch, write_batch
from ar_radar.extract.rate_limit import Clock, RateLimiter, Window, header_int

log = logging.getLogger(__name__)

HUBSPOT_HOST = "https://api.hubapi.com"
SEARCH_LIMIT = 200
ASSOCIATION_BATCH = 1000
LIST_LIMIT = 100
LOOKBACK = timedelta(minutes=10)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class HubSpotStream:
    entity: str
    api_path: tuple[str, ...]  # attribute path under client.crm to the object's discovery
    properties: tuple[str, ...]
    associate_companies: bool = True


STREAMS = (
    # ar_radar_relationship_tier: a custom company property finance may create (e.g. VIP); HubSpot ignores a
    # property that does not exist, so portals without it extract as before.
    HubSpotStream(
        "companies",
        ("companies",),
        (
            "name",
            "domain",
            "industry",
            "city",
            "country",
            "lifecyclestage",
            "ar_radar_relationship_tier",
            "ar_radar_reminders_opt_out",
        ),
        False,
    ),
    HubSpotStream("contacts", ("contacts",), ("email", "firstname", "lastname", "jobtitle", "hs_language")),
    HubSpotStream("deals", ("deals",), ("dealname", "amount", "dealstage", "closedate", "pipeline")),
    HubSpotStream(
        "tickets",
        ("tickets",),
        (
            "subject",
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_priority",
            "hs_ticket_category",
            "closed_date",
        ),
    ),
    HubSpotStream("notes", ("objects", "notes"), ("hs_note_body", "hs_timestamp")),
)


class HubSpotExtractError(RuntimeError):
    """Extraction failed; the message names the object type and what to do."""


def _ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class HubSpotApi:
    """The SDK client with HubSpot's limits and retries on every call, searches included."""

    def __init__(self, conn: ApiConnection, clock: Clock | None = None) -> None:
        if not conn.password:
            raise ConnectionConfigError(
                f"Airflow connection '{conn.conn_id}' needs the HubSpot private app access token as password."
            )
        self.client = HubSpot(
            access_token=conn.password, host=conn.extra.get("host", HUBSPOT_HOST), retry=bounded_retry()
        )
        self.clock = clock or Clock()
        # Passed on every call: the SDK sends timeout=None otherwise, which means "wait forever".
        self.timeout = (10.0, float(conn.extra.get("timeout_seconds", 60)))
        per_ten = int(conn.extra.get("requests_per_10s", 100))
        # Windows a little longer than HubSpot's: our clock and theirs never start a window together.
        self.calls = RateLimiter((Window(per_ten, 10.5),), in_flight=5, clock=self.clock)
        self.searches = RateLimiter((Window(5, 1.1),), in_flight=5, clock=self.clock)

    def call(self, what: str, fn: Callable[[], object], search: bool = False) -> dict:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.calls.slot():
                    if search:
                        with self.searches.slot():
                            response = fn()
                    else:
                        response = fn()
                return json.loads(response.data)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise HubSpotExtractError(
                    f"{what}: HubSpot did not answer ({type(exc).__name__}) after retries with backoff. "
                    "Re-run the task later."
                ) from None
            except Exception as exc:  # each SDK module has its own ApiException; all carry .status
                status = getattr(exc, "status", None)
                if status is None:
                    raise
                if status == 429 and attempt < MAX_ATTEMPTS:
                    wait = header_int(getattr(exc, "headers", None), "Retry-After") or min(10, 2 ** (attempt - 1))
                    log.warning("%s: HubSpot rate limit, waiting %d s (attempt %d)", what, wait, attempt)
                    (self.searches if search else self.calls).pause(wait)
                    continue
                hint = (
                    "the private app token in connection 'hubspot_default' is wrong or lacks the scope"
                    if status in (401, 403)
                    else "re-run the task"
                )
                raise HubSpotExtractError(f"{what} failed with HTTP {status}: {hint}.") from None
        raise HubSpotExtractError(f"{what}: still rate limited after {MAX_ATTEMPTS} attempts; re-run later.")

    def discovery(self, stream: HubSpotStream) -> object:
        api = self.client.crm
        for part in stream.api_path:
            api = getattr(api, part)
        return api


def _search_body(stream: HubSpotStream, groups: list[dict], sort_by: str, after: int) -> dict:
    return {
        "filterGroups": groups,
        "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
        "properties": list(stream.properties),
        "limit": SEARCH_LIMIT,
        "after": after,
    }


def search_changed(
    api: HubSpotApi, stream: HubSpotStream, since_ms: int | None, on_page: Callable[[list[dict]], None]
) -> None:
    """Every live record modified at or after ``since_ms`` (all of them when None), page by page to ``on_page``.

    Keyset paging, never ``after`` offsets: each request asks for records modified at or after the
    newest timestamp seen so far, so a record edited while we page (it jumps to the end) cannot push
    an unseen one into a page already read, and no query comes near the 10,000-result cap. A page
    made entirely of one timestamp (a bulk update) is finished in ``hs_object_id`` order instead.
    """
    search_api = api.discovery(stream).search_api

    def fetch(filters: list[dict], sort_by: str) -> list[dict]:
        body = _search_body(stream, [{"filters": filters}], sort_by, 0)
        page = api.call(
            f"HubSpot {stream.entity} search {filters}",
            lambda b=body: search_api.do_search(
                public_object_search_request=b, _preload_content=False, _request_timeout=api.timeout
            ),
            search=True,
        )
        results = page.get("results", [])
        on_page(results)
        return results

    def ts_filter(operator: str, ms: int) -> dict:
        return {"propertyName": "hs_lastmodifieddate", "operator": operator, "value": str(ms)}

    def drain_ties(ts: int) -> None:
        last_id = 0
        while True:
            found = fetch(
                [ts_filter("EQ", ts), {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}],
                "hs_object_id",
            )
            if len(found) < SEARCH_LIMIT:
                return
            last_id = max(int(r["id"]) for r in found)

    cursor, operator = since_ms or 0, "GTE"
    while True:
        found = fetch([ts_filter(operator, cursor)], "hs_lastmodifieddate")
        if len(found) < SEARCH_LIMIT:
            return
        stamps = [_ms(r["properties"]["hs_lastmodifieddate"]) for r in found]
        newest = max(stamps)
        if min(stamps) == newest:  # a whole page on one timestamp: finish it in id order, then move past it
            drain_ties(newest)
            cursor, operator = newest, "GT"
        else:  # re-read the newest timestamp: its other records may be on the next page
            cursor, operator = newest, "GTE"


def read_company_associations(api: HubSpotApi, stream: HubSpotStream, ids: list[str]) -> dict[str, list[str]]:
    """Company ids of each record, from the v4 batch endpoint (200 and 207 both carry results)."""
    batch_api = api.client.crm.associations.v4.batch_api
    links: dict[str, list[str]] = {}
    for start in range(0, len(ids), ASSOCIATION_BATCH):
        chunk = ids[start : start + ASSOCIATION_BATCH]
        body = {"inputs": [{"id": i} for i in chunk]}
        page = api.call(
            f"HubSpot {stream.entity} to companies associations",
            lambda b=body: batch_api.get_page(
                stream.entity,
                "companies",
                batch_input_public_fetch_associations_batch_request=b,
                _preload_content=False,
                _request_timeout=api.timeout,
            ),
        )
        for result in page.get("results", []):
            links[str(result["from"]["id"])] = [str(t["toObjectId"]) for t in result.get("to", [])]
    return links


def list_archived(api: HubSpotApi, stream: HubSpotStream) -> list[dict]:
    basic_api = api.discovery(stream).basic_api
    records, after = [], None
    while True:
        kwargs = {"limit": LIST_LIMIT, "archived": True, "_preload_content": False, "_request_timeout": api.timeout}
        if after:
            kwargs["after"] = after
        page = api.call(f"HubSpot archived {stream.entity}", lambda k=kwargs: basic_api.get_page(**k))
        records.extend(page.get("results", []))
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return records


def sync_stream(
    api: HubSpotApi, stream: HubSpotStream, portal: str, landing_root: Path, run_id: str, checkpoints: CheckpointStore
) -> LandingBatch:
    mark = checkpoints.get("hubspot", portal, stream.entity)
    since_ms = int((mark - LOOKBACK).timestamp() * 1000) if mark else None
    seen: dict[str, dict] = {}

    def keep(page: list[dict]) -> None:
        for record in page:
            seen[record["id"]] = record

    search_changed(api, stream, since_ms, keep)
    records = list(seen.values())
    if stream.associate_companies and records:
        links = read_company_associations(api, stream, [r["id"] for r in records])
        for record in records:
            companies = links.get(record["id"], [])
            record["associations"] = {
                "companies": {
                    "results": [{"id": c, "type": f"{stream.entity.rstrip('s')}_to_company"} for c in companies]
                }
            }
    records += list_archived(api, stream)
    batch = write_batch(
        landing_root, run_id, "hubspot", stream.entity, portal, ((r.get("id"), r.get("updatedAt"), r) for r in records)
    )
    stamps = [r["properties"].get("hs_lastmodifieddate") for r in seen.values()]
    if stamps := [s for s in stamps if s]:
        newest = max(_ms(s) for s in stamps)
        checkpoints.advance("hubspot", portal, stream.entity, datetime.fromtimestamp(newest / 1000, tz=UTC))
    return LandingBatch(batch.source, batch.entity, batch.tenant_id, batch.path.parent, batch.records, batch.missing_id)


def extract_hubspot(
    conn: ApiConnection, landing_root: Path, run_id: str, state_root: Path | None = None, clock: Clock | None = None
) -> list[LandingBatch]:
    api = HubSpotApi(conn, clock)
    portal = str(conn.extra.get("portal_id", "default"))
    checkpoints = CheckpointStore(state_root or landing_root.parent / "state")
    batches = []
    for stream in STREAMS:
        batch = sync_stream(api, stream, portal, landing_root, run_id, checkpoints)
        log.info("hubspot %s: %d records", stream.entity, batch.records)
        batches.append(batch)
    return batches
