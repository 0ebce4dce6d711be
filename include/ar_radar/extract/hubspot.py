"""Extract HubSpot CRM objects through the official hubspot-api-client SDK.

Records are read as raw JSON (``_preload_content=False``) so no property is lost, with the
company associations of contacts, deals, tickets and notes inline.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from hubspot import HubSpot

from ar_radar.connections import ApiConnection, ConnectionConfigError
from ar_radar.extract.http_retry import bounded_retry
from ar_radar.landing import LandingBatch, write_batch

log = logging.getLogger(__name__)

HUBSPOT_HOST = "https://api.hubapi.com"
PAGE_LIMIT = 100


@dataclass(frozen=True)
class HubSpotStream:
    entity: str
    api_path: tuple[str, ...]  # attribute path under client.crm to the object's discovery
    properties: tuple[str, ...]
    associations: tuple[str, ...] = ()


STREAMS = (
    HubSpotStream("companies", ("companies",), ("name", "domain", "industry", "city", "lifecyclestage")),
    HubSpotStream("contacts", ("contacts",), ("email", "firstname", "lastname", "jobtitle"), ("companies",)),
    HubSpotStream("deals", ("deals",), ("dealname", "amount", "dealstage", "closedate", "pipeline"), ("companies",)),
    HubSpotStream(
        "tickets",
        ("tickets",),
        ("subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "hs_ticket_category"),
        ("companies",),
    ),
    HubSpotStream("notes", ("objects", "notes"), ("hs_note_body", "hs_timestamp"), ("companies",)),
)


class HubSpotExtractError(RuntimeError):
    """Extraction failed; the message names the object type and what to do."""


def client_for(conn: ApiConnection) -> HubSpot:
    if not conn.password:
        raise ConnectionConfigError(
            f"Airflow connection '{conn.conn_id}' needs the HubSpot private app access token as password."
        )
    return HubSpot(access_token=conn.password, host=conn.extra.get("host", HUBSPOT_HOST), retry=bounded_retry())


def fetch_stream(client: HubSpot, stream: HubSpotStream) -> list[dict]:
    api = client.crm
    for part in stream.api_path:
        api = getattr(api, part)
    basic_api = api.basic_api
    records: list[dict] = []
    after = None
    while True:
        kwargs = {
            "limit": PAGE_LIMIT,
            "properties": list(stream.properties),
            "archived": False,
            "_preload_content": False,
        }
        if stream.associations:
            kwargs["associations"] = list(stream.associations)
        if after:
            kwargs["after"] = after
        try:
            response = basic_api.get_page(**kwargs)
        except Exception as exc:  # each object API has its own ApiException class
            status = getattr(exc, "status", "error")
            raise HubSpotExtractError(
                f"HubSpot {stream.entity} page after={after} failed with HTTP {status}. If 401, the "
                "private app token in connection 'hubspot_default' is wrong or lacks the crm.objects."
                f"{stream.entity}.read scope; otherwise re-run the task."
            ) from None
        body = json.loads(response.data)
        records.extend(body.get("results", []))
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return records


def extract_hubspot(conn: ApiConnection, landing_root: Path, run_id: str) -> list[LandingBatch]:
    client = client_for(conn)
    portal = str(conn.extra.get("portal_id", "default"))
    batches = []
    for stream in STREAMS:
        records = fetch_stream(client, stream)
        batch = write_batch(
            landing_root,
            run_id,
            "hubspot",
            stream.entity,
            portal,
            ((r.get("id"), r.get("updatedAt"), r) for r in records),
        )
        log.info("hubspot %s: %d records", stream.entity, batch.records)
        batches.append(batch)
    return batches
